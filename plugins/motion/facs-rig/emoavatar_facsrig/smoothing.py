"""Zero-phase temporal smoothing and row fitting shared by the rig."""

from __future__ import annotations

import numpy as np


def gaussian_smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 with edge padding; no time shift."""
    x = np.asarray(x, np.float64)
    if sigma_frames <= 0 or len(x) < 2:
        return x
    radius = int(np.ceil(3 * sigma_frames))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    k /= k.sum()
    xp = np.pad(x, [(radius, radius)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    out = np.zeros_like(x)
    for i, kw in enumerate(k):
        out += kw * xp[i : i + len(x)]
    return out


def fit_rows(x: np.ndarray, n: int, src_fps: float | None = None, fps: float | None = None) -> np.ndarray:
    """Resample rows by nearest time when the rates differ, then pad (repeat last) / trim to ``n``."""
    x = np.asarray(x)
    if src_fps and fps and abs(src_fps - fps) > 1e-6 and len(x):
        idx = np.clip(np.round(np.arange(n) / fps * src_fps).astype(int), 0, len(x) - 1)
        return x[idx]
    if len(x) >= n:
        return x[:n]
    if len(x) == 0:
        raise ValueError("empty track")
    return np.concatenate([x, np.repeat(x[-1:], n - len(x), 0)])
