"""PSNR / SSIM agree with scikit-image, on random images and on real decoded video frames."""

from __future__ import annotations

import numpy as np
import pytest
from emoavatar.interfaces import EvalSample, RunContext
from emoavatar.registry import get_registry
from emoavatar.testing.contracts import check_metric
from emoavatar_metrics.pixel import psnr, ssim
from emoavatar_metrics.synthetic import shift_frames, write_video
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


@pytest.mark.parametrize("shape", [(64, 80, 3), (33, 47, 3), (40, 40)])
def test_frame_scores_match_skimage(shape):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, shape), 0, 255).astype(np.uint8)
    kw = {"channel_axis": -1} if len(shape) == 3 else {}
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)
    assert ssim(a, b) == pytest.approx(structural_similarity(a, b, data_range=255, **kw), abs=1e-9)
    assert ssim(a, b, win_size=11) == pytest.approx(
        structural_similarity(a, b, data_range=255, win_size=11, **kw), abs=1e-9)


def test_identical_frames():
    a = np.full((16, 16, 3), 7, np.uint8)
    assert ssim(a, a) == pytest.approx(1.0)
    assert psnr(a, a) == float("inf")


@pytest.fixture(scope="module")
def shifted_pair(media):
    ref = write_video(media["dir"] / "ref25.mp4", media["frames"][:25])
    gen = write_video(media["dir"] / "shift3.mp4", shift_frames(media["frames"][:25], 3))
    return gen, ref


def test_metrics_on_video_match_skimage(shifted_pair):
    gen, ref = shifted_pair
    sample = EvalSample(video=gen, reference=ref)
    reg, ctx = get_registry(), RunContext()
    p = check_metric(reg.create("metrics", "psnr"), sample, ctx)
    s = check_metric(reg.create("metrics", "ssim"), sample, ctx)
    from emoavatar_metrics import common

    g, r = common.frames(sample, "video"), common.frames(sample, "reference")
    want_p = np.mean([peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(r, g)])
    want_s = np.mean([structural_similarity(a, b, data_range=255, channel_axis=-1) for a, b in zip(r, g)])
    assert p.values["psnr"] == pytest.approx(want_p, abs=1e-3)
    assert s.values["ssim"] == pytest.approx(want_s, abs=1e-3)
    assert 15 < p.values["psnr"] < 40 and 0.3 < s.values["ssim"] < 0.99
    assert len(p.series["psnr"]) == 25


def test_face_crop_and_self(shifted_pair, media):
    _, ref = shifted_pair
    reg, ctx = get_registry(), RunContext()
    same = EvalSample(video=ref, reference=ref)
    res = reg.create("metrics", "psnr").evaluate(same, ctx)
    assert res.values["psnr"] == 100.0 and any("capped" in n for n in res.notes)
    pair = EvalSample(video=shifted_pair[0], reference=ref)
    crop = reg.create("metrics", "ssim", {"face_crop": True}).evaluate(pair, ctx)
    full = reg.create("metrics", "ssim").evaluate(EvalSample(video=shifted_pair[0], reference=ref), ctx)
    assert any("face crop" in n for n in crop.notes)
    assert crop.values["ssim"] != full.values["ssim"]
