"""Prosody encoder: synthetic signals with known answers, and examples/speech.wav."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from emoavatar.interfaces import RunContext
from emoavatar.media.audio import resample
from emoavatar.testing.contracts import check_encoder
from emoavatar.types import Audio
from emoavatar_prosody.encoder import ProsodyEncoder, smooth_activity
from emoavatar_prosody.spec import PROSODY_NAMES, SPEC, ProsodyConfig
from emoavatar_prosody.yin import yin
from pydantic import ValidationError

SR = 16000
SPEECH = Path(__file__).parents[4] / "examples" / "speech.wav"
# examples/speech.wav, measured from its 10 ms RMS (digital silence at -96 dBFS):
# speech 0.50-1.35, 1.70-2.87, 4.05-4.60, 4.75-6.25 s; silence elsewhere (7.11 s long).
SILENCES = [(0.0, 0.45), (1.40, 1.65), (2.92, 4.00), (6.30, 7.10)]
WORDS = [(0.55, 1.30), (1.75, 2.85), (4.10, 4.55), (4.80, 6.20)]


def harmonic(f0: float | np.ndarray, seconds: float = 2.0, n_harm: int = 8) -> np.ndarray:
    """Sawtooth-like tone with 1/k harmonics (a buzzy vowel); ``f0`` may vary per sample."""
    n = int(seconds * SR)
    phase = 2 * np.pi * np.cumsum(np.broadcast_to(np.asarray(f0, float), (n,))) / SR
    return sum(0.3 / k * np.sin(k * phase) for k in range(1, n_harm + 1)).astype(np.float32)


def encode(x: np.ndarray, fps: float = 25.0, sr: int = SR, **cfg):
    audio = Audio.from_array(x, sr)
    enc = ProsodyEncoder(ProsodyConfig(**cfg))
    return enc.encode(audio, RunContext(fps=fps, n_frames=audio.n_frames(fps)))


def frames(span: tuple[float, float], fps: float = 25.0) -> slice:
    return slice(int(np.ceil(span[0] * fps)), int(np.floor(span[1] * fps)))


@pytest.fixture(scope="module")
def speech():
    if not SPEECH.is_file():
        pytest.skip("examples/speech.wav not present")
    return Audio.load(SPEECH)


def test_contract_on_kit_clip(kit_audio, run_context):
    out = check_encoder(SPEC.build({}), kit_audio, run_context)
    assert out.kind == "prosody" and out.names == PROSODY_NAMES
    assert out.values.shape == (run_context.n_frames, 5)


def test_harmonic_tone_has_constant_pitch_and_high_voicing():
    out = encode(harmonic(200.0))
    assert out.meta["f0_median_hz"] == pytest.approx(200.0, abs=1.0)
    assert np.abs(out.column("pitch")).max() < 0.1
    assert out.column("voicing").mean() > 0.95 and out.column("voicing").min() > 0.8
    assert (out.column("speech") == 1).all() and out.column("loudness").mean() > 0.95


def test_octave_jump_is_twelve_semitones():
    f0 = np.where(np.arange(2 * SR) < SR, 200.0, 400.0)
    out = encode(harmonic(f0))
    low, high = out.column("pitch")[3:22], out.column("pitch")[28:47]
    assert high.mean() - low.mean() == pytest.approx(12.0, abs=0.2)
    assert low.std() < 0.1 and high.std() < 0.1


def test_yin_tracks_a_glide():
    f0 = np.linspace(100, 300, 2 * SR)
    track = yin(harmonic(f0).astype(np.float64), SR, 160, 640, 60, 500)
    truth = np.linspace(100, 300, len(track.f0))
    inner = slice(5, -5)
    assert np.abs(12 * np.log2(track.f0[inner] / truth[inner])).max() < 0.3  # within 1/3 semitone


def test_white_noise_is_unvoiced():
    x = 0.1 * np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32)
    out = encode(x)
    assert out.column("voicing").mean() < 0.3
    assert (out.column("pitch") == 0).mean() > 0.9


def test_silence_is_all_zero():
    out = encode(np.zeros(2 * SR, np.float32))
    assert out.values.shape == (50, 5)
    assert not out.values.any()
    assert out.meta["f0_median_hz"] is None


def test_short_gaps_stay_speech_long_pauses_do_not():
    x = harmonic(150.0, 2.0)
    x[int(0.50 * SR):int(0.56 * SR)] = 0  # 60 ms gap (a stop closure)
    x[int(1.00 * SR):int(1.40 * SR)] = 0  # 400 ms pause
    sp = encode(x, fps=100).column("speech")
    assert (sp[48:59] == 1).all()
    assert (sp[103:138] == 0).all()


def test_smooth_activity_fills_and_drops():
    act = np.array([0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0], bool)
    out = smooth_activity(act, hangover=3, min_len=2)
    assert out.tolist() == [False] + [True] * 6 + [False] * 8


def test_speech_wav_activity_follows_the_words(speech):
    out = ProsodyEncoder().encode(speech, RunContext(fps=25.0, n_frames=speech.n_frames(25.0)))
    sp, loud = out.column("speech"), out.column("loudness")
    for span in SILENCES:
        assert sp[frames(span)].max() < 0.05 and loud[frames(span)].max() < 0.05, span
    for span in WORDS:
        assert sp[frames(span)].min() > 0.95, span
    words = np.concatenate([np.arange(200)[frames(s)] for s in WORDS])
    assert out.column("voicing")[words].mean() > 0.6
    voiced = out.column("pitch")[words] != 0
    assert voiced.mean() > 0.6
    assert 60 < out.meta["f0_median_hz"] < 200  # espeak-ng's default male voice
    assert 0.5 < out.column("pitch")[words][voiced].std() < 6


@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_frame_count_follows_fps(speech, fps):
    n = speech.n_frames(fps)
    out = ProsodyEncoder().encode(speech, RunContext(fps=fps, n_frames=n))
    assert out.values.shape == (n, 5) and out.fps == fps
    assert ((out.values[:, 1] >= 0) & (out.values[:, 1] <= 1)).all()
    assert ((out.values[:, 3] >= 0) & (out.values[:, 3] <= 1)).all()


def test_rms_is_the_waveform_rms_per_video_frame():
    x = np.zeros(SR, np.float32)
    x[: SR // 2] = 0.5 * np.sign(np.sin(2 * np.pi * 100 * np.arange(SR // 2) / SR))
    rms = encode(x).column("rms")
    assert np.allclose(rms[:12], 0.5, atol=0.01) and np.allclose(rms[13:], 0.0)


def test_other_sample_rate_matches(speech):
    ref = ProsodyEncoder().encode(speech, RunContext(fps=25.0, n_frames=speech.n_frames(25.0)))
    hi = Audio.from_array(resample(speech.samples, SR, 44100), 44100)
    out = ProsodyEncoder().encode(hi, RunContext(fps=25.0, n_frames=hi.n_frames(25.0)))
    assert out.values.shape == ref.values.shape
    assert np.abs(out.column("speech") - ref.column("speech")).mean() < 0.02
    both = (out.column("pitch") != 0) & (ref.column("pitch") != 0)
    assert np.median(np.abs(out.column("pitch")[both] - ref.column("pitch")[both])) < 0.2


def test_short_and_padded_audio():
    out = encode(0.1 * np.ones(160, np.float32))  # 10 ms
    assert out.values.shape == (1, 5) and np.isfinite(out.values).all()
    audio = Audio.from_array(harmonic(200.0, 1.0), SR)
    longer = ProsodyEncoder().encode(audio, RunContext(fps=25.0, n_frames=40))  # 1.6 s of frames
    assert longer.values.shape == (40, 5) and not longer.values[26:].any()


def test_config_is_strict():
    with pytest.raises(ValidationError):
        ProsodyConfig(fmin=300, fmax=200)
    with pytest.raises(ValidationError):
        ProsodyConfig(hop_ms=5)
    assert SPEC.produces == ("features:prosody",)
