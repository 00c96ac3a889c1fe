"""The moee controller: latents, soft global-local gates, region requests, AU prompts, config."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.emotions import EMOTIONS, parse_emotion
from emoavatar.errors import EmotionError
from emoavatar.interfaces import RunContext
from emoavatar.types import AudioFeatures
from emoavatar_moee.spec import SPEC
from pydantic import ValidationError

E = {e: i for i, e in enumerate(EMOTIONS)}


@pytest.fixture(scope="module")
def controller():
    return SPEC.build({})


def ctx(n: int = 40) -> RunContext:
    return RunContext(fps=25.0, n_frames=n, seed=0)


def run(controller, spec, features=None, n: int = 40):
    return controller.control(parse_emotion(spec), features or {}, ctx(n))


def test_contract(controller):
    from emoavatar.testing.contracts import check_controller

    check_controller(controller)


def test_label_gates_its_expert_everywhere(controller):
    st = run(controller, "surprise")
    assert st.weights[:, E["surprised"]].min() > 0.99
    assert st.regions == ("brows", "eyes", "mouth") and st.region_weights.shape == (40, 3, len(EMOTIONS))
    assert np.allclose(st.region_weights, st.weights[:, None], atol=1e-4)  # no regional difference asked
    assert st.latent.shape == (40, 64) and np.abs(st.latent).max() > 0.1
    assert run(controller, "neutral").weights[:, E["neutral"]].min() > 0.99
    assert np.abs(run(controller, "neutral").latent).max() < 1e-6


def test_compound_mix_is_a_soft_mixture_of_its_experts(controller):
    w = run(controller, {"happy": 0.6, "surprised": 0.4}).weights
    assert w[:, E["happy"]] == pytest.approx(np.full(40, 0.6), abs=0.02)
    assert w[:, E["surprised"]] == pytest.approx(np.full(40, 0.4), abs=0.02)
    sharp = SPEC.build({"gate_temperature": 0.5}).control(parse_emotion({"happy": 0.6, "surprised": 0.4}), {}, ctx())
    assert sharp.weights[0, E["happy"]] > 0.65  # T < 1 sharpens


def test_region_request_gates_each_region(controller):
    st = run(controller, {"regions": {"mouth": "happy", "brows": "surprised"}})
    brows, eyes, mouth = (st.region(r) for r in ("brows", "eyes", "mouth"))
    assert mouth[:, E["happy"]].min() > 0.9 and brows[:, E["surprised"]].min() > 0.9
    assert eyes[:, E["neutral"]].min() > 0.6  # not named: the base emotion (neutral)
    g = st.weights[0]
    assert g[E["happy"]] > 0.2 and g[E["surprised"]] > 0.2  # the global gate sees both
    with pytest.raises(EmotionError, match="region"):
        run(controller, {"regions": {"nose": "happy"}})
    with pytest.raises(EmotionError, match="region gates"):
        run(controller, {"text": "so happy", "regions": {"mouth": "sad"}})


def test_au_prompt_moves_the_latent_to_the_matching_expert(controller):
    st = run(controller, "AU6+AU12, strong")
    assert st.dominant()[0] == "happy"
    assert st.au[0, st.au_names.index("AU12")] == pytest.approx(0.85) and np.isnan(st.au[0, st.au_names.index("AU1")])
    assert run(controller, "AU1+AU2+AU5+AU26").dominant()[0] == "surprised"
    assert run(controller, {"emotion": "sad", "au": {"AU12": 0.3}}).dominant()[0] == "sad"


def test_emotion_without_an_expert_passes_through(controller):
    st = run(controller, {"contempt": 0.5, "happy": 0.5})
    assert st.weights[0, E["contempt"]] == pytest.approx(0.5, abs=0.01)
    assert st.weights[0, E["happy"]] == pytest.approx(0.5, abs=0.01)
    seven = SPEC.build({"experts": [*SPEC.config().experts, "contempt"]})
    assert seven.control(parse_emotion("contempt"), {}, ctx()).weights[0, E["contempt"]] > 0.99


def test_timeline_switches(controller):
    st = run(controller, [{"at": 0, "emotion": "sad"}, {"at": 1.0, "emotion": "angry"}], n=50)
    assert st.dominant()[5] == "sad" and st.dominant()[45] == "angry"


def test_from_audio_needs_features_and_reads_neutral_untrained(controller):
    with pytest.raises(EmotionError, match="from_audio"):
        run(controller, "from_audio")
    f = AudioFeatures(np.random.default_rng(0).random((40, 5)), "prosody", 25.0)
    with pytest.warns(UserWarning, match="no trained audio head"):
        st = run(controller, "from_audio", {"features:prosody": f})
    assert st.weights[:, E["neutral"]].min() > 0.99


def test_text_prompt_without_a_label_picks_the_right_expert(controller):
    for text, want in (("I can't stop smiling today", "happy"), ("I just want to cry", "sad"),
                       ("Get out of my sight, I'm furious", "angry")):
        st = run(controller, {"text": text}, n=5)
        assert st.dominant()[0] == want, (text, dict(zip(EMOTIONS, st.weights[0].round(2))))


def test_config_is_checked():
    for bad in ({"experts": ["happy"]}, {"experts": ["neutral", "sad"]}, {"experts": ["glee", "sad"]},
                {"audio_features": ["mfcc"]}, {"latent_dim": 2}, {"what": 1}):
        with pytest.raises(ValidationError):
            SPEC.config.model_validate(bad)


def test_missing_checkpoint_is_a_weights_error(tmp_path):
    from emoavatar.errors import WeightsNotFoundError

    c = SPEC.build({"weights": str(tmp_path / "none.safetensors")})
    with pytest.raises(WeightsNotFoundError, match="moee-latents"):
        run(c, "happy")


def test_any_from_pretrained_text_encoder_and_the_anchor_cache(tmp_path, monkeypatch):
    """A tiny random BERT saved as a transformers folder drives eq. T; anchors are cached on disk."""
    from transformers import BertConfig, BertModel, BertTokenizerFast

    words = sorted({w.strip(".,!?'").lower() for s in ["I can't stop smiling today"] for w in s.split()})
    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(tmp_path / "bert")
    BertModel(BertConfig(vocab_size=5 + len(words), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32)).save_pretrained(tmp_path / "bert")
    monkeypatch.setenv("EMOAVATAR_CACHE", str(tmp_path / "cache"))
    c = SPEC.build({"text_model": str(tmp_path / "bert")})
    st = run(c, {"text": "I can't stop smiling today"}, n=3)
    assert np.allclose(st.weights.sum(1), 1.0) and c.model.latents.text_keys.shape[1] == 16
    assert len(list((tmp_path / "cache" / "moee").glob("text-anchors-*.npy"))) == 1
    from emoavatar.errors import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match="text encoder"):
        run(SPEC.build({"text_model": str(tmp_path / "missing")}), {"text": "hello"}, n=3)


def test_emit_aus_gives_the_gated_experts_au_patterns():
    from emoavatar_moee.facs import AU_CHANNELS, PROTOTYPES

    c = SPEC.build({"emit_aus": True})
    st = c.control(parse_emotion({"emotion": "happy", "intensity": 0.5}), {}, ctx(10))
    assert st.au_names == AU_CHANNELS and np.isfinite(st.au).all()
    want = np.array([0.5 * PROTOTYPES["happy"].get(a, 0.0) for a in AU_CHANNELS])
    assert np.allclose(st.au[5], want, atol=1e-3)
    a = dict(zip(AU_CHANNELS, c.control(parse_emotion({"regions": {"mouth": "happy", "brows": "surprised"}}), {},
                                        ctx(10)).au[5]))
    assert a["AU2"] > 0.9 and a["AU12"] > 0.9 and a["AU5"] < 0.1 and a["AU26"] < 0.1
    a = dict(zip(AU_CHANNELS, c.control(parse_emotion({"emotion": "happy", "au": {"AU12": 0.3}}), {}, ctx(10)).au[5]))
    assert a["AU12"] == pytest.approx(0.3) and a["AU6"] > 0.7  # the request's target wins on its channel
