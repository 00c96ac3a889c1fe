"""Core overhead and memory of the runner, with trivial stages (no models).

1. Overhead per frame: `Pipeline.run` vs calling the very same stage functions and the
   VideoWriter directly, in one process, alternating, best of N. Goal: <= 3 %.
2. Peak memory (max RSS of a fresh process) for 10 s vs 10 min of silent audio. Goal: ratio <= 1.3.

    .venv/bin/python benchmarks/core_overhead.py [--seconds 10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from emoavatar.emotions import parse_emotion
from emoavatar.interfaces import RunContext
from emoavatar.media import VideoWriter, read_image, write_wav
from emoavatar.pipeline import Pipeline
from emoavatar.testing.data import kit_portrait_path
from emoavatar.testing.trivial import TRIVIAL_PIPELINE, trivial_registry
from emoavatar.types import Audio, Portrait


def silent_wav(path: Path, seconds: float, sr: int = 16000) -> Path:
    write_wav(path, np.zeros(int(seconds * sr), np.float32), sr)
    return path


def direct(portrait: Path, audio: Path, out: Path, chunk: int = 25) -> float:
    """The same stages, hand-wired: what a user would write without the framework."""
    from emoavatar.testing import trivial as t

    t0 = time.perf_counter()
    image = read_image(portrait)
    faces = t.TrivialFaces()
    port = Portrait(image, faces.analyze(image, embed=False), portrait)
    a = Audio.load(audio)
    ctx = RunContext(25.0, a.n_frames(25.0), 0)
    feats = {"trivial": t.TrivialEncoder().encode(a, ctx)}
    state = t.TrivialController().control(parse_emotion("happy"), feats, ctx)
    motion = t.TrivialMotion().generate(feats, state, port, ctx)
    r = t.TrivialRenderer(t.TrivialRendererConfig())
    r.prepare(port, ctx)
    with VideoWriter(out, 25.0, audio=audio, overwrite=True) as w:
        for s in range(0, ctx.n_frames, chunk):
            w.write(r.render(motion.slice(s, min(ctx.n_frames, s + chunk)), ctx))
    return time.perf_counter() - t0


def framework(portrait: Path, audio: Path, out: Path, registry) -> float:
    """Config parsing, validation, component building, hooks, chunking, run file: all timed.
    Plugin discovery is not: a process does it once (``registry``), not per run."""
    t0 = time.perf_counter()
    pipe = Pipeline.from_dict(dict(TRIVIAL_PIPELINE), registry=registry)
    pipe.run(out, portrait=portrait, audio=audio, emotion="happy", overwrite=True)
    return time.perf_counter() - t0


def peak_rss_mb(seconds: float, tmp: Path) -> float:
    """Run the framework on `seconds` of silence in a fresh process; its peak RSS in MB.

    Read from /proc/self/status VmHWM, which starts afresh at exec; ``ru_maxrss`` would carry
    over the parent's size at fork time on Linux."""
    audio = silent_wav(tmp / f"silence_{int(seconds)}.wav", seconds)
    code = f"""
import json
from pathlib import Path
from emoavatar.pipeline import Pipeline
from emoavatar.testing.trivial import TRIVIAL_PIPELINE, trivial_registry
Pipeline.from_dict(dict(TRIVIAL_PIPELINE), registry=trivial_registry()).run(
    Path(r"{tmp}") / "m.mp4", portrait=r"{kit_portrait_path()}", audio=r"{audio}", overwrite=True)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps(int(hwm.split()[1]) / 1024))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="audio per timed run (longer amortises noise)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--long", type=float, default=600.0, help="long run for the memory ratio (s)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        audio = silent_wav(tmp / "a.wav", args.seconds)
        portrait = kit_portrait_path()
        registry = trivial_registry()
        framework(portrait, audio, tmp / "warm.mp4", registry)  # warm caches and imports
        fw, dr = [], []
        for _ in range(args.repeats):
            dr.append(direct(portrait, audio, tmp / "d.mp4"))
            fw.append(framework(portrait, audio, tmp / "f.mp4", registry))
        frames = int(round(args.seconds * 25))
        overhead = min(fw) / min(dr) - 1
        print(f"frames per run            {frames} (256x256, trivial stages, H.264+AAC)")
        print(f"direct stage calls        {min(dr) * 1000 / frames:.3f} ms/frame (best of {args.repeats})")
        print(f"Pipeline.run              {min(fw) * 1000 / frames:.3f} ms/frame (best of {args.repeats})")
        print(f"core overhead             {overhead * 100:+.2f} %   (goal <= 3 %)")
        short, long = peak_rss_mb(10, tmp), peak_rss_mb(args.long, tmp)
        print(f"peak RSS 10 s             {short:.1f} MB")
        print(f"peak RSS {args.long / 60:.0f} min            {long:.1f} MB")
        print(f"memory ratio long/short   {long / short:.3f}   (goal <= 1.3)")
        print(json.dumps({"overhead": overhead, "rss_short_mb": short, "rss_long_mb": long, "ratio": long / short}))


if __name__ == "__main__":
    main()
