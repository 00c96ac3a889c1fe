"""Audio-visual synchrony without downloaded weights.

Per frame t: the mouth opening o[t] (mean inner-lip gap of the pairs 61-67, 62-66, 63-65 divided
by the inter-ocular distance) and the speech energy e[t] (RMS of a Hann window of 2 frame lengths
centred on the frame, in dB, floored 50 dB below the loudest frame). After a moving average
of 2 * ``smooth`` + 1 frames on both tracks, the normalised cross-correlation
r(k) = corr(o[t], e[t + k]) is computed for k in [-N, N]:

- ``av_offset`` = argmax_k r(k), in frames. **Positive = the audio lags the video** (the sound
  comes k frames after the mouth moves); 0 = in sync.
- ``av_conf`` = max_k r(k) - median_k r(k), the analogue of SyncNet's LSE-C (higher = clearer sync).
- ``av_corr`` = r(av_offset), ``av_corr0`` = r(0).
"""

from __future__ import annotations

import numpy as np
from emoavatar.interfaces import EvalSample, Metric, RunContext
from emoavatar.types import MetricResult

from . import common

INNER_PAIRS = ((61, 67), (62, 66), (63, 65))
FLOOR_DB = 50.0


def mouth_opening(lm: np.ndarray) -> np.ndarray:
    """``[T]`` inner-lip gap in inter-ocular distances for ``[T, 68, 2]`` landmarks."""
    gap = np.mean([np.linalg.norm(lm[:, a] - lm[:, b], axis=-1) for a, b in INNER_PAIRS], axis=0)
    return gap / common.inter_ocular(lm)


def speech_energy(samples: np.ndarray, sample_rate: int, fps: float, n_frames: int) -> np.ndarray:
    """``[n_frames]`` speech energy in dB (max 0, floored at -50) at the video frame rate."""
    hop = sample_rate / fps
    win = round(2 * hop)
    window = np.hanning(win)
    padded = np.concatenate([np.zeros(win), np.asarray(samples, np.float64), np.zeros(win)])
    rms = np.empty(n_frames)
    for t in range(n_frames):
        centre = round((t + 0.5) * hop) + win
        seg = padded[centre - win // 2: centre - win // 2 + win]
        rms[t] = np.sqrt(np.mean((seg * window) ** 2)) if len(seg) == win else 0.0
    db = 20 * np.log10(np.maximum(rms, 1e-10))
    return np.maximum(db - db.max(), -FLOOR_DB)


def smooth(x: np.ndarray, half: int) -> np.ndarray:
    if half <= 0 or len(x) < 2 * half + 1:
        return x
    k = np.ones(2 * half + 1) / (2 * half + 1)
    return np.convolve(np.pad(x, half, mode="edge"), k, mode="valid")


def lagged_correlation(video: np.ndarray, audio: np.ndarray, max_offset: int, min_overlap: int = 8) -> np.ndarray:
    """r(k) = Pearson corr(video[t], audio[t + k]) for k = -N..N (NaN where undefined)."""
    n = min(len(video), len(audio))
    video, audio = video[:n], audio[:n]
    out = np.full(2 * max_offset + 1, np.nan)
    for i, k in enumerate(range(-max_offset, max_offset + 1)):
        v = video[max(0, -k): n - max(0, k)]
        a = audio[max(0, k): n + min(0, k)]
        if len(v) >= min_overlap and v.std() > 1e-9 and a.std() > 1e-9:
            out[i] = float(np.corrcoef(v, a)[0, 1])
    return out


def best_offset(corr: np.ndarray, max_offset: int) -> tuple[int, float, float]:
    """(offset in frames, confidence = peak - median, peak) of an r(k) curve over -N..N."""
    if np.all(np.isnan(corr)):
        return 0, float("nan"), float("nan")
    i = int(np.nanargmax(corr))
    peak = float(corr[i])
    return i - max_offset, peak - float(np.nanmedian(corr)), peak


class AVSyncMetric(Metric):
    requires = frozenset({"audio"})

    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        lm = common.landmarks(sample, ctx, "video")
        rate = common.fps(sample)
        opening = mouth_opening(lm)
        energy = speech_energy(common.speech(sample), common.AUDIO_RATE, rate, len(lm))
        half, n = self.config.smooth, self.config.max_offset
        corr = lagged_correlation(smooth(opening, half), smooth(energy, half), n)
        offset, conf, peak = best_offset(corr, n)
        notes = common.missing_note(sample, "video")
        if np.isnan(peak):
            notes.append("mouth opening or speech energy is constant: synchrony undefined")
        zero = float(corr[n])
        notes.append("av_offset > 0: audio lags video by that many frames")
        e01 = (energy + FLOOR_DB) / FLOOR_DB
        return MetricResult(
            {"av_offset": float(offset), "av_conf": conf, "av_corr": peak, "av_corr0": zero},
            {"mouth_opening": opening, "speech_energy": e01, "av_xcorr": corr},
            notes,
        )
