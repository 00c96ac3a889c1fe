"""Input ports (emoavatar.inputs): the driving video, offered only to stages that declare it."""

import numpy as np
import pytest
from emoavatar.errors import ConfigError
from emoavatar.inputs import DrivingVideo, is_input_port, offered, stage_inputs
from emoavatar.interfaces import RunContext
from emoavatar.media import VideoWriter


def _clip(path, n=10, fps=10):
    with VideoWriter(path, fps, crf=0) as w:
        for i in range(n):  # frame i has grey level 20 * i
            w.write(np.full((1, 32, 32, 3), 20 * i, np.uint8))
    return DrivingVideo.open(path)


def test_frames_resampled_to_the_pipeline_rate(tmp_path):
    dv = _clip(tmp_path / "d.mp4")
    frames = np.concatenate(list(dv.frames_at(25.0, 30, chunk=7)))
    assert frames.shape == (30, 32, 32, 3)
    levels = np.round(frames[:, 16, 16, 0] / 20.0).astype(int)
    want = np.minimum(np.floor(np.arange(30) * 10 / 25 + 1e-6).astype(int), 9)
    assert levels.tolist() == want.tolist()  # nearest earlier frame, the last repeats past the end


def test_only_declaring_stages_receive_inputs(tmp_path):
    dv = _clip(tmp_path / "d.mp4", n=2)

    class Spec:
        consumes, optional = ("features:visemes", "video:driving"), ()

    class Plain:
        consumes, optional = ("features:visemes",), ()

    ctx = RunContext()
    with offered(ctx, "motion 'x'", Spec, {"video:driving": dv}):
        assert ctx.extras["inputs"] == {"video:driving": dv}
    assert "inputs" not in ctx.extras
    with offered(ctx, "motion 'y'", Plain, {"video:driving": dv}):
        assert ctx.extras["inputs"] == {}
    with pytest.raises(ConfigError, match=r"motion 'x' consumes video:driving but the run has none.*--driving"):
        stage_inputs("motion 'x'", Spec.consumes, (), {})
    assert is_input_port("video:driving") and not is_input_port("motion:landmarks68")
