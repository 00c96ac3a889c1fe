"""SyncNet (Chung & Zisserman, "Out of time: automated lip sync in the wild", ACCV-W 2016;
EmoHead ref. [31]) and the LSE-D / LSE-C scores of the standard evaluation.

Two streams embed 0.2 s of speech and video into a 1024-d space where in-sync pairs are close:

- audio: 13 MFCCs x 20 steps (100 Hz, 25 ms windows; 4 steps per video frame at 25 fps) through
  a 2-D conv stack;
- video: 5 consecutive 224x224 face crops (BGR, 0-255, as the published model was trained)
  through a 3-D conv stack.

For every video frame i the distance to the audio features at i + k, k in [-N, N] (zero features
beyond the ends) is taken and averaged over frames, giving d(k). Then

- ``lse_d`` = min_k d(k) (lower is better), ``lse_c`` = median_k d(k) - min_k d(k) (higher is better);
- ``syncnet_offset`` = argmin_k d(k): **positive = audio lags video**, the sign of av-sync. The
  original syncnet_python prints the opposite sign ("AV offset" = -syncnet_offset).

Weights: ``syncnet_v2.model`` from the syncnet_python release (a state dict), loaded with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from emoavatar.errors import MediaError, WeightsNotFoundError
from emoavatar.interfaces import EvalSample, Metric, RunContext
from emoavatar.types import MetricResult

from . import common
from .mfcc import mfcc

MFCC_PER_FRAME = 4  # 100 Hz MFCC / 25 fps video
WINDOW = 5  # video frames per SyncNet input


def build_syncnet(embed: int = 1024):
    """The SyncNet network; module names match syncnet_python's state dict keys."""
    from torch import nn

    def c2(i, o, k=3, s=1, p=1):
        return [nn.Conv2d(i, o, k, s, p), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    def c3(i, o, k, s=1, p=0):
        return [nn.Conv3d(i, o, k, s, p), nn.BatchNorm3d(o), nn.ReLU(inplace=True)]

    def fc(i):
        return nn.Sequential(nn.Linear(i, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embed))

    class SyncNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.netcnnaud = nn.Sequential(
                *c2(1, 64), nn.MaxPool2d(1, 1),
                *c2(64, 192), nn.MaxPool2d(3, (1, 2)),
                *c2(192, 384), *c2(384, 256), *c2(256, 256), nn.MaxPool2d(3, 2),
                *c2(256, 512, (5, 4), 1, 0),
            )
            self.netfcaud = fc(512)
            self.netcnnlip = nn.Sequential(
                *c3(3, 96, (5, 7, 7), (1, 2, 2)), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
                *c3(96, 256, (1, 5, 5), (1, 2, 2), (0, 1, 1)), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
                *c3(256, 256, (1, 3, 3), 1, (0, 1, 1)), *c3(256, 256, (1, 3, 3), 1, (0, 1, 1)),
                *c3(256, 256, (1, 3, 3), 1, (0, 1, 1)), nn.MaxPool3d((1, 3, 3), (1, 2, 2)),
                *c3(256, 512, (1, 6, 6)),
            )
            self.netfclip = fc(512)

        def forward_aud(self, x):  # [N, 1, 13, 20] -> [N, embed]
            return self.netfcaud(self.netcnnaud(x).flatten(1))

        def forward_lip(self, x):  # [N, 3, 5, 224, 224] -> [N, embed]
            return self.netfclip(self.netcnnlip(x).flatten(1))

    return SyncNet()


def load_syncnet(path: str | Path | None, device: str = "cpu"):
    """Build SyncNet and load a syncnet_python checkpoint (``__S__.`` / ``module.`` prefixes stripped)."""

    if not path:
        raise WeightsNotFoundError("syncnet needs `weights`",
                                   fix="download syncnet_v2.model (syncnet_python) and set syncnet.weights")
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsNotFoundError(f"SyncNet weights not found: {path}",
                                   fix="download syncnet_v2.model (syncnet_python) and set syncnet.weights")
    state = common.read_checkpoint(path, "a SyncNet checkpoint")
    state = {k.removeprefix("module.").removeprefix("__S__."): v for k, v in state.items()}
    model = build_syncnet()
    return common.load_weights(model, state, path, "a SyncNet checkpoint").to(device).eval()


def face_crops(images: np.ndarray, boxes: np.ndarray, crop_scale: float = 0.4, size: int = 224) -> np.ndarray:
    """syncnet_python-style crops: a square around each (median-smoothed) face box, extended
    downwards to include the chin, padded with grey 110, resized to ``size``. RGB in, BGR out."""
    import cv2
    from scipy.signal import medfilt

    k = min(13, len(boxes) - (1 - len(boxes) % 2))
    if k >= 3:
        boxes = np.stack([medfilt(boxes[:, j], k) for j in range(4)], 1)
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, (img, (x0, y0, x1, y1)) in enumerate(zip(images, boxes)):
        bs = max(x1 - x0, y1 - y0) / 2
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        pad = int(bs * (1 + 2 * crop_scale)) + 1
        big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(110, 110, 110))
        top, bottom = my + pad - bs, my + pad + bs * (1 + 2 * crop_scale)
        left, right = mx + pad - bs * (1 + crop_scale), mx + pad + bs * (1 + crop_scale)
        face = big[int(top):int(bottom), int(left):int(right)]
        out[i] = cv2.resize(face, (size, size))[:, :, ::-1]
    return out


