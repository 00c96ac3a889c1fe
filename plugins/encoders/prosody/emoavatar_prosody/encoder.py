"""The ``prosody`` AudioEncoder: rms, loudness, pitch, voicing and speech per video frame.

Analysis runs on 16 kHz audio in frames every 10 ms; each video frame t (window
[t/fps, (t+1)/fps)) averages the analysis frames inside it (``rms`` is computed on the
waveform over exactly that window).
"""

from __future__ import annotations

import numpy as np
from emoavatar.interfaces import AudioEncoder, RunContext
from emoavatar.media.audio import resample, window_energy
from emoavatar.types import Audio, AudioFeatures

from .spec import PROSODY_NAMES, ProsodyConfig
from .yin import frame_starts, yin

SAMPLE_RATE = 16000
HOP = 160  # 10 ms
HOP_S = HOP / SAMPLE_RATE
YIN_RATE = 8000  # F0 <= 1 kHz needs no more; halves the lags and the FFT sizes


def level_db(x: np.ndarray, centres: np.ndarray, window: int) -> np.ndarray:
    """RMS level (dBFS) of ``window`` samples centred on each of ``centres`` (streamed over the audio)."""
    power = window_energy(x, centres - window // 2, centres + window - window // 2) / window
    return 10.0 * np.log10(power + 1e-12)


def speech_level(db: np.ndarray, floor_dbfs: float) -> float | None:
    """Robust speech level: 95th percentile of frames above the floor (None if none are)."""
    loud = db[db > floor_dbfs]
    return float(np.percentile(loud, 95)) if loud.size else None


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, stop and value of each run of equal values in a boolean mask."""
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [len(mask)]])
    return starts, stops, mask[starts]


def smooth_activity(active: np.ndarray, hangover: int, min_len: int) -> np.ndarray:
    """Fill inner gaps shorter than ``hangover`` frames, then drop bursts shorter than ``min_len``."""
    out = active.copy()
    if not out.any():
        return out
    starts, stops, vals = _runs(out)
    for s, e, v in zip(starts, stops, vals):
        if not v and s > 0 and e < len(out) and e - s < hangover:
            out[s:e] = True
    starts, stops, vals = _runs(out)
    for s, e, v in zip(starts, stops, vals):
        if v and e - s < min_len:
            out[s:e] = False
    return out


class ProsodyEncoder(AudioEncoder):
    """Port ``features:prosody``: ``values [T, 5]`` named rms, loudness, pitch, voicing, speech.

    - ``rms``: waveform RMS over the video frame's window (linear, full scale = 1);
    - ``loudness``: 10 log10 energy mapped linearly from [L - range, L] to [0, 1], where L
      is the clip's speech level (95th percentile of the frames above the silence floor);
    - ``pitch``: F0 (YIN) in semitones relative to the median voiced F0 of the clip,
      12 log2(f0 / f0_median); 0 where unvoiced;
    - ``voicing``: 1 - d'(τ*), YIN's periodicity (aperiodicity complement), 0 in silence;
    - ``speech``: voice activity (energy above L - vad_range), gaps < hangover filled.

    ``meta``: ``f0_median_hz``, ``speech_level_dbfs``.
    """

    def __init__(self, config: ProsodyConfig | None = None) -> None:
        super().__init__(config or ProsodyConfig())

    def analyse(self, x: np.ndarray) -> dict[str, np.ndarray | float | None]:
        """10 ms tracks: ``db``, ``loudness``, ``pitch`` (st), ``voiced``, ``voicing``, ``speech``."""
        c = self.config
        window = round(c.window_ms * SAMPLE_RATE / 1000)
        centres = frame_starts(len(x), HOP)
        db = level_db(x, centres, window)
        ref = speech_level(db, c.silence_floor_dbfs)
        n = len(centres)
        if ref is None:  # nothing audible at all
            z = np.zeros(n)
            return {"db": db, "loudness": z, "pitch": z, "voiced": z.astype(bool), "voicing": z,
                    "speech": z, "f0_median_hz": None, "speech_level_dbfs": None}
        lo = max(ref - c.dynamic_range_db, c.silence_floor_dbfs)
        loudness = np.clip((db - lo) / max(ref - lo, 1e-6), 0.0, 1.0)
        active = db > max(ref - c.vad_range_db, c.silence_floor_dbfs)
        hang = round(c.hangover_ms / 1000 / HOP_S)
        min_len = round(c.min_speech_ms / 1000 / HOP_S)
        speech = smooth_activity(active, hang, min_len).astype(np.float64)

        dec = YIN_RATE / SAMPLE_RATE
        x8 = resample(x, SAMPLE_RATE, YIN_RATE)[: int(np.ceil(len(x) * dec))]  # float32; yin works per chunk
        track = yin(x8, YIN_RATE, int(HOP * dec), int(window * dec), c.fmin, c.fmax, c.yin_threshold)
        track.f0, track.aperiodicity = track.f0[:n], track.aperiodicity[:n]
        if len(track.f0) < n:  # resampler delay/rounding: repeat the last frame
            pad = n - len(track.f0)
            track.f0 = np.pad(track.f0, (0, pad), mode="edge")
            track.aperiodicity = np.pad(track.aperiodicity, (0, pad), mode="edge")
        audible = db > c.silence_floor_dbfs
        voicing = np.where(audible, 1.0 - track.aperiodicity, 0.0)
        voiced = audible & active & (track.aperiodicity < c.voiced_aperiodicity)
        voiced &= (track.f0 >= c.fmin * 0.97) & (track.f0 <= c.fmax * 1.03)
        pitch = np.zeros(n)
        f0_median = None
        if voiced.any():
            f0_median = float(np.median(track.f0[voiced]))
            pitch[voiced] = 12.0 * np.log2(track.f0[voiced] / f0_median)
        return {"db": db, "loudness": loudness, "pitch": pitch, "voiced": voiced, "voicing": voicing,
                "speech": speech, "f0_median_hz": f0_median, "speech_level_dbfs": ref}

    def encode(self, audio: Audio, ctx: RunContext) -> AudioFeatures:
        n_frames = ctx.n_frames if ctx.n_frames > 0 else audio.n_frames(ctx.fps)
        x = np.asarray(audio.at_rate(SAMPLE_RATE), dtype=np.float32)  # no whole-signal float64 copy
        a = self.analyse(x)
        n = len(a["db"])

        # rms over each video frame's exact sample window
        bounds = np.round(np.arange(n_frames + 1) * SAMPLE_RATE / ctx.fps).astype(np.int64)
        rms = np.sqrt(window_energy(x, bounds[:-1], bounds[1:]) / np.maximum(bounds[1:] - bounds[:-1], 1))

        # other tracks: mean over K sub-samples per video frame (nearest 10 ms analysis frame)
        k = max(1, int(np.ceil(1.0 / (ctx.fps * HOP_S))))
        times = (np.arange(n_frames * k) + 0.5) / (k * ctx.fps)
        idx = np.floor(times / HOP_S).astype(np.int64)
        inside = idx < n
        idx = np.clip(idx, 0, n - 1)

        def per_frame(track: np.ndarray) -> np.ndarray:
            return np.where(inside, track[idx], 0.0).reshape(n_frames, k).mean(axis=1)

        voiced = per_frame(a["voiced"].astype(np.float64))
        pitch_sum = per_frame(a["pitch"] * a["voiced"])
        pitch = np.where(voiced >= 0.5, pitch_sum / np.maximum(voiced, 1e-9), 0.0)
        values = np.stack([rms, per_frame(a["loudness"]), pitch, per_frame(a["voicing"]),
                           per_frame(a["speech"])], axis=1)
        meta = {"f0_median_hz": a["f0_median_hz"], "speech_level_dbfs": a["speech_level_dbfs"]}
        return AudioFeatures(values=values, kind="prosody", fps=ctx.fps, names=PROSODY_NAMES, meta=meta)
