"""End-to-end speed of the default pipeline (examples/default.yaml) on this machine.

Prints, measured in one run:
- pipeline fps at the portrait's size (512x512) and the real-time factor;
- the ratio to encoding the very same frames alone with the same writer (the physical floor:
  nothing can be faster than writing the video). Goal: >= 0.6. Pipeline and encode-only runs
  alternate, each the fastest of ``--repeats``;
- the stage timings of the fastest run (``RunResult.timings``; ``face`` runs beside ``encode``,
  whose time includes any wait for it; ``render+encode`` overlaps rendering and x264);
- wall time for 60 s of speech (the demo speech repeated).

    .venv/bin/python benchmarks/default_pipeline.py [--size 512] [--long 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from emoavatar.media import VideoWriter, decode_audio, read_image, read_video, write_image, write_wav
from emoavatar.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]


def run(pipe: Pipeline, out: Path, portrait: Path, audio: Path, stages: list | None = None) -> float:
    t0 = time.perf_counter()
    res = pipe.run(out, portrait=portrait, audio=audio, overwrite=True)
    dt = time.perf_counter() - t0
    if stages is not None:
        stages.append((dt, res.timings))
    return dt


def encode_only(frames: list[np.ndarray], out: Path, audio: Path) -> float:
    t0 = time.perf_counter()
    with VideoWriter(out, 25.0, audio=audio, overwrite=True) as w:
        for chunk in frames:
            w.write(chunk)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512, help="portrait side in pixels")
    ap.add_argument("--long", type=float, default=60.0, help="seconds of speech for the long run (0: no long run)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    if args.long < 0 or args.repeats < 1:
        ap.error("--long must be >= 0 and --repeats >= 1")
    import cv2

    pipe = Pipeline.from_yaml(ROOT / "examples" / "default.yaml")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        img = read_image(ROOT / "examples" / "portrait.png")
        portrait = tmp / "p.png"
        write_image(portrait, cv2.resize(img, (args.size, args.size), interpolation=cv2.INTER_AREA))
        speech = ROOT / "examples" / "speech.wav"
        for _ in range(2):  # loads models once; the second run starts the phonemes helper processes (a one-off
            run(pipe, tmp / "warm.mp4", portrait, speech)  # run never starts them): the timed runs find them ready
        frames = list(read_video(tmp / "warm.mp4", chunk=25))  # every run renders the same frames
        n = sum(len(f) for f in frames)
        stages: list = []
        times = [(run(pipe, tmp / "o.mp4", portrait, speech, stages), encode_only(frames, tmp / "e.mp4", speech))
                 for _ in range(args.repeats)]  # alternated, so a change of load meets both alike
        t_pipe, t_enc = min(t for t, _ in times), min(t for _, t in times)
        dur = n / 25.0
        print(f"frames                     {n} at {args.size}x{args.size} ({dur:.2f} s of speech)")
        print(f"default pipeline           {n / t_pipe:6.1f} fps   ({t_pipe:.2f} s, real-time factor {dur / t_pipe:.2f})")
        print(f"encode the same frames     {n / t_enc:6.1f} fps   ({t_enc:.2f} s)")
        print(f"pipeline / encode-only     {t_enc / t_pipe:6.3f}      (goal >= 0.6)")
        best = min(stages, key=lambda x: x[0])[1]
        print("stages of that run (s)     " + ", ".join(f"{k} {v:.2f}" for k, v in best.items()))
        if args.long == 0:
            return
        x = decode_audio(speech, 16000)
        reps = int(np.ceil(args.long * 16000 / len(x)))
        long_wav = tmp / "long.wav"
        write_wav(long_wav, np.tile(x, reps)[: int(args.long * 16000)], 16000)
        t_long = run(pipe, tmp / "long.mp4", portrait, long_wav)
        print(f"{args.long:.0f} s of speech            {t_long:6.1f} s wall   (real-time factor {args.long / t_long:.2f})")


if __name__ == "__main__":
    main()
