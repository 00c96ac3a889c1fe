"""M-LMD / F-LMD and jitter."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.interfaces import EvalSample, RunContext
from emoavatar.registry import get_registry
from emoavatar.testing.contracts import check_metric
from emoavatar_metrics.landmarks import jitter, landmark_distance
from emoavatar_metrics.synthetic import shift_frames, write_video


def test_landmark_distance_and_jitter_synthetic(kit_portrait):
    lm = np.repeat(kit_portrait.face.landmarks[None].astype(np.float64), 10, 0)
    assert landmark_distance(lm, lm + [3.0, 4.0]).tolist() == [5.0] * 10
    j, jr, series = jitter(lm)
    assert j == 0 and jr == 0 and len(series) == 8
    noisy = lm + np.random.default_rng(0).normal(0, 1.0, lm.shape)
    assert jitter(noisy)[0] > 0.01
    smooth = lm + np.linspace(0, 20, 10)[:, None, None]  # constant velocity: no acceleration
    assert jitter(smooth)[0] == pytest.approx(0, abs=1e-9)


@pytest.mark.slow
def test_lmd_zero_on_self_and_grows_with_shift(media):
    d = media["dir"]
    base = media["frames"][:20]
    ref = write_video(d / "lmd_ref.mp4", base)
    reg, ctx = get_registry(), RunContext()
    metric = reg.create("metrics", "lmd")
    same = check_metric(metric, EvalSample(video=ref, reference=ref), ctx)
    assert same.values["m_lmd_px256"] == 0 and same.values["f_lmd_px256"] == 0
    f_lmd = []
    for k in (2, 5, 10):
        gen = write_video(d / f"lmd_shift{k}.mp4", shift_frames(base, k))
        r = metric.evaluate(EvalSample(video=gen, reference=ref), ctx)
        f_lmd.append(r.values["f_lmd_px256"])
        assert r.values["f_lmd_px256"] == pytest.approx(k, abs=1.0)  # 256-px frames: shift k -> ~k px
    assert f_lmd == sorted(f_lmd) and f_lmd[0] > 0.5
    iod = reg.create("metrics", "lmd", {"normalize": "iod"}).evaluate(
        EvalSample(video=d / "lmd_shift10.mp4", reference=ref), ctx)
    assert set(iod.values) == {"m_lmd_iod", "f_lmd_iod"}
    assert 0.05 < iod.values["f_lmd_iod"] < 0.5  # 10 px against ~50 px between the eyes
    jit = check_metric(reg.create("metrics", "jitter"), EvalSample(video=ref, reference=ref), ctx)
    assert jit.values["jitter"] == pytest.approx(jit.values["jitter_ref"])
