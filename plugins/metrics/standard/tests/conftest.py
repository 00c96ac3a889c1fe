"""Test media made from the kit portrait and examples/speech.wav: a "talking" video whose mouth
opens in proportion to the speech energy (the lower lip and chin are pushed down and the gap
painted as a dark mouth interior), written with emoavatar's VideoWriter with the speech muxed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from emoavatar_metrics.synthetic import FPS, frame_energy, talking_frames, write_video

REPO = Path(__file__).resolve().parents[4]
SECONDS = 4.0  # examples/speech.wav 0-4 s: silence, speech, the pause at ~2.6-3.4 s, speech


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """Paths and arrays of the generated test media (built once per session)."""
    from emoavatar.media import decode_audio, write_wav
    from emoavatar.testing.data import kit_portrait

    d = tmp_path_factory.mktemp("metrics_media")
    portrait = kit_portrait()
    sr = 16000
    speech = decode_audio(REPO / "examples" / "speech.wav", sr)[: int(SECONDS * sr)]
    wav = d / "speech.wav"
    write_wav(wav, speech, sr)
    delay = 5
    delayed = d / "speech_delayed.wav"
    write_wav(delayed, np.concatenate([np.zeros(int(delay * sr / FPS), np.float32), speech]), sr)
    n = int(SECONDS * FPS)
    energy = frame_energy(speech, sr, FPS, n)
    frames = talking_frames(portrait.image, portrait.face.landmarks, energy)
    out = {"dir": d, "portrait_path": portrait.path, "portrait": portrait, "wav": wav, "energy": energy,
           "frames": frames, "delay": delay, "sr": sr}
    out["video"] = write_video(d / "talk.mp4", frames, wav)
    out["video_delayed"] = write_video(d / "talk_delayed.mp4", frames, delayed)
    out["video_silent"] = write_video(d / "talk_silent.mp4", frames[:25])
    return out


@pytest.fixture(scope="session")
def face_analyzer():
    from emoavatar.registry import get_registry

    return get_registry().create("faces", "dlib")


@pytest.fixture(scope="session")
def shared_cache():
    """One EvalSample.cache for all tests: keys are per file, so faces found in a video once are
    reused by every test that evaluates the same file."""
    return {}
