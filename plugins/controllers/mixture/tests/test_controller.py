"""The mixture controller: labels, mixes, timelines, AU overrides, from_audio, config."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.emotions import EMOTIONS, parse_emotion
from emoavatar.errors import EmotionError
from emoavatar.interfaces import RunContext
from emoavatar.types import AudioFeatures
from emoavatar_mixture.spec import SPEC, MixtureConfig
from pydantic import ValidationError

PROSODY_NAMES = ("rms", "loudness", "pitch", "voicing", "speech")


@pytest.fixture
def controller():
    return SPEC.build({})


def ctx(n: int = 100, fps: float = 25.0) -> RunContext:
    return RunContext(fps=fps, n_frames=n, seed=0)


def prosody(loudness, pitch, speech=None, fps: float = 25.0) -> AudioFeatures:
    n = len(loudness)
    speech = np.ones(n) if speech is None else np.asarray(speech, float)
    values = np.stack([np.asarray(loudness) * 0.8, loudness, pitch, speech, speech], 1)
    return AudioFeatures(values, "prosody", fps, names=PROSODY_NAMES)


def test_contract(controller):
    from emoavatar.testing.contracts import check_controller

    check_controller(controller)


def test_label_gives_one_hot_rows(controller):
    st = controller.control(parse_emotion("anger"), {}, ctx(60))
    assert st.weights.shape == (60, len(EMOTIONS))
    expected = np.eye(len(EMOTIONS))[EMOTIONS.index("angry")]
    np.testing.assert_allclose(st.weights, np.tile(expected, (60, 1)), atol=1e-6)
    np.testing.assert_allclose(st.intensity, 1.0)
    assert st.au is None


def test_mix_weights_and_intensity_are_separate(controller):
    st = controller.control(parse_emotion({"mix": {"happy": 0.6, "surprised": 0.4}, "intensity": 0.5}), {}, ctx(40))
    np.testing.assert_allclose(st.weight("happy"), 0.6, atol=1e-5)
    np.testing.assert_allclose(st.weight("surprised"), 0.4, atol=1e-5)
    np.testing.assert_allclose(st.weight("neutral"), 0.0, atol=1e-6)  # intensity does not leak into neutral
    np.testing.assert_allclose(st.intensity, 0.5, atol=1e-6)


@pytest.mark.parametrize("switch,transition", [(2.0, 0.3), (1.37, 0.8), (3.0, 0.0)])
def test_timeline_switches_near_requested_time(controller, switch, transition):
    req = parse_emotion({"timeline": [{"at": 0, "emotion": "neutral"}, {"at": switch, "emotion": "sad"}],
                         "transition": transition})
    c = ctx(125)
    sad = controller.control(req, {}, c).weight("sad")
    crossing = np.argmax(sad >= 0.5) / c.fps
    assert abs(crossing - switch) <= max(transition / 2, 1 / c.fps) + 1e-6
    assert sad[0] < 0.01 and sad[-1] > 0.99
    assert np.all(np.diff(sad) >= -1e-6)  # a smooth monotone cross-fade, no overshoot
    if transition >= 0.3:  # spread over several frames, not a jump
        assert np.max(np.diff(sad)) < 0.5


def test_timeline_segment_intensity(controller):
    req = parse_emotion([{"at": 0, "emotion": "happy", "intensity": 0.2}, {"at": 2, "emotion": "happy"}])
    st = controller.control(req, {}, ctx(100))
    assert st.intensity[0] == pytest.approx(0.2, abs=1e-3)
    assert st.intensity[-1] == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(st.weight("happy"), 1.0, atol=1e-5)


def test_au_override_in_au_track(controller):
    st = controller.control(parse_emotion({"emotion": "happy", "au": {"AU12": 0.8, "au1": 0.3}}), {}, ctx(30))
    assert st.au is not None and st.au.shape == (30, len(st.au_names))
    np.testing.assert_allclose(st.au[:, st.au_names.index("AU12")], 0.8)
    np.testing.assert_allclose(st.au[:, st.au_names.index("AU1")], 0.3, atol=1e-6)
    others = [i for i, n in enumerate(st.au_names) if n not in ("AU12", "AU1")]
    assert np.isnan(st.au[:, others]).all()


def test_from_audio_without_prosody_names_the_encoder(controller):
    with pytest.raises(EmotionError, match="prosody"):
        controller.control(parse_emotion("from_audio"), {}, ctx(20))


def test_from_audio_heuristic_follows_arousal(controller):
    n = 150
    t = np.arange(n) / 25.0
    calm = prosody(np.full(n, 0.78), 1.5 * np.sin(2 * np.pi * 0.7 * t))
    lively = prosody(np.full(n, 0.85), 7.0 * np.sin(2 * np.pi * 1.3 * t) + 2.0)
    flat_loud = prosody(np.full(n, 0.97), 0.4 * np.sin(2 * np.pi * 0.5 * t))
    quiet_low = prosody(np.full(n, 0.45), 0.6 * np.sin(2 * np.pi * 0.5 * t) - 2.0)
    out = {k: controller.control(parse_emotion("from_audio"), {"features:prosody": f}, ctx(n))
           for k, f in {"calm": calm, "lively": lively, "flat_loud": flat_loud, "quiet_low": quiet_low}.items()}
    mid = slice(40, 110)
    for st in out.values():
        assert np.allclose(st.weights.sum(1), 1, atol=1e-4)
    assert out["calm"].weight("neutral")[mid].mean() > 0.5
    lively = out["lively"]
    assert (lively.weight("happy") + lively.weight("surprised"))[mid].mean() > 0.5
    assert out["flat_loud"].weight("angry")[mid].mean() > 0.4
    assert out["quiet_low"].weight("sad")[mid].mean() > 0.4


def test_from_audio_silence_is_neutral(controller):
    n = 100
    feats = prosody(np.zeros(n), np.zeros(n), speech=np.zeros(n))
    st = controller.control(parse_emotion("from_audio"), {"features:prosody": feats}, ctx(n))
    assert st.weight("neutral").min() > 0.9


def test_config_validation():
    assert MixtureConfig(text_prototypes={"joy": ["yay"]}).text_prototypes == {"happy": ["yay"]}
    with pytest.raises(ValidationError):
        MixtureConfig(text_prototypes={"bored": ["meh"]})
    with pytest.raises(ValidationError):
        MixtureConfig(smoothing=-1)
    with pytest.raises(ValidationError):
        MixtureConfig(colour="red")


def test_spec_ports():
    assert SPEC.kind == "controllers" and SPEC.name == "mixture"
    assert SPEC.produces == ("emotion",) and "features:prosody" in SPEC.optional


def test_region_request_gives_each_named_region_its_mix(controller):
    st = controller.control(parse_emotion({"emotion": "sad", "regions": {"mouth": "happy", "brows": "surprised"}}), {},
                            ctx(20))
    assert st.regions == ("mouth", "brows") and st.weights[0, EMOTIONS.index("sad")] == pytest.approx(1.0)
    assert st.region("mouth")[5, EMOTIONS.index("happy")] == 1.0 and st.region("brows")[5, EMOTIONS.index("surprised")] == 1.0
    assert st.region("eyes") is st.weights  # not named: the global emotion
    assert controller.control(parse_emotion("happy"), {}, ctx(5)).region_weights is None
