"""What a face does besides expressing: spontaneous blinks and small head motion.

Both are seeded from ``ctx.seed`` (their own streams, so they do not depend on what other
stages drew from ``ctx.rng``) and are heuristics with physiologically plausible numbers:
blinks every ~3–4 s (15–20/min at rest), 150–250 ms long, closing faster than they open;
head sway as smooth band-limited noise of at most a few degrees, plus nods on speech emphasis.
"""

from __future__ import annotations

import numpy as np

BLINK_STREAM, HEAD_STREAM = 0xB11, 0x4EAD


def blink_track(n_frames: int, fps: float, seed: int, rate_per_min: float) -> np.ndarray:
    """Eyelid closure ``[T]`` in [0, 1]; each blink peaks (1.0) on a frame.

    Inter-blink intervals are gamma-distributed (shape 3: more regular than Poisson) with mean
    ``60 / rate`` s and a 0.8 s refractory minimum; durations uniform in [0.15, 0.25] s, 40 %
    closing and 60 % opening, with half-cosine ramps.
    """
    out = np.zeros(n_frames)
    if rate_per_min <= 0 or n_frames == 0:
        return out
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, BLINK_STREAM])
    mean_gap = 60.0 / rate_per_min
    t_end = n_frames / fps
    t = rng.uniform(0.3, min(mean_gap, 3.0))
    times = np.arange(n_frames) / fps
    while t < t_end:
        dur = rng.uniform(0.15, 0.25)
        peak = round(t * fps) / fps  # align the fully closed moment with a frame
        t_close, t_open = 0.4 * dur, 0.6 * dur
        u = times - peak
        closing = (u > -t_close) & (u <= 0)
        opening = (u > 0) & (u < t_open)
        c = np.zeros(n_frames)
        c[closing] = 0.5 + 0.5 * np.cos(np.pi * u[closing] / t_close)
        c[opening] = 0.5 + 0.5 * np.cos(np.pi * u[opening] / t_open)
        out = np.maximum(out, c)
        t += max(0.8, rng.gamma(3.0, mean_gap / 3.0))
    return out


def smooth_noise(n_frames: int, fps: float, rng: np.random.Generator, n_waves: int = 4,
                 f_lo: float = 0.07, f_hi: float = 0.6) -> np.ndarray:
    """Band-limited noise in [-1, 1]: a sum of sinusoids with random frequencies and phases,
    amplitudes ∝ 1/f (slow sway dominates), normalised by the amplitude sum (a hard bound)."""
    t = np.arange(n_frames) / fps
    f = np.exp(rng.uniform(np.log(f_lo), np.log(f_hi), n_waves))
    phase = rng.uniform(0, 2 * np.pi, n_waves)
    amp = 1.0 / f
    x = (amp[:, None] * np.sin(2 * np.pi * f[:, None] * t[None] + phase[:, None])).sum(0)
    return x / amp.sum()


#: Peak amplitudes at head_motion = 1: degrees for yaw/pitch/roll, fraction of face size for tx/ty.
SWAY = {"yaw": 2.0, "pitch": 1.2, "roll": 1.0, "tx": 0.008, "ty": 0.006, "scale": 0.004}
NOD_DEG = 1.5
MAX_DEG = 3.0
MAX_SHIFT = 0.015


def speech_emphasis(loudness: np.ndarray, speech: np.ndarray, fps: float) -> np.ndarray:
    """Loudness above its slow (1 s) trend while speaking, smoothed, in [0, 1]."""
    from .smoothing import gaussian_smooth

    slow = gaussian_smooth(loudness, 0.5 * fps)
    e = np.clip(loudness - slow, 0.0, None) * np.clip(speech, 0.0, 1.0)
    e = gaussian_smooth(e, 0.08 * fps)
    return np.clip(e / 0.15, 0.0, 1.0)


def head_pose(n_frames: int, fps: float, seed: int, gain: float, face_size: float,
              emphasis: np.ndarray | None = None) -> np.ndarray:
    """``[T, 6]``: yaw, pitch, roll (radians; pitch > 0 nods down), tx, ty (pixels), scale.

    Rotations stay within ±3°, translations within 1.5 % of ``face_size``.
    """
    pose = np.zeros((n_frames, 6))
    pose[:, 5] = 1.0
    if gain <= 0 or n_frames == 0:
        return pose
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, HEAD_STREAM])
    deg = {k: gain * SWAY[k] * smooth_noise(n_frames, fps, rng) for k in ("yaw", "pitch", "roll")}
    if emphasis is not None:
        deg["pitch"] = deg["pitch"] + gain * NOD_DEG * emphasis[:n_frames]
    for j, k in enumerate(("yaw", "pitch", "roll")):
        pose[:, j] = np.radians(np.clip(deg[k], -MAX_DEG, MAX_DEG))
    for j, k in ((3, "tx"), (4, "ty")):
        pose[:, j] = np.clip(gain * SWAY[k] * smooth_noise(n_frames, fps, rng), -MAX_SHIFT, MAX_SHIFT) * face_size
    pose[:, 5] = 1.0 + gain * SWAY["scale"] * smooth_noise(n_frames, fps, rng)
    return pose
