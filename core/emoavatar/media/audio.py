"""Audio decoding and resampling with PyAV (no torchaudio)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import MediaError

#: A PCM WAV's header says all there is to know (codec, rate, channels, length): opened with
#: these, FFmpeg skips decoding the first seconds to guess stream parameters (~7 ms of the
#: ~7.5 ms an ``av.open`` of a short WAV costs). Any other file is opened with the defaults.
_HEADER_ONLY = {"probesize": "4096", "analyzeduration": "0"}


def _pcm_wav(container) -> bool:
    """A WAV whose audio stream is plain PCM with a known rate and channel count."""
    if container.format.name != "wav" or len(container.streams) != 1 or not container.streams.audio:
        return False
    cc = container.streams.audio[0].codec_context
    return cc.name.startswith("pcm_") and (cc.sample_rate or 0) > 0 and (cc.channels or 0) > 0


def _open(path: Path):
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"audio file not found: {path}", fix="check the path")
    try:
        container = None
        if path.suffix.lower() in (".wav", ".wave"):
            try:
                container = av.open(str(path), options=_HEADER_ONLY)
            except Exception:  # noqa: BLE001 - not a WAV after all: the full open below says why
                container = None
            if container is not None and not _pcm_wav(container):
                container.close()
                container = None
        if container is None:
            container = av.open(str(path))
    except Exception as e:  # noqa: BLE001 - PyAV raises many types for bad files
        raise MediaError(f"cannot read {path}: {e}", fix="give a WAV/MP3/FLAC/MP4 file") from None
    if not container.streams.audio:
        container.close()
        raise MediaError(f"{path} has no audio stream", fix="give a file with speech in it")
    return container


def iter_audio(path: str | Path, sample_rate: int = 16000, layout: str = "mono",
               fmt: str = "flt") -> Iterator[np.ndarray]:
    """Yield decoded chunks resampled to ``sample_rate`` (float32 mono by default;
    ``layout='stereo'`` gives ``[2, n]`` planar-free interleaved arrays as PyAV returns them)."""
    import av

    container = _open(Path(path))
    try:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=sample_rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    yield out.to_ndarray()
            for out in resampler.resample(None):
                yield out.to_ndarray()
        except av.error.FFmpegError as e:
            raise MediaError(f"corrupt audio in {path}: {e}") from None
    finally:
        container.close()


def _read_pcm16_mono(path: Path, sample_rate: int) -> np.ndarray | None:
    """A mono 16-bit PCM WAV already at ``sample_rate`` read straight into float32 (``x / 32768``,
    as FFmpeg's s16 -> flt conversion gives), or ``None`` for any other file. PyAV's decode loop
    takes ~9 ms for 7 s of speech and holds the GIL in Python between its small frames, which
    costs a run 35-50 ms beside the portrait's face analysis; this takes under 1 ms. Read in
    blocks into one float32 buffer (sized by the header, at most the file's size), so the peak is
    the waveform itself, as with PyAV."""
    import wave

    if path.suffix.lower() not in (".wav", ".wave"):
        return None
    try:
        with wave.open(str(path), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != sample_rate:
                return None
            out = np.empty(min(w.getnframes(), path.stat().st_size // 2), np.float32)
            n = 0
            while n < len(out) and (block := w.readframes(min(1 << 16, len(out) - n))):  # never past the data chunk
                x = np.frombuffer(block[: len(block) // 2 * 2], dtype="<i2")
                out[n:n + len(x)] = x
                n += len(x)
    except (wave.Error, EOFError, OSError, ValueError):
        return None  # not plain PCM (e.g. WAVE_FORMAT_EXTENSIBLE, float): PyAV decodes it
    if n == 0:
        return None
    out = out[:n] if n > len(out) // 2 else out[:n].copy()
    out *= np.float32(2.0**-15)  # exact: a power of two, the same as dividing by 32768
    return out


def decode_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Whole file as mono float32 at ``sample_rate``.

    A mono 16-bit PCM WAV at that rate is read directly (:func:`_read_pcm16_mono`); anything
    else is decoded by PyAV into one buffer sized from the header's duration (grown if the
    header is short), so the peak is the waveform itself, not the waveform plus a list of its
    pieces."""
    fast = _read_pcm16_mono(Path(path), sample_rate)  # None also for a missing file: PyAV's open says why
    if fast is not None:
        return fast
    try:
        expected = int(probe_duration(path, header_only=True) * sample_rate) + sample_rate
    except MediaError:
        expected = 0
    out = np.empty(max(expected, sample_rate), np.float32)
    n = 0
    for chunk in iter_audio(path, sample_rate):
        c = chunk.reshape(-1)
        if n + len(c) > len(out):
            out = np.resize(out, max(2 * len(out), n + len(c)))
        out[n:n + len(c)] = c
        n += len(c)
    if n == 0:
        raise MediaError(f"{path} contains no audio samples")
    return out[:n] if n == len(out) or n > len(out) // 2 else out[:n].copy()


def probe_duration(path: str | Path, header_only: bool = False) -> float:
    """Duration in seconds, from the stream header or, failing that, by streaming the decode
    (``header_only``: 0.0 instead of decoding)."""
    container = _open(Path(path))
    try:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
    finally:
        container.close()
    if header_only:
        return 0.0
    n = 0
    for chunk in iter_audio(path, 16000):
        n += chunk.reshape(-1).shape[0]
    if n == 0:
        raise MediaError(f"{path} contains no audio samples")
    return n / 16000.0


RESAMPLE_PIECE = 1 << 16


def window_energy(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, block: int = 1 << 20) -> np.ndarray:
    """``Σ x[j]²`` for j in ``[lo_i, hi_i)`` (clipped to ``x``; outside counts as zeros), float64.

    ``lo`` and ``hi`` must be non-decreasing (frames along time). Works through groups of
    windows spanning about ``block`` samples, so memory does not grow with the audio's length
    (a whole-signal float64 cumulative sum of 10 min at 16 kHz would be 77 MB)."""
    lo = np.clip(np.asarray(lo, np.int64), 0, len(x))
    hi = np.clip(np.asarray(hi, np.int64), 0, len(x))
    out = np.zeros(len(lo), np.float64)
    i = 0
    while i < len(lo):
        # as many windows as fit in `block` samples from lo[i] (at least one)
        j = max(i + 1, int(np.searchsorted(hi, lo[i] + block, side="right")))
        a, b = int(lo[i]), int(hi[i:j].max())
        seg = np.asarray(x[a:b], np.float64)
        c = np.concatenate([[0.0], np.cumsum(seg * seg)])
        out[i:j] = c[hi[i:j] - a] - c[np.maximum(lo[i:j], a) - a]
        i = j
    return out


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample mono float samples with libswresample (through PyAV)."""
    samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
    if rate_in == rate_out or samples.size == 0:
        return samples
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=int(rate_out))
    out = []
    for lo in range(0, samples.size, RESAMPLE_PIECE):  # pieces: PyAV's copies stay small for long audio
        frame = av.AudioFrame.from_ndarray(samples[None, lo:lo + RESAMPLE_PIECE], format="flt", layout="mono")
        frame.sample_rate = int(rate_in)
        out += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros(0, np.float32)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write mono float samples in [-1, 1] as 16-bit PCM WAV."""
    import wave

    pcm = (np.clip(np.asarray(samples, dtype=np.float32), -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())


#: Sample formats that can hold NaN or infinity (integer PCM cannot).
FLOAT_FORMATS = ("flt", "fltp", "dbl", "dblp")


def check_finite(path: str | Path) -> None:
    """Refuse audio containing NaN or infinite samples, naming the first bad time.

    Only float PCM (e.g. ``pcm_f32le`` WAV) can hold them; other codecs are not decoded here.
    We reject rather than repair: silently zeroing samples would change the speech the
    encoders see, and the AAC encoder would otherwise fail (or encode noise) deep in the run.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.audio[0]
        if not stream.codec_context.name.startswith("pcm_f"):
            return
        rate = stream.rate or 1
        seen = 0
        for frame in container.decode(stream):
            arr = frame.to_ndarray()
            bad = ~np.isfinite(arr)
            if bad.any():
                planar = frame.format.is_planar
                col = int(np.argmax(bad.any(axis=0))) if planar else int(np.argmax(bad.reshape(-1))) // max(
                    1, len(frame.layout.channels))
                raise MediaError(f"{path} contains NaN or infinite samples (first at {(seen + col) / rate:.3f} s)",
                                 fix="re-export the audio (e.g. as 16-bit PCM) from a clean source")
            seen += frame.samples
    except Exception as e:  # noqa: BLE001 - PyAV raises many types for bad files
        if isinstance(e, MediaError):
            raise
        raise MediaError(f"corrupt audio in {path}: {e}") from None
    finally:
        container.close()
