"""The renderer at the tiny config with random weights: the kit's renderer contract, clips + motion
frames across chunks, paste-back, and port errors."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory):
    import torch
    from emoavatar_diffusion.backbone import BackboneConfig, Net
    from emoavatar_diffusion.checkpoint import save_checkpoint
    from emoavatar_diffusion.sampling import tiny_vae

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("moee_random")
    save_checkpoint(d, Net(BackboneConfig.tiny(8)), tiny_vae(), {"stage": 0, "step": 0, "resolution": 32})
    return d


def _motion(t: int, d: int = 8):
    from emoavatar.types import Motion

    rng = np.random.default_rng(0)
    gates = np.zeros((t, 6), np.float32)
    gates[:, 0] = 1
    return Motion("moee-cond", {"moee-cond": gates, "intensity": np.ones(t, np.float32),
                                "audio": rng.standard_normal((t, 3, d)).astype(np.float32)}, 25.0)


def test_renderer_contract_and_paste_back(random_checkpoint, kit_portrait):
    import torch
    from emoavatar.testing.contracts import check_renderer
    from emoavatar_diffusion.face import head_crop
    from emoavatar_diffusion.renderer import MoEEDiffusionRenderer
    from emoavatar_diffusion.spec import DiffusionConfig

    torch.set_num_threads(1)
    r = MoEEDiffusionRenderer(DiffusionConfig(checkpoint=str(random_checkpoint), steps=2, clip_frames=3, motion_frames=2))
    frames = check_renderer(r, kit_portrait, _motion(7))
    assert frames.shape == (7, kit_portrait.height, kit_portrait.width, 3)
    x0, y0, side = head_crop(np.asarray(kit_portrait.face.landmarks, np.float64), kit_portrait.height, kit_portrait.width)
    outside = np.ones(frames.shape[1:3], bool)
    outside[y0:y0 + side, x0:x0 + side] = False
    assert np.array_equal(frames[:, outside], np.broadcast_to(kit_portrait.image[outside], frames[:, outside].shape))
    # the last 2 frames (across a 1-frame last clip) are kept as the next clip's motion frames
    assert r._prev is not None and r._prev.shape[0] == 2


def test_wrong_space_and_audio_width_are_port_errors(random_checkpoint, kit_portrait):
    from emoavatar.errors import PortError
    from emoavatar.types import Motion
    from emoavatar_diffusion.renderer import MoEEDiffusionRenderer
    from emoavatar_diffusion.spec import DiffusionConfig

    r = MoEEDiffusionRenderer(DiffusionConfig(checkpoint=str(random_checkpoint), steps=1, clip_frames=2))
    r.prepare(kit_portrait)
    with pytest.raises(PortError, match="moee-cond"):
        r.render(Motion("landmarks68", {"landmarks68": np.zeros((2, 68, 2))}, 25.0))
    with pytest.raises(PortError, match="wav2vec2"):
        r.render(_motion(2, d=5))


def test_a_landmarks_track_moves_the_face_locator_input_with_the_head(random_checkpoint, kit_portrait):
    from emoavatar_diffusion.renderer import MoEEDiffusionRenderer
    from emoavatar_diffusion.spec import DiffusionConfig

    r = MoEEDiffusionRenderer(DiffusionConfig(checkpoint=str(random_checkpoint), steps=1, clip_frames=2))
    r.prepare(kit_portrait)
    static = r.condition(_motion(2))
    assert static.face_mask.shape[0] == 2 and torch_equal(static.face_mask[0], static.face_mask[1])
    m = _motion(2)
    lm = np.repeat(np.asarray(kit_portrait.face.landmarks, np.float32)[None], 2, 0)
    lm[1, :, 1] += 0.1 * r._crop[2]  # frame 2: the head 10 % of the crop lower
    m.tracks["landmarks"] = lm
    moving = r.condition(m)
    assert torch_equal(moving.face_mask[0], static.face_mask[0])  # the portrait's own landmarks: the static mask
    rows = [np.nonzero(moving.face_mask[i, 0].numpy().any(1))[0] for i in range(2)]
    assert rows[1][0] > rows[0][0] and rows[1][-1] >= rows[0][-1]
    assert r.render(m).shape == (2, kit_portrait.height, kit_portrait.width, 3)


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))
