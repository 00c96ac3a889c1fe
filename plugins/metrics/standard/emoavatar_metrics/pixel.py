"""PSNR and SSIM between the generated frames and the aligned reference frames.

Both follow scikit-image's definitions (``peak_signal_noise_ratio`` and ``structural_similarity``
with ``channel_axis=-1, data_range=255``, uniform 7x7 window, K1=0.01, K2=0.03, sample covariance),
computed per frame and averaged over frames, as EmoHead Tables I-II report them.
"""

from __future__ import annotations

import numpy as np
from emoavatar.errors import MediaError
from emoavatar.interfaces import EvalSample, Metric, RunContext
from emoavatar.types import MetricResult

from . import common

DATA_RANGE = 255.0
PSNR_CAP = 100.0  # dB, for frames identical to the reference (PSNR = inf)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """10 log10(R^2 / MSE) over all pixels and channels of one frame (inf when identical)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE, win_size: int = 7) -> float:
    """Mean SSIM of one ``[H, W, C]`` (or ``[H, W]``) frame pair, averaged over channels.

    SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)) with
    local statistics from a uniform window (reflect padding) and a border of (win-1)/2 excluded.
    """
    from scipy.ndimage import uniform_filter

    if win_size % 2 == 0:
        raise ValueError("win_size must be odd")
    if min(a.shape[:2]) < win_size:
        raise MediaError(f"frames of {a.shape[1]}x{a.shape[0]} px are smaller than the SSIM window {win_size}")
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    cov_norm = win_size**2 / (win_size**2 - 1.0)
    pad = (win_size - 1) // 2
    scores = []
    for c in range(a.shape[2]):
        x, y = a[..., c], b[..., c]
        mx, my = uniform_filter(x, win_size), uniform_filter(y, win_size)
        vx = cov_norm * (uniform_filter(x * x, win_size) - mx * mx)
        vy = cov_norm * (uniform_filter(y * y, win_size) - my * my)
        vxy = cov_norm * (uniform_filter(x * y, win_size) - mx * my)
        s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        scores.append(s[pad:s.shape[0] - pad, pad:s.shape[1] - pad].mean())
    return float(np.mean(scores))


def aligned_frames(sample: EvalSample, ctx: RunContext, face_crop: bool, margin: float
                   ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Generated and reference frames of equal count and size, optionally cropped to the
    reference's median face box."""
    common.check_same_rate(sample)
    gen, ref = common.frames(sample, "video"), common.frames(sample, "reference")
    if gen.shape[1:] != ref.shape[1:]:
        raise MediaError(f"generated frames are {gen.shape[2]}x{gen.shape[1]} but reference frames "
                         f"{ref.shape[2]}x{ref.shape[1]}", fix="render at the reference's size")
    gen, ref, notes = common.paired(gen, ref, "frames")
    if face_crop:
        boxes = [f.box for f in common.faces(sample, ctx, "reference")[: len(ref)] if f is not None]
        if not boxes:
            raise MediaError(f"face_crop: no face found in the reference {sample.reference}")
        box = tuple(np.median(np.asarray(boxes), axis=0))
        x0, y0, x1, y1 = common.crop_box(box, margin, ref.shape[2], ref.shape[1])
        gen, ref = gen[:, y0:y1, x0:x1], ref[:, y0:y1, x0:x1]
        notes.append(f"face crop x {x0}:{x1}, y {y0}:{y1} (reference's median face box + {margin:.0%})")
    return gen, ref, notes


class PSNRMetric(Metric):
    requires = frozenset({"reference"})

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        gen, ref, notes = aligned_frames(sample, ctx, self.config.face_crop, self.config.crop_margin)
        per = np.array([psnr(g, r) for g, r in zip(gen, ref)])
        if np.isinf(per).any():
            n_same = int(np.isinf(per).sum())
            notes.append(f"{n_same} frame(s) identical to the reference: PSNR capped at {PSNR_CAP} dB")
        per = np.minimum(per, PSNR_CAP)
        return MetricResult({"psnr": float(per.mean())}, {"psnr": per}, notes)


class SSIMMetric(Metric):
    requires = frozenset({"reference"})

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        gen, ref, notes = aligned_frames(sample, ctx, self.config.face_crop, self.config.crop_margin)
        per = np.array([ssim(g, r, win_size=self.config.win_size) for g, r in zip(gen, ref)])
        return MetricResult({"ssim": float(per.mean())}, {"ssim": per}, notes)
