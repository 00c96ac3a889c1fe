"""Audio features -> the per-frame input of eq. U: windowed mean and std of every column."""

from __future__ import annotations

import numpy as np


def fit_rows(x: np.ndarray, n: int) -> np.ndarray:
    """Pad (repeat the last row) or trim to ``n`` rows."""
    x = np.asarray(x)
    if len(x) >= n:
        return x[:n]
    if len(x) == 0:
        return np.zeros((n,) + x.shape[1:], x.dtype)
    return np.concatenate([x, np.repeat(x[-1:], n - len(x), 0)])


def pool_features(values: np.ndarray, fps: float, window: float) -> np.ndarray:
    """``[T, D] -> [T, 2D]``: mean and std over a centred window of ``window`` seconds (edges padded)."""
    x = np.asarray(values, np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"audio features must be [T, D] with T > 0, got {x.shape}")
    half = max(1, int(round(window * fps / 2)))
    xp = np.pad(x, ((half, half), (0, 0)), mode="edge")
    c1 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(xp, 0)])
    c2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(xp * xp, 0)])
    w = 2 * half + 1
    idx = np.arange(len(x))
    mean = (c1[idx + w] - c1[idx]) / w
    var = np.maximum((c2[idx + w] - c2[idx]) / w - mean**2, 0.0)
    return np.concatenate([mean, np.sqrt(var)], 1).astype(np.float32)
