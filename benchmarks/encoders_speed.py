"""Real-time factors of the default audio encoders (``phonemes``, ``prosody``) on one core.

Audio: examples/speech.wav repeated to 60 s (phone recognition and prosody) and the phonemes
plugin's test clip (espeak-ng, known transcript) repeated to 60 s (forced alignment).
RTF = audio seconds / processing seconds (higher is faster; 60 = one minute per second).

    OMP_NUM_THREADS=1 python benchmarks/encoders_speed.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from emoavatar.interfaces import RunContext
from emoavatar.media.audio import decode_audio
from emoavatar.types import Audio

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 60.0


def repeat_to(x: np.ndarray, seconds: float, sr: int = 16000) -> tuple[Audio, int]:
    """Whole repetitions of ``x`` lasting at least ``seconds`` (so a transcript still matches)."""
    reps = int(np.ceil(seconds * sr / len(x)))
    return Audio.from_array(np.tile(x, reps), sr), reps


def timed(encoder, audio: Audio, ctx: RunContext, runs: int = 3) -> float:
    encoder.encode(audio, ctx)  # warm-up: lazy model loading is not part of the steady state
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        encoder.encode(audio, ctx)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    from emoavatar_phonemes.spec import SPEC as PHONEMES
    from emoavatar_prosody.spec import SPEC as PROSODY

    speech, reps = repeat_to(decode_audio(ROOT / "examples" / "speech.wav"), SECONDS)
    ctx = RunContext(fps=25.0, n_frames=speech.n_frames(25.0))
    rows = []
    t = timed(PROSODY.build({}), speech, ctx)
    rows.append(("prosody", f"speech.wav x{reps}", speech.duration, t))
    t = timed(PHONEMES.build({}), speech, ctx, runs=1)
    rows.append(("phonemes (recognise)", f"speech.wav x{reps}", speech.duration, t))

    hello = ROOT / "plugins" / "encoders" / "phonemes" / "tests" / "data" / "hello_world.wav"
    clip, reps = repeat_to(decode_audio(hello), SECONDS)
    words = " ".join(["hello world how are you today"] * reps)
    actx = RunContext(fps=25.0, n_frames=clip.n_frames(25.0), extras={"transcript": words})
    enc = PHONEMES.build({})
    t = timed(enc, clip, actx, runs=1)
    method = enc.encode(clip, actx).meta["method"]
    rows.append((f"phonemes ({method})", f"hello_world.wav x{reps}", clip.duration, t))

    print(f"{'encoder':24s} {'audio':20s} {'audio s':>8s} {'run s':>8s} {'RTF':>8s}")
    for name, what, dur, sec in rows:
        print(f"{name:24s} {what:20s} {dur:8.1f} {sec:8.3f} {dur / sec:8.1f}x")


if __name__ == "__main__":
    main()
