"""Hallo's audio layout (all wav2vec2 layers, from hf-speech `layers: all`) and classifier-free guidance,
at the tiny config with random weights (no download: the wav2vec2 is a tiny random config built here)."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.interfaces import RunContext

LAYERS, CHANNELS = 2, 8


@pytest.fixture(scope="module")
def tiny_wav2vec2(tmp_path_factory):
    pytest.importorskip("emoavatar_hfspeech")
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w2v2")
    Wav2Vec2Model(Wav2Vec2Config(hidden_size=CHANNELS, num_hidden_layers=LAYERS, num_attention_heads=2, intermediate_size=16,
                                 conv_dim=(8,) * 7, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
                  ).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def hallo_checkpoint(tmp_path_factory):
    """A random tiny Net whose audio projection takes windows of 3 frames x LAYERS layers x CHANNELS."""
    import torch
    from emoavatar_diffusion.backbone import BackboneConfig, Net
    from emoavatar_diffusion.checkpoint import save_checkpoint
    from emoavatar_diffusion.sampling import tiny_vae

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("moee_hallo_audio")
    net = Net(BackboneConfig.tiny(audio_channels=CHANNELS, audio_blocks=LAYERS))
    for p in net.parameters():  # the zero-initialised output convs would hide the conditions: randomise all
        torch.nn.init.normal_(p, std=0.2)
    save_checkpoint(d, net, tiny_vae(), {"stage": 0, "step": 0, "resolution": 32})
    return d


def _renderer(checkpoint, **kw):
    from emoavatar_diffusion.renderer import MoEEDiffusionRenderer
    from emoavatar_diffusion.spec import DiffusionConfig

    return MoEEDiffusionRenderer(DiffusionConfig(checkpoint=str(checkpoint), clip_frames=3, motion_frames=2,
                                                 device="cpu", **{"steps": 2, **kw}))


@pytest.fixture(scope="module")
def hallo_motion(tiny_wav2vec2):
    """hf-speech (all layers) -> moee-motion: the moee-cond track of the kit speech, and the per-layer features."""
    import torch
    from emoavatar.emotions import EMOTIONS
    from emoavatar.testing.data import kit_speech_path
    from emoavatar.types import Audio, EmotionState, FeatureSet
    from emoavatar_diffusion.motion import MoEEMotion
    from emoavatar_diffusion.spec import MoEEMotionConfig
    from emoavatar_hfspeech.spec import SPEC

    torch.set_num_threads(1)
    kit_audio = Audio.load(kit_speech_path())
    ctx = RunContext(fps=25.0, n_frames=kit_audio.n_frames(25.0))
    feats = FeatureSet()
    feats.add(SPEC.build({"model": str(tiny_wav2vec2), "kind": "wav2vec2", "layers": "all"}).encode(kit_audio, ctx))
    w = np.zeros((ctx.n_frames, len(EMOTIONS)), np.float32)
    w[:, EMOTIONS.index("happy")] = 1
    motion = MoEEMotion(MoEEMotionConfig(window=3)).generate(feats, EmotionState(w, np.ones(ctx.n_frames)), None, ctx)
    return motion, feats["wav2vec2"].values


def test_all_wav2vec2_layers_reach_the_audio_projection_in_hallos_layout(hallo_checkpoint, hallo_motion, kit_portrait):
    motion, values = hallo_motion
    assert motion.meta["audio_layers"] == LAYERS and motion.tracks["audio"].shape[1:] == (3, LAYERS * CHANNELS)
    r = _renderer(hallo_checkpoint)
    r.prepare(kit_portrait)
    cond = r.condition(motion.slice(10, 13))
    assert tuple(cond.audio.shape) == (3, 3, LAYERS, CHANNELS)  # Hallo: [f, window 5, 12 layers, 768]
    per_layer = values.reshape(len(values), LAYERS, CHANNELS)
    # frame 11 of the slice's window position 0 is frame 10 (t - 1), layer l is hidden_states[l + 1]
    assert np.allclose(cond.audio[1, 0].numpy(), per_layer[10]) and np.allclose(cond.audio[1, 2].numpy(), per_layer[12])
    frames = r.render(motion.slice(10, 13))
    assert frames.shape == (3, kit_portrait.height, kit_portrait.width, 3)


def test_one_layer_features_are_refused_by_a_multi_layer_backbone(hallo_checkpoint, hallo_motion, kit_portrait):
    from emoavatar.errors import PortError
    from emoavatar.types import Motion

    motion, _ = hallo_motion
    one = Motion(motion.space, motion.tracks, motion.fps, {**motion.meta, "audio_layers": 1})
    r = _renderer(hallo_checkpoint)
    r.prepare(kit_portrait)
    with pytest.raises(PortError, match="layers: all"):
        r.render(one.slice(0, 3))


def test_classifier_free_guidance(hallo_checkpoint, hallo_motion, kit_portrait):
    """scale 1 = the conditional model; scale 0 = the unconditional branch, i.e. the conditional model given
    zero audio (Hallo's unconditional input); 3.5 differs from both."""
    from emoavatar.types import Motion

    motion, _ = hallo_motion
    clip = motion.slice(20, 23)

    def render(m, **kw):  # the generated head crop (the rest of the frame is the portrait)
        r = _renderer(hallo_checkpoint, **kw)
        r.prepare(kit_portrait)
        x0, y0, side = r._crop
        return r.render(m)[:, y0:y0 + side, x0:x0 + side].astype(np.float32)

    plain, one = render(clip), render(clip, guidance=1.0)
    assert np.array_equal(plain, one)
    silent = Motion(clip.space, {**clip.tracks, "audio": np.zeros_like(clip.tracks["audio"])}, clip.fps, clip.meta)
    zero, no_audio = render(clip, guidance=0.0), render(silent)
    same, audio_effect = np.abs(zero - no_audio).mean(), np.abs(plain - no_audio).mean()
    guided = render(clip, guidance=3.5)
    print(f"guidance 0 vs zero audio {same:.3f}, audio effect {audio_effect:.3f}, 3.5 vs 1 {np.abs(guided - plain).mean():.3f}")
    assert np.abs(zero - no_audio).max() <= 2.0  # the same sampling up to float rounding of v_u + 0 (v_c - v_u)
    assert audio_effect > 0.2 and audio_effect > 20 * same  # the audio matters in this random net
    assert np.abs(guided - plain).mean() > 0.5 and np.abs(guided - no_audio).mean() > 0.5
