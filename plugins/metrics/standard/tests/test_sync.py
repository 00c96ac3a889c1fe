"""av-sync (weight-free) and SyncNet (architecture, loading, LSE-D/C offset search)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from emoavatar.errors import WeightsNotFoundError
from emoavatar.interfaces import EvalSample, RunContext
from emoavatar.registry import get_registry
from emoavatar.testing.contracts import check_metric
from emoavatar_metrics.avsync import best_offset, lagged_correlation, speech_energy
from emoavatar_metrics.mfcc import mfcc
from emoavatar_metrics.syncnet import build_syncnet, lse_scores, offset_distances

REPO = Path(__file__).resolve().parents[4]


def test_lagged_correlation_recovers_shift():
    rng = np.random.default_rng(1)
    mouth = np.convolve(rng.random(120), np.ones(4) / 4, mode="same")
    for k in (-4, 0, 3, 7):
        audio = np.roll(mouth, k)  # the sound comes k frames after the mouth moves
        offset, conf, peak = best_offset(lagged_correlation(mouth, audio, 10), 10)
        assert offset == k and peak == pytest.approx(1.0, abs=0.05) and conf > 0.5


def test_speech_energy_frame_rate():
    sr, fps = 16000, 25.0
    x = np.zeros(sr * 2, np.float32)
    x[sr // 2: sr] = np.sin(np.arange(sr // 2) * 0.3)  # 0.5-1.0 s voiced
    e = speech_energy(x, sr, fps, 50)
    assert e.shape == (50,) and e.max() == 0 and e.min() == -50
    assert e[18] == pytest.approx(0, abs=1.0) and e[5] == -50 and e[40] == -50


@pytest.mark.slow
def test_av_sync_on_energy_driven_video(media, shared_cache):
    reg, ctx = get_registry(), RunContext()
    metric = reg.create("metrics", "av-sync")
    res = check_metric(metric, EvalSample(video=media["video"], cache=shared_cache), ctx)
    assert abs(res.values["av_offset"]) <= 1
    assert res.values["av_corr"] > 0.6 and res.values["av_conf"] > 0.3
    assert len(res.series["mouth_opening"]) == len(media["frames"])
    delayed = metric.evaluate(EvalSample(video=media["video_delayed"], cache=shared_cache), ctx)
    assert abs(delayed.values["av_offset"] - media["delay"]) <= 1
    assert delayed.values["av_corr0"] < delayed.values["av_corr"]
    # an explicit --audio wins over the video's track
    resync = metric.evaluate(EvalSample(video=media["video_delayed"], audio=media["wav"], cache=shared_cache), ctx)
    assert abs(resync.values["av_offset"]) <= 1


def test_mfcc_shape_and_energy_column():
    sr = 16000
    t = np.arange(sr) / sr
    x = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    c = mfcc(x, sr)
    assert c.shape == (99, 13)  # 1 + ceil((16000 - 400) / 160)
    assert np.allclose(c[:-1, 0], c[10, 0], atol=0.05)  # steady tone: constant log energy (last frame padded)
    assert mfcc(x * 10, sr)[5, 0] == pytest.approx(c[5, 0] + np.log(100), abs=1e-3)


def test_mfcc_matches_python_speech_features():
    psf = pytest.importorskip("python_speech_features")
    from emoavatar.media import decode_audio

    x = decode_audio(REPO / "examples" / "speech.wav", 16000).astype(np.float64) * 32768
    assert np.abs(psf.mfcc(x, 16000) - mfcc(x, 16000)).max() < 1e-6


def test_syncnet_shapes_and_state_dict_roundtrip(tmp_path):
    import torch

    torch.manual_seed(0)
    net = build_syncnet().eval()
    a = net.forward_aud(torch.randn(2, 1, 13, 20))
    v = net.forward_lip(torch.randn(2, 3, 5, 224, 224))
    assert a.shape == (2, 1024) and v.shape == (2, 1024)
    keys = net.state_dict().keys()
    assert {"netcnnaud.0.weight", "netcnnaud.18.weight", "netfcaud.3.weight",
            "netcnnlip.0.weight", "netcnnlip.18.weight", "netfclip.0.weight"} <= set(keys)
    path = tmp_path / "syncnet_v2.model"
    torch.save({"__S__." + k: v for k, v in net.state_dict().items()}, path)
    from emoavatar_metrics.syncnet import load_syncnet

    loaded = load_syncnet(path)
    x = torch.randn(1, 1, 13, 20)
    assert torch.allclose(loaded.forward_aud(x), net.forward_aud(x))
    torch.save({"something": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(WeightsNotFoundError, match="not a SyncNet checkpoint"):
        load_syncnet(tmp_path / "bad.pt")
    with pytest.raises(WeightsNotFoundError, match="not found"):
        load_syncnet(tmp_path / "missing.model")


def test_lse_offset_search():
    rng = np.random.default_rng(0)
    video = rng.normal(size=(40, 16))
    for k in (-3, 0, 4):
        audio = np.roll(video, k, axis=0)  # audio feature i + k matches video feature i
        d = offset_distances(video, audio, 8)
        lse_d, lse_c, offset = lse_scores(d, 8)
        assert offset == k and lse_c > 1.0
    assert d.shape == (40, 17)


@pytest.mark.slow
def test_syncnet_metric_with_random_weights(media, tmp_path):
    import torch

    torch.manual_seed(0)
    path = tmp_path / "syncnet_random.pt"
    torch.save(build_syncnet().state_dict(), path)
    reg = get_registry()
    from emoavatar.media import read_video
    from emoavatar_metrics.synthetic import write_video

    short = write_video(tmp_path / "short.mp4", next(read_video(media["video"], chunk=12)), media["wav"])
    res = check_metric(reg.create("metrics", "syncnet", {"weights": str(path), "max_offset": 3}),
                       EvalSample(video=short), RunContext())
    assert set(res.values) == {"lse_d", "lse_c", "syncnet_offset"}
    # the scores are the min / median - min / argmin of the averaged distance curve over 2N + 1 offsets
    curve = np.asarray(res.series["syncnet_dist"])
    assert curve.shape == (7,) and np.ptp(curve) > 0  # a constant curve = the offsets were not searched
    assert res.values["lse_d"] == pytest.approx(curve.min())
    assert res.values["lse_c"] == pytest.approx(np.median(curve) - curve.min()) and res.values["lse_c"] > 0
    assert res.values["syncnet_offset"] == int(np.argmin(curve)) - 3
    assert len(res.series["syncnet_conf"]) == 12 - 5  # one per 5-frame window but the last
    with pytest.raises(WeightsNotFoundError):
        reg.create("metrics", "syncnet").evaluate(EvalSample(video=short), RunContext())
