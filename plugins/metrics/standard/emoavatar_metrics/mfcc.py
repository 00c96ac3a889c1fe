"""MFCCs with the conventions SyncNet was trained with (those of the python_speech_features
defaults): 25 ms rectangular windows every 10 ms, pre-emphasis 0.97, 512-point FFT power
spectrum / 512, 26 triangular mel filters from 0 Hz to Nyquist, log, orthonormal DCT-II keeping
13 coefficients, sinusoidal lifter L=22, and c0 replaced by the log frame energy.
"""

from __future__ import annotations

import numpy as np

EPS = np.finfo(np.float64).eps


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel) / 2595.0) - 1.0)


def mel_filterbank(n_filters: int, n_fft: int, sample_rate: int, low: float = 0.0, high: float | None = None
                   ) -> np.ndarray:
    """``[n_filters, n_fft // 2 + 1]`` triangles on FFT bins floor((n_fft + 1) f / sr)."""
    high = sample_rate / 2 if high is None else high
    mels = np.linspace(hz_to_mel(low), hz_to_mel(high), n_filters + 2)
    bins = np.floor((n_fft + 1) * mel_to_hz(mels) / sample_rate).astype(int)
    fb = np.zeros((n_filters, n_fft // 2 + 1))
    for j in range(n_filters):
        a, b, c = bins[j], bins[j + 1], bins[j + 2]
        for i in range(a, b):
            fb[j, i] = (i - a) / (b - a)
        for i in range(b, c):
            fb[j, i] = (c - i) / (c - b)
    return fb


def frame_signal(x: np.ndarray, length: int, step: int) -> np.ndarray:
    """Zero-padded frames ``[1 + ceil((len - length) / step), length]``."""
    n = 1 if len(x) <= length else 1 + int(np.ceil((len(x) - length) / step))
    padded = np.concatenate([x, np.zeros((n - 1) * step + length - len(x))])
    idx = np.arange(length)[None] + step * np.arange(n)[:, None]
    return padded[idx]


def mfcc(signal: np.ndarray, sample_rate: int = 16000, win: float = 0.025, step: float = 0.01,
         n_ceps: int = 13, n_filters: int = 26, n_fft: int = 512, preemph: float = 0.97,
         lifter: int = 22) -> np.ndarray:
    """``[steps, n_ceps]`` MFCCs (100 steps per second by default)."""
    from scipy.fft import dct

    x = np.asarray(signal, np.float64)
    x = np.append(x[:1], x[1:] - preemph * x[:-1])
    frames = frame_signal(x, round(win * sample_rate), round(step * sample_rate))
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2 / n_fft
    energy = power.sum(1)
    energy[energy == 0] = EPS
    feat = power @ mel_filterbank(n_filters, n_fft, sample_rate).T
    feat[feat == 0] = EPS
    ceps = dct(np.log(feat), type=2, axis=1, norm="ortho")[:, :n_ceps]
    ceps *= 1 + (lifter / 2.0) * np.sin(np.pi * np.arange(n_ceps) / lifter)
    ceps[:, 0] = np.log(energy)
    return ceps
