"""Zero-phase temporal smoothing and row fitting shared by the rig."""

from __future__ import annotations

import numpy as np
from emoavatar.timeline import gaussian_smooth  # noqa: F401 - re-exported for the rig


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
