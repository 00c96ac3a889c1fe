"""Synthetic "talking" videos for sanity-checking metrics (used by the plugin's tests).

A portrait's mouth is opened in proportion to the speech energy: everything below the lip line
near the mouth moves down (fading out towards the neck) and the gap is painted as a dark mouth
interior. No model is involved, so lip-sync metrics have a known answer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FPS = 25.0


def frame_energy(samples: np.ndarray, sr: int, fps: float, n: int) -> np.ndarray:
    """RMS of each frame's samples, scaled to [0, 1]."""
    hop = sr / fps
    e = np.array([np.sqrt(np.mean(samples[int(i * hop):int((i + 1) * hop)] ** 2) + 1e-12) for i in range(n)])
    return np.clip(e / np.percentile(e, 95), 0, 1)


def open_mouth(img: np.ndarray, lm: np.ndarray, amount: float) -> np.ndarray:
    """Open the mouth of ``img`` by ``amount`` pixels: everything below the lip line near the mouth
    moves down (fading out towards the neck) and the gap is painted dark."""
    import cv2

    if amount < 0.3:
        return img.copy()
    h, w = img.shape[:2]
    y0 = float((lm[61:64, 1].mean() + lm[65:68, 1].mean()) / 2)
    cx = float(lm[[48, 54], 0].mean())
    half = float(lm[54, 0] - lm[48, 0]) / 2
    chin = float(lm[8, 1])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    wx = np.clip(1 - ((xx - cx) / (1.6 * half)) ** 2, 0, 1)
    fade = np.clip(1 - (yy - chin) / 25.0, 0, 1)
    disp = amount * wx * fade * (yy >= y0)
    out = cv2.remap(img, xx, yy - disp, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    gap = (yy >= y0) & (yy < y0 + amount * np.clip(1 - ((xx - cx) / (0.8 * half)) ** 2, 0, 1))
    out[gap] = (45, 18, 22)
    return out


def talking_frames(img: np.ndarray, lm: np.ndarray, energy: np.ndarray, max_open: float = 10.0) -> np.ndarray:
    return np.stack([open_mouth(img, lm, max_open * e) for e in energy])


def write_video(path: Path, frames: np.ndarray, audio: Path | None = None, fps: float = FPS) -> Path:
    from emoavatar.media import VideoWriter

    with VideoWriter(path, fps, audio=audio, crf=12) as w:
        w.write(frames)
    return path


def shift_frames(frames: np.ndarray, dx: int) -> np.ndarray:
    """Translate every frame right by ``dx`` pixels (edge pixels repeated)."""
    if dx == 0:
        return frames.copy()
    return np.concatenate([np.repeat(frames[:, :, :1], dx, axis=2), frames[:, :, :-dx]], axis=2)
