"""``from_audio``: a prosody heuristic, arousal/valence -> an emotion mix over time.

This is a **heuristic**, not a trained recogniser (MoEE's emotion-to-latents learns this map
from data; we have no weights). From the prosody encoder's per-frame columns
``loudness`` [0,1], ``pitch`` (semitones relative to the speaker median), ``voicing`` and
``speech`` it pools, over a sliding window of speech frames:

- E: mean loudness, P: pitch standard deviation (semitones), L: mean pitch level;
- with ``d⁺ = max(P − 2, 0)`` and ``d⁻ = min(P − 2, 0)`` (2 semitones ≈ calm read speech):
- arousal ``a = tanh(s · (4 (E − 0.78) + 0.35 d⁺ + 0.15 d⁻ + 0.2 L))``;
- valence ``v = tanh(s · (0.5 d⁺ + 0.2 d⁻ + 0.25 L − 1.5 max(0, E − 0.85) · [P < 2]))``
  (lively, rising pitch reads positive; loud and flat reads negative, as in anger;
  quiet, low and flat is low-arousal negative, as in sadness);

with ``s`` the configured sensitivity. The prosody encoder normalises loudness to the
utterance's own speech level (typical speech ≈ 0.78), so loudness speaks only of contrast
within the utterance: sustained near-peak loudness reads as raised arousal, trailing-off
quiet speech as lowered arousal. A monotone voice (synthetic speech) stays neutral.
Each of neutral/happy/angry/sad/surprised sits at a point c_e of the arousal–valence
circumplex; the mix is ``softmax(−|(a, v) − c_e|² / τ)``.
Where the window holds little speech, (a, v) shrink towards (0, 0), i.e. neutral.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from emoavatar.emotions import EMOTIONS
from emoavatar.types import AudioFeatures

#: (arousal, valence) anchor of each emotion the heuristic can produce.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.0),
    "happy": (0.45, 0.75),
    "surprised": (0.9, 0.35),
    "angry": (0.8, -0.65),
    "sad": (-0.65, -0.55),
}
TAU = 0.12
PITCH_SPREAD = 2.0  # semitones: typical std of calm read speech
LOUD_REF = 0.78  # typical normalised loudness of speech
LOUD_GAIN = 4.0
FLAT_LOUD = 0.85


def _col(features: AudioFeatures, name: str, default: float) -> np.ndarray:
    if features.names and name in features.names:
        return np.asarray(features.column(name), np.float64)
    return np.full(len(features), default, np.float64)


def _windowed(x: np.ndarray, w: np.ndarray, half: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted mean, std and total weight of ``x`` over a centred window of ±``half`` frames."""
    k = np.ones(2 * half + 1)
    sw = np.convolve(w, k, mode="same")
    sx = np.convolve(w * x, k, mode="same")
    sxx = np.convolve(w * x * x, k, mode="same")
    mean = sx / np.maximum(sw, 1e-6)
    var = np.maximum(sxx / np.maximum(sw, 1e-6) - mean**2, 0.0)
    return mean, np.sqrt(var), sw


def arousal_valence(
    prosody: AudioFeatures, fps: float, window: float, sensitivity: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame arousal and valence in [-1, 1] (see module doc)."""
    loud = _col(prosody, "loudness", 0.0)
    pitch = _col(prosody, "pitch", 0.0)
    voiced = np.clip(_col(prosody, "voicing", 1.0), 0.0, 1.0)
    speech = np.clip(_col(prosody, "speech", 1.0), 0.0, 1.0)
    half = max(1, round(window * fps / 2))
    e_mean, _, e_w = _windowed(loud, speech, half)
    p_mean, p_std, p_w = _windowed(pitch, voiced * speech, half)
    has = np.clip(e_w / (0.25 * (2 * half + 1)), 0.0, 1.0)  # confidence: enough speech in the window
    pconf = np.clip(p_w / (0.15 * (2 * half + 1)), 0.0, 1.0)
    p_std = pconf * p_std + (1 - pconf) * PITCH_SPREAD
    p_mean = pconf * p_mean
    s = sensitivity
    d_up = np.maximum(p_std - PITCH_SPREAD, 0.0)
    d_down = np.minimum(p_std - PITCH_SPREAD, 0.0)
    a = np.tanh(s * (LOUD_GAIN * (e_mean - LOUD_REF) + 0.35 * d_up + 0.15 * d_down + 0.2 * p_mean))
    flat_loud = np.maximum(0.0, e_mean - FLAT_LOUD) * (p_std < PITCH_SPREAD)
    v = np.tanh(s * (0.5 * d_up + 0.2 * d_down + 0.25 * p_mean - 1.5 * flat_loud))
    return has * a, has * v


def prosody_mix(
    prosody: AudioFeatures, n_frames: int, fps: float, window: float, sensitivity: float,
    vocabulary: Sequence[str] = EMOTIONS,
) -> np.ndarray:
    """Weights ``[T, E]``: softmax over circumplex distances, per frame."""
    a, v = arousal_valence(prosody, fps, window, sensitivity)
    a = _fit(a, n_frames)
    v = _fit(v, n_frames)
    names = [e for e in CIRCUMPLEX if e in vocabulary]
    anchors = np.array([CIRCUMPLEX[e] for e in names])
    d2 = (a[:, None] - anchors[None, :, 0]) ** 2 + (v[:, None] - anchors[None, :, 1]) ** 2
    z = -d2 / TAU
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out = np.zeros((n_frames, len(vocabulary)))
    for j, e in enumerate(names):
        out[:, list(vocabulary).index(e)] = p[:, j]
    return out


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    """Pad (repeat the last row) or trim to ``n`` rows."""
    if len(x) >= n:
        return x[:n]
    if len(x) == 0:
        return np.zeros((n,) + x.shape[1:])
    return np.concatenate([x, np.repeat(x[-1:], n - len(x), 0)])
