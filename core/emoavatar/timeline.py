"""Label / mix / timeline requests -> per-frame emotion weights and intensity (shared by controllers).

A timeline is a list of segments, each holding from its ``start`` until the next. The switch
between two segments is a raised-cosine cross-fade of ``transition`` seconds *centred* on the
requested time, so the incoming emotion's share crosses 0.5 exactly there (EmoHead's emotion
change while talking, which interpolates linearly between two emotions at a chosen time).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .emotions import EMOTIONS, EmotionRequest, EmotionSegment


def mix_vector(mix: dict[str, float] | object, vocabulary: Sequence[str] = EMOTIONS) -> np.ndarray:
    """``{happy: .6, surprised: .4}`` -> a weight vector over ``vocabulary`` (sums to 1)."""
    v = np.zeros(len(vocabulary), np.float64)
    for name, w in dict(mix).items():  # type: ignore[call-overload]
        v[list(vocabulary).index(name)] += float(w)
    total = v.sum()
    return v / total if total > 0 else _onehot("neutral", vocabulary)


def _onehot(name: str, vocabulary: Sequence[str]) -> np.ndarray:
    v = np.zeros(len(vocabulary), np.float64)
    v[list(vocabulary).index(name)] = 1.0
    return v


def raised_cosine_step(t: np.ndarray, centre: float, width: float) -> np.ndarray:
    """0 before ``centre - width/2``, 1 after ``centre + width/2``, ½(1 − cos) in between."""
    if width <= 0:
        return (t >= centre).astype(np.float64)
    u = np.clip((t - (centre - width / 2.0)) / width, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def frame_times(n_frames: int, fps: float) -> np.ndarray:
    """Time of each video frame (its start), seconds."""
    return np.arange(n_frames, dtype=np.float64) / float(fps)


def segments_to_tracks(
    segments: Sequence[EmotionSegment],
    default_intensity: float,
    transition: float,
    n_frames: int,
    fps: float,
    vocabulary: Sequence[str] = EMOTIONS,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``[T, E]`` and intensity ``[T]`` for a timeline.

    Successive cross-fades: ``w(t) = (1 − a_k(t)) w(t) + a_k(t) m_k`` for each switch k, with
    ``a_k`` the raised-cosine step centred on the k-th start time. A segment without its own
    intensity uses the request's.
    """
    t = frame_times(n_frames, fps)
    if not segments:
        segments = (EmotionSegment(0.0, {"neutral": 1.0}),)
    first = segments[0]
    weights = np.tile(mix_vector(first.mix, vocabulary), (n_frames, 1))
    level = first.intensity if first.intensity is not None else default_intensity
    intensity = np.full(n_frames, level, np.float64)
    for seg in segments[1:]:
        a = raised_cosine_step(t, seg.start, transition)
        weights = (1.0 - a)[:, None] * weights + a[:, None] * mix_vector(seg.mix, vocabulary)[None]
        level = seg.intensity if seg.intensity is not None else default_intensity
        intensity = (1.0 - a) * intensity + a * level
    return weights, intensity


def gaussian_smooth(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing along axis 0 with edge padding (no shift of switch times)."""
    x = np.asarray(x, np.float64)
    if sigma_frames <= 0 or len(x) < 2:
        return x
    radius = int(np.ceil(3 * sigma_frames))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    k /= k.sum()
    pad = [(radius, radius)] + [(0, 0)] * (x.ndim - 1)
    xp = np.pad(x, pad, mode="edge")
    out = np.zeros_like(x, dtype=np.float64)
    for i, kw in enumerate(k):
        out += kw * xp[i : i + len(x)]
    return out


def request_tracks(request: EmotionRequest, n_frames: int, fps: float,
                   vocabulary: Sequence[str] = EMOTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``[T, E]`` and intensity ``[T]`` (in [0, 1]) of a label / mix / timeline request."""
    weights, intensity = segments_to_tracks(request.segments, request.intensity, request.transition,
                                            n_frames, fps, vocabulary)
    return weights, np.clip(intensity, 0.0, 1.0)