def offset_distances(video_feat: np.ndarray, audio_feat: np.ndarray, max_offset: int) -> np.ndarray:
    """``[T, 2N+1]``: distance of video feature i to audio feature i + k (zeros beyond the ends)."""
    n = len(video_feat)
    padded = np.concatenate([np.zeros((max_offset, audio_feat.shape[1])), audio_feat[:n],
                             np.zeros((max_offset + max(0, n - len(audio_feat)), audio_feat.shape[1]))])
    win = 2 * max_offset + 1
    return np.stack([np.linalg.norm(video_feat[i][None] - padded[i:i + win], axis=1) for i in range(n)])


def lse_scores(dists: np.ndarray, max_offset: int) -> tuple[float, float, int]:
    """(LSE-D, LSE-C, offset) from per-frame offset distances: min / median - min / argmin - N."""
    mean = dists.mean(0)
    i = int(np.argmin(mean))
    return float(mean[i]), float(np.median(mean) - mean[i]), i - max_offset


class SyncNetMetric(Metric):
    requires = frozenset({"audio"})

    def __init__(self, config=None) -> None:
        super().__init__(config)
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_syncnet(self.config.weights, self.config.device)
        return self._model

    def features(self, crops: np.ndarray, coeffs: np.ndarray, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
        """Video and audio features for every 5-frame window: ``[W, D]`` each. As in syncnet_python,
        W = min(frames, audio samples / 640) - 5 (the last full window is not used)."""
        import torch

        n_win = min(len(crops), n_samples // (common.AUDIO_RATE // 25)) - WINDOW
        if n_win < 1:
            raise MediaError(f"syncnet needs more than {WINDOW} frames of video and audio")
        model, dev, bs = self.model, self.config.device, self.config.batch_size
        vid = torch.from_numpy(crops).float().permute(3, 0, 1, 2)  # [3, T, H, W]
        aud = torch.from_numpy(coeffs).float()
        vf, af = [], []
        with torch.inference_mode():
            for s in range(0, n_win, bs):
                idx = range(s, min(n_win, s + bs))
                v = torch.stack([vid[:, i:i + WINDOW] for i in idx]).to(dev)
                a = torch.stack([aud[None, :, i * MFCC_PER_FRAME:(i + WINDOW) * MFCC_PER_FRAME] for i in idx]).to(dev)
                vf.append(model.forward_lip(v).cpu())
                af.append(model.forward_aud(a).cpu())
        return torch.cat(vf).numpy(), torch.cat(af).numpy()

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        cfg = self.config
        self.model  # noqa: B018 - fail early (WeightsNotFoundError) before decoding anything
        images = common.frames(sample, "video")
        found = common.faces(sample, ctx, "video")
        if all(f is None for f in found):
            raise MediaError(f"syncnet: no face in any frame of {sample.video}")
        boxes = np.array([f.box if f is not None else (np.nan,) * 4 for f in found], np.float64)
        for j in range(4):
            good = ~np.isnan(boxes[:, j])
            boxes[:, j] = np.interp(np.arange(len(boxes)), np.flatnonzero(good), boxes[good, j])
        notes = []
        rate = common.fps(sample)
        if abs(rate - 25.0) > 0.01:
            notes.append(f"video is {rate:g} fps; SyncNet expects 25 fps (4 MFCC steps per frame)")
        # 16-bit PCM scale, as syncnet_python reads WAVs with scipy (shifts c0 by a constant otherwise)
        speech = common.speech(sample)
        coeffs = mfcc(speech * 32768.0, common.AUDIO_RATE).T  # [13, steps]
        vf, af = self.features(face_crops(images, boxes, cfg.crop_scale), coeffs, len(speech))
        dists = offset_distances(vf, af, cfg.max_offset)
        lse_d, lse_c, offset = lse_scores(dists, cfg.max_offset)
        per_frame = np.median(dists, 1) - dists.min(1)
        notes.append("syncnet_offset > 0: audio lags video (syncnet_python prints the opposite sign)")
        return MetricResult({"lse_d": lse_d, "lse_c": lse_c, "syncnet_offset": float(offset)},
                            {"syncnet_conf": per_frame, "syncnet_dist": dists.mean(0)}, notes)
