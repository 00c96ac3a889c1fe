"""YIN fundamental-frequency estimation, vectorised over frames with the FFT.

de Cheveigné, A. & Kawahara, H. (2002). "YIN, a fundamental frequency estimator for speech
and music." J. Acoust. Soc. Am. 111(4), 1917-1930. Step numbers below follow the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHUNK = 1024  # frames per FFT batch: bounds memory for long audio (samples are copied per batch too)


@dataclass
class YinTrack:
    """Per analysis frame: ``f0`` (Hz, from the refined lag), ``aperiodicity`` d'(τ*) in [0, ~1]."""

    f0: np.ndarray
    aperiodicity: np.ndarray


def frame_starts(n_samples: int, hop: int) -> np.ndarray:
    """Analysis frame i is centred on sample (i + 0.5) * hop; one frame per hop of audio."""
    n = max(1, int(np.ceil(n_samples / hop)))
    return np.arange(n) * hop + hop // 2


def _segment(x: np.ndarray, a: int, b: int) -> np.ndarray:
    """``x[a:b]`` as float64, with zeros where the range leaves ``x``."""
    out = np.zeros(b - a, dtype=np.float64)
    lo, hi = max(a, 0), min(b, len(x))
    if hi > lo:
        out[lo - a:hi - a] = x[lo:hi]
    return out


def yin(x: np.ndarray, sample_rate: int, hop: int, window: int, fmin: float, fmax: float,
        threshold: float = 0.15) -> YinTrack:
    """YIN on frames centred every ``hop`` samples with integration window ``window``.

    Per frame (lags τ in [0, τ_max]):

    - difference function (step 2, eq. 6), via the FFT: d(τ) = e_0 + e_τ - 2 r(τ), with
      r(τ) = Σ_{j<W} x_j x_{j+τ} and e_τ = Σ_{j<W} x_{j+τ}²;
    - cumulative mean normalised difference (step 3, eq. 8): d'(0) = 1,
      d'(τ) = d(τ) / ((1/τ) Σ_{j=1..τ} d(j));
    - absolute threshold (step 4): the first τ in [τ_min, τ_max] with d'(τ) < ``threshold``,
      then the local minimum that follows; if none, the global minimum of d';
    - parabolic interpolation (step 5) of d' around τ* for a sub-sample period.
    """
    tau_min = max(2, int(np.floor(sample_rate / fmax)))
    tau_max = int(np.ceil(sample_rate / fmin))
    length = window + tau_max
    nfft = 1 << int(np.ceil(np.log2(length)))  # j + τ < W + τ_max <= nfft: no circular wrap
    centres = frame_starts(len(x), hop)
    f0 = np.zeros(len(centres))
    ap = np.ones(len(centres))
    taus = np.arange(tau_max + 1)
    for lo in range(0, len(centres), CHUNK):
        cen = centres[lo:lo + CHUNK]
        begin = cen - length // 2  # first sample of each frame in `x` (may be < 0: zeros)
        buf = _segment(x, int(begin[0]), int(begin[-1]) + length)  # this batch's samples only
        windows = np.lib.stride_tricks.sliding_window_view(buf, length)
        sq = np.concatenate([[0.0], np.cumsum(buf * buf)])  # energies e_τ
        start = begin - begin[0]  # first sample of each frame in `buf`
        fr = windows[start]  # [N, W + τmax]
        spec = np.fft.rfft(fr, nfft) * np.conj(np.fft.rfft(fr[:, :window], nfft))
        r = np.fft.irfft(spec, nfft)[:, :tau_max + 1]  # r(τ)
        lag0 = start[:, None] + taus[None, :]
        e = sq[lag0 + window] - sq[lag0]  # e_τ = Σ_{j<W} x_{j+τ}²
        d = np.maximum(e[:, :1] + e - 2.0 * r, 0.0)  # eq. 7
        cum = np.cumsum(d[:, 1:], axis=1)
        dp = np.ones_like(d)
        dp[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)  # eq. 8
        dp[cum[:, -1] <= 1e-9 * np.maximum(e[:, 0], 1e-12) * tau_max] = 1.0  # silent frame: aperiodic
        seg = dp[:, tau_min:]
        below = seg < threshold
        has = below.any(axis=1)
        first = np.argmax(below, axis=1)
        # walk from the first dip to the following local minimum: first τ ≥ first where d' rises
        rising = np.zeros_like(below)
        rising[:, :-1] = seg[:, 1:] > seg[:, :-1]
        rising[:, -1] = True
        after = rising & (np.arange(seg.shape[1])[None, :] >= first[:, None])
        local = np.argmax(after, axis=1)
        best = np.where(has, local, np.argmin(seg, axis=1)) + tau_min
        rows = np.arange(len(fr))
        b = np.clip(best, 1, tau_max - 1)
        a0, a1, a2 = dp[rows, b - 1], dp[rows, b], dp[rows, b + 1]
        den = a0 - 2.0 * a1 + a2
        shift = np.where(np.abs(den) > 1e-12, 0.5 * (a0 - a2) / np.where(den == 0, 1, den), 0.0)
        shift = np.clip(shift, -1.0, 1.0)  # step 5
        f0[lo:lo + CHUNK] = sample_rate / (b + shift)
        ap[lo:lo + CHUNK] = np.clip(a1 - 0.25 * (a0 - a2) * shift, 0.0, 1.0)
    return YinTrack(f0=f0, aperiodicity=ap)
