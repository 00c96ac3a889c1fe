"""Fréchet distance (closed forms, sqrtm edge cases) and the FID Inception feature extractor."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from emoavatar.errors import WeightsNotFoundError
from emoavatar_metrics.fid import extract_features, fid_from_features, frechet_distance
from emoavatar_metrics.inception import build_inception, load_inception


def tiny_inception():
    """A 1/16-width random FID Inception whose BatchNorm statistics are calibrated on random
    images (with default statistics the activations of a random deep net vanish)."""
    import torch

    torch.manual_seed(0)
    net = build_inception(width=0.0625)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.rand(4, 3, 96, 96) * 255)
    return net.eval()


def test_closed_form_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    want = 1 + 0 + 4 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()  # |dmu|^2 + sum (sqrt a - sqrt b)^2
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(want, abs=1e-9)
    assert frechet_distance(mu1, np.diag(a), mu1, np.diag(a)) == pytest.approx(0, abs=1e-9)
    # scaled covariances: Tr(S + c^2 S - 2 c S) = (1 - c)^2 Tr(S)
    rng = np.random.default_rng(0)
    m = rng.normal(size=(5, 5))
    s = m @ m.T
    assert frechet_distance(np.zeros(5), s, np.zeros(5), 4 * s) == pytest.approx(np.trace(s), rel=1e-9)


def test_matches_scipy_sqrtm_on_random_psd():
    rng = np.random.default_rng(1)
    for _ in range(3):
        a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
        s1, s2 = a @ a.T, b @ b.T
        mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
        ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-7)


def test_sqrtm_edge_cases():
    z = np.zeros((4, 4))
    assert frechet_distance(np.zeros(4), z, np.ones(4), z) == pytest.approx(4.0)  # both singular
    rank1 = np.outer([1, 2, 0, 0], [1, 2, 0, 0]).astype(float)
    assert frechet_distance(np.zeros(4), rank1, np.zeros(4), rank1) == pytest.approx(0, abs=1e-9)
    assert np.isfinite(frechet_distance(np.zeros(4), rank1, np.zeros(4), np.eye(4)))
    tiny_neg = np.eye(3) - 1e-14 * np.ones((3, 3)) * 1e3  # round-off can make eigenvalues < 0
    assert frechet_distance(np.zeros(3), tiny_neg, np.zeros(3), tiny_neg) >= 0
    feats = np.random.default_rng(0).normal(size=(10, 64))  # fewer samples than dimensions
    assert fid_from_features(feats, feats) == pytest.approx(0, abs=1e-6)
    assert fid_from_features(feats, feats + 1) == pytest.approx(64, rel=1e-6)
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_tiny_inception_features_and_loading(tmp_path):
    import torch

    net = tiny_inception()
    frames = np.random.default_rng(0).integers(0, 256, (3, 64, 48, 3), dtype=np.uint8)
    feats = extract_features(net, frames, batch_size=2)
    assert feats.shape == (3, net.dim) and np.isfinite(feats).all()
    assert feats.std(0).mean() > 1e-3  # frames give different features
    keys = set(net.state_dict())
    assert {"Conv2d_1a_3x3.conv.weight", "Mixed_5b.branch_pool.bn.running_mean",
            "Mixed_7c.branch3x3dbl_3b.conv.weight", "fc.weight"} <= keys
    path = tmp_path / "pt_inception_tiny.pth"
    torch.save(net.state_dict(), path)
    loaded = load_inception(path, width=0.0625)
    assert np.allclose(extract_features(loaded, frames), feats, atol=1e-5)
    with pytest.raises(WeightsNotFoundError, match="pt_inception"):
        load_inception(tmp_path / "missing.pth")
    with pytest.raises(WeightsNotFoundError, match="not an FID Inception"):
        load_inception(path)  # full-width model cannot take the tiny checkpoint


@pytest.mark.slow
def test_full_size_inception_dim():
    import torch

    net = build_inception().eval()
    assert net.dim == 2048
    assert sum(p.numel() for p in net.parameters()) > 2.3e7
    with torch.inference_mode():
        assert net(torch.zeros(1, 3, 100, 100)).shape == (1, 2048)


@pytest.mark.slow
def test_fid_metric_per_video_and_pooled(media, tmp_path, monkeypatch):
    from emoavatar.evaluation import EvaluationOptions, evaluate
    from emoavatar.evaluation.report import render
    from emoavatar.interfaces import EvalSample
    from emoavatar_metrics import inception
    from emoavatar_metrics.synthetic import shift_frames, write_video

    tiny = tiny_inception()
    seen = []
    monkeypatch.setattr(inception, "load_inception", lambda path, **kw: seen.append(path) or tiny)
    ref = media["video_silent"]
    moved = write_video(tmp_path / "moved.mp4", shift_frames(media["frames"][:25], 12))
    samples = [EvalSample(video=ref, reference=ref), EvalSample(video=moved, reference=ref)]
    report = evaluate(samples, ["fid"], EvaluationOptions({"fid": {"weights": "w.pth", "every": 2}}, face=None))
    same, other = (s.values()["fid"] for s in report.samples)
    assert same == pytest.approx(0, abs=1e-6) and other > 1e-4
    assert seen == ["w.pth"]  # loaded once for all samples
    pooled = report.pooled["fid"].values["fid_pooled"]
    assert 0 < pooled < other
    assert "pooled over all videos: fid_pooled" in render(report, "table")
    assert render(report, "csv").splitlines()[-1].startswith("pooled,,")
