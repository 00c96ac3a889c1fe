"""Timed phones -> per-frame viseme weights with coarticulation, plus silence gating.

Each phone contributes a *dominance function* (Cohen & Massaro 1993, "Modeling
coarticulation in synthetic visual speech"): a flat top over the phone's own interval and
raised-cosine flanks that start ``anticipation`` before it and end ``carryover`` after it,

    D_p(t) = a_v · r((t - (s_p - A)) / A)        for s_p - A <= t < s_p      (ramp-in)
           = a_v                                  for s_p <= t <= e_p
           = a_v · r(((e_p + C) - t) / C)        for e_p < t <= e_p + C      (ramp-out)
    r(u)   = (1 - cos(π u)) / 2

with ``a_v`` the dominance of the phone's viseme v (lip-critical visemes such as PP/FF
dominate; tongue-internal consonants yield to neighbouring vowels). Frame weights are the
normalised sum  w_v(t) = Σ_{p: v(p)=v} D_p(t) / Σ_p D_p(t).  Phones shorter than
``min_phone`` are widened around their centre so that brief closures (P, B, M) stay visible.

The weights are finally blended with ``sil`` by an energy gate g(t) ∈ [0, 1]:
w(t) ← g(t) w(t) + (1 - g(t)) e_sil, so quiet stretches always show a mouth at rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from emoavatar.visemes import VISEMES, phone_to_viseme

SIL = VISEMES.index("sil")

#: Default dominance a_v per viseme: lip-critical shapes must win, tongue-internal ones yield.
DOMINANCE: dict[str, float] = {
    "sil": 1.0, "PP": 2.0, "FF": 1.6, "TH": 1.0, "DD": 0.6, "kk": 0.5, "CH": 1.2, "SS": 0.9,
    "nn": 0.6, "RR": 1.0, "aa": 1.0, "E": 1.0, "ih": 1.0, "oh": 1.2, "ou": 1.4,
}

HOP_S = 0.01  # energy analysis hop
WIN_S = 0.025  # energy analysis window


def frame_energy_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS level in dBFS of 25 ms windows every 10 ms (window i centred at (i + 0.5) * 10 ms)."""
    from emoavatar.media.audio import window_energy

    hop = round(HOP_S * sample_rate)
    win = round(WIN_S * sample_rate)
    n = max(1, int(np.ceil(len(samples) / hop)))
    starts = np.arange(n) * hop - (win - hop) // 2  # zeros outside the signal
    power = window_energy(samples, starts, starts + win) / win  # streamed: no whole-signal copies
    return 10.0 * np.log10(power + 1e-12)


def energy_gate(db: np.ndarray, gate_db: float | None, floor_dbfs: float, hangover_s: float = 0.04) -> np.ndarray:
    """Soft speech mask g ∈ [0, 1] per 10 ms frame.

    Threshold: max(speech level - gate_db, floor), where the speech level is the 95th
    percentile of the frames above the floor. A ±``hangover_s`` max-filter keeps brief
    dips inside words (stop closures) from flashing the rest shape.
    """
    loud = db[db > floor_dbfs]
    if loud.size == 0:
        return np.zeros_like(db)
    thr = floor_dbfs if gate_db is None else max(float(np.percentile(loud, 95)) - gate_db, floor_dbfs)
    g = np.clip((db - thr) / 6.0 + 0.5, 0.0, 1.0)
    k = round(hangover_s / HOP_S)
    if k > 0 and len(g) > 1:
        padded = np.pad(g, k, mode="edge")
        g = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1).max(axis=1)
    return g


def _ramp(u: np.ndarray) -> np.ndarray:
    """Raised cosine r(u) on [0, 1]."""
    return 0.5 * (1.0 - np.cos(np.pi * np.clip(u, 0.0, 1.0)))


def viseme_weights(
    phones: Sequence[tuple[str, float, float]],
    times: np.ndarray,
    *,
    anticipation: float,
    carryover: float,
    min_phone: float,
    dominance: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Weights ``[len(times), 15]`` over :data:`VISEMES` at ``times`` (s); rows sum to 1."""
    dom = {**DOMINANCE, **(dominance or {})}
    acc = np.zeros((len(times), len(VISEMES)), dtype=np.float64)
    if len(times) == 0:
        return acc
    order = np.argsort(times)
    ts = times[order]
    for phone, start, end in phones:
        vis = phone_to_viseme(phone)
        dur = end - start
        if dur < min_phone:
            centre = 0.5 * (start + end)
            start, end = centre - 0.5 * min_phone, centre + 0.5 * min_phone
        lo = np.searchsorted(ts, start - anticipation, side="left")
        hi = np.searchsorted(ts, end + carryover, side="right")
        if hi <= lo:
            continue
        t = ts[lo:hi]
        d = np.ones_like(t)
        if anticipation > 0:
            pre = t < start
            d[pre] = _ramp((t[pre] - (start - anticipation)) / anticipation)
        if carryover > 0:
            post = t > end
            d[post] = _ramp(((end + carryover) - t[post]) / carryover)
        acc[order[lo:hi], VISEMES.index(vis)] += dom[vis] * d
    total = acc.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 1e-9
    acc[empty, SIL] = 1.0
    total[empty] = 1.0
    return acc / total


def frame_weights(
    phones: Sequence[tuple[str, float, float]],
    gate: np.ndarray,
    n_frames: int,
    fps: float,
    duration: float,
    *,
    anticipation: float,
    carryover: float,
    min_phone: float,
    dominance: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Average the weights over each video frame's window [t/fps, (t+1)/fps) (sub-sampled
    every ≤ 10 ms), gate them with ``gate`` (10 ms frames) and renormalise -> ``[T, 15]``."""
    k = max(1, int(np.ceil(1.0 / (fps * HOP_S))))
    times = (np.arange(n_frames * k) + 0.5) / (k * fps)
    w = viseme_weights(phones, times, anticipation=anticipation, carryover=carryover,
                       min_phone=min_phone, dominance=dominance)
    if len(gate):
        g = np.interp(times, (np.arange(len(gate)) + 0.5) * HOP_S, gate)
    else:
        g = np.zeros_like(times)
    g[times >= duration] = 0.0
    w *= g[:, None]
    w[:, SIL] += 1.0 - g
    w = w.reshape(n_frames, k, len(VISEMES)).mean(axis=1)
    return w / w.sum(axis=1, keepdims=True)
