"""Input ports (emoavatar.inputs): the driving video, offered only to stages that declare it."""

import numpy as np
import pytest
from emoavatar.errors import ConfigError
from emoavatar.inputs import DrivingVideo, is_input_port, stage_inputs
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


def test_a_declared_driving_input_is_required():
    assert stage_inputs("motion 'x'", ("features:visemes",), ("input:driving",), {}) == {}
    with pytest.raises(ConfigError, match=r"motion 'x' consumes input:driving but the run has none.*--driving"):
        stage_inputs("motion 'x'", ("input:driving",), (), {})
    assert is_input_port("input:driving") and not is_input_port("motion:landmarks68")
