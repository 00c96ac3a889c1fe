"""The ``emoportraits`` renderer through the plugin kit's contract, on a reduced random-weight model."""

import numpy as np
import pytest
from emoavatar.errors import WeightsNotFoundError
from emoavatar.registry import get_registry
from emoavatar.testing.contracts import check_renderer
from emoavatar.types import Motion


def _renderer(ckpt, arch):
    return get_registry().create("renderers", "emoportraits", {"checkpoint": ckpt[0], "head_pose_checkpoint": ckpt[1],
                                                              "architecture": arch, "batch_size": 2})


def test_contract_and_pose_changes_the_picture(tiny_checkpoint, tiny_architecture, kit_portrait):
    r = _renderer(tiny_checkpoint, tiny_architecture)
    r.prepare(kit_portrait, None)
    z0 = r.source["z"].numpy()
    srt0 = r.source["srt"].numpy()
    srt = np.repeat(srt0, 5, 0)
    srt[:, 3] += np.linspace(0, 0.5, 5)  # turn the head (yaw)
    motion = Motion("emoportraits", {"emoportraits": np.repeat(z0, 5, 0), "head_pose": srt}, 25.0)
    frames = check_renderer(r, kit_portrait, motion)
    assert frames.shape == (5, 64, 64, 3)
    diffs = [np.abs(frames[i].astype(float) - frames[0]).mean() for i in range(5)]
    assert diffs[0] == 0 and diffs[4] > diffs[1] > 0.1  # more yaw, larger change


def test_missing_checkpoint_names_file_source_and_licence(kit_portrait, tmp_path):
    r = get_registry().create("renderers", "emoportraits", {"checkpoint": tmp_path / "328_model.pth",
                                                          "head_pose_checkpoint": tmp_path / "hp.pth"})
    with pytest.raises(WeightsNotFoundError) as e:
        r.prepare(kit_portrait, None)
    assert "328_model.pth" in str(e.value) and "neeek2303/EMOPortraits" in str(e.value) and "CC BY-NC-SA" in str(e.value)
    r = get_registry().create("renderers", "emoportraits", {})
    with pytest.raises(WeightsNotFoundError, match="stage-1 model file"):
        r.prepare(kit_portrait, None)
