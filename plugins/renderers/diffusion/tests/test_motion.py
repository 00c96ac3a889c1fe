"""moee-motion: EmotionState (+ features) -> the moee-cond space; and the renderer's port checks."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.emotions import EMOTIONS
from emoavatar.interfaces import RunContext
from emoavatar.types import AudioFeatures, EmotionState, FeatureSet


def _state(t: int, mix: dict) -> EmotionState:
    w = np.zeros((t, len(EMOTIONS)), np.float32)
    for k, v in mix.items():
        w[:, EMOTIONS.index(k)] = v
    return EmotionState(w, np.ones(t))


def test_gates_restrict_to_the_six_experts_and_windows_stack_neighbours(kit_portrait):
    from emoavatar_diffusion.motion import EXPERTS, MoEEMotion
    from emoavatar_diffusion.spec import MoEEMotionConfig

    t = 7
    feats = FeatureSet()
    feats.add(AudioFeatures(np.arange(t * 2, dtype=np.float32).reshape(t, 2), "wav2vec2", 25.0))
    gen = MoEEMotion(MoEEMotionConfig(window=3))
    m = gen.generate(feats, _state(t, {"happy": 0.3, "surprised": 0.3, "neutral": 0.4}), kit_portrait,
                     RunContext(n_frames=t))
    g = m.tracks["moee-cond"]
    assert g.shape == (t, 6) and np.allclose(g.sum(1), 1)
    assert np.allclose(g[:, EXPERTS.index("happy")], 0.5) and np.allclose(g[:, EXPERTS.index("surprised")], 0.5)
    a = m.tracks["audio"]
    assert a.shape == (t, 3, 2)
    assert np.allclose(a[3, 0], feats["wav2vec2"].values[2]) and np.allclose(a[0, 0], feats["wav2vec2"].values[0])
    assert "regions" not in m.tracks


def test_region_weights_become_region_gates_when_the_controller_sends_them(kit_portrait):
    from emoavatar_diffusion.motion import EXPERTS, MoEEMotion
    from emoavatar_diffusion.spec import MoEEMotionConfig

    t = 3
    state = _state(t, {"happy": 0.5, "surprised": 0.5})
    rw = np.zeros((t, 2, len(EMOTIONS)), np.float32)
    rw[:, 0, EMOTIONS.index("surprised")] = 1  # brows
    rw[:, 1, EMOTIONS.index("happy")] = 1  # mouth
    state.regions, state.region_weights = ("brows", "mouth"), rw  # the controller's optional fields
    m = MoEEMotion(MoEEMotionConfig(audio=None)).generate(FeatureSet(), state, kit_portrait, RunContext(n_frames=t))
    assert m.meta["regions"] == ("brows", "mouth")
    assert m.tracks["regions"][0, 0].argmax() == EXPERTS.index("surprised")

    from emoavatar_diffusion.face import region_prior

    lm = (kit_portrait.face.landmarks - kit_portrait.face.landmarks.min(0)) / np.ptp(kit_portrait.face.landmarks, 0).max()
    prior = region_prior(lm, 32, m.meta["regions"], m.tracks["moee-cond"], m.tracks["regions"])
    brow = (lm[17:27].mean(0) * 32).astype(int)
    mouth = (lm[48:68].mean(0) * 32).astype(int)
    assert prior[0, brow[1], brow[0]].argmax() == EXPERTS.index("surprised")
    assert prior[0, mouth[1], mouth[0]].argmax() == EXPERTS.index("happy")


def test_missing_audio_features_is_a_clear_error(kit_portrait):
    from emoavatar.errors import ConfigError
    from emoavatar_diffusion.motion import MoEEMotion
    from emoavatar_diffusion.spec import MoEEMotionConfig

    with pytest.raises(ConfigError, match="features:wav2vec2"):
        MoEEMotion(MoEEMotionConfig()).generate(FeatureSet(), _state(2, {"happy": 1}), kit_portrait, RunContext(n_frames=2))


def test_renderer_without_weights_names_what_is_missing():
    from emoavatar.errors import WeightsNotFoundError
    from emoavatar_diffusion.renderer import MoEEDiffusionRenderer
    from emoavatar_diffusion.spec import DiffusionConfig

    with pytest.raises(WeightsNotFoundError, match="net.pth"):
        MoEEDiffusionRenderer(DiffusionConfig())._load()
    with pytest.raises(WeightsNotFoundError, match="net.pth"):
        MoEEDiffusionRenderer(DiffusionConfig(backbone="/nonexistent/net.pth"))._load()


def test_a_landmarks68_stage_before_it_gives_the_renderer_per_frame_head_landmarks(kit_portrait):
    """In a chain after facs-rig, moee-motion passes the head's per-frame landmarks on (declared optional port);
    the renderer draws its face-locator input and masks from them (moved with the head), else from the portrait."""
    from emoavatar.ports import PortView
    from emoavatar.types import Motion
    from emoavatar_diffusion.face import frame_masks
    from emoavatar_diffusion.motion import MoEEMotion
    from emoavatar_diffusion.spec import MOTION_SPEC, MoEEMotionConfig

    t = 4
    lm = np.repeat(np.asarray(kit_portrait.face.landmarks, np.float32)[None], t, 0)
    lm[:, :, 0] += np.arange(t)[:, None] * 10.0  # the head moves 10 px right per frame
    head = Motion("landmarks68", {"landmarks68": lm}, 25.0)
    ctx = RunContext(n_frames=t)
    ctx.ports = PortView({"motion:landmarks68": head}, tuple(MOTION_SPEC.consumes) + tuple(MOTION_SPEC.optional), "moee")
    gen = MoEEMotion(MoEEMotionConfig(audio=None))
    m = gen.generate(FeatureSet(), _state(t, {"happy": 1}), kit_portrait, ctx)
    assert np.array_equal(m.tracks["landmarks"], lm)
    assert "landmarks" not in gen.generate(FeatureSet(), _state(t, {"happy": 1}), kit_portrait, RunContext(n_frames=t)).tracks

    # face.frame_masks: the locator's face box follows the landmarks frame by frame
    side = 4 * np.ptp(lm[0], 0).max()
    masks, locator = frame_masks((lm - lm[0].min(0) + side / 4) / side, 16)
    assert locator.shape == (t, 3, 128, 128) and masks["face"].shape == (t, 16, 16)
    cols = [np.nonzero(locator[i, 0].any(0))[0] for i in range(t)]
    assert all(c2[0] > c1[0] and c2[-1] > c1[-1] for c1, c2 in zip(cols, cols[1:]))
