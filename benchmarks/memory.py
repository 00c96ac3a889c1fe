"""Peak memory of the real default pipeline (examples/default.yaml) vs the length of the speech.

Each run is a fresh process rendering the demo speech tiled to the given length with the
demo portrait; its peak RSS is read from /proc/self/status VmHWM (which starts afresh at
exec, unlike ``ru_maxrss``). Prints the peaks and the ratio long/short. Goal: <= 1.3.

    .venv/bin/python benchmarks/memory.py [--short 10] [--long 600] [--stages]

``--stages`` skips rendering (face, encoders, controller, motion, renderer.prepare only) and
prints the peak after each stage: a quick way to see which stage grows with the audio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from emoavatar.media import decode_audio, write_wav

ROOT = Path(__file__).resolve().parents[1]

FULL = """
import json, sys
from emoavatar.pipeline import Pipeline
Pipeline.from_yaml(sys.argv[1]).run(sys.argv[3], audio=sys.argv[2], overwrite=True)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"run": int(hwm.split()[1]) / 1024}))
"""

STAGES = """
import json, sys
from emoavatar.emotions import parse_emotion
from emoavatar.interfaces import RunContext
from emoavatar.media import read_image
from emoavatar.pipeline import Pipeline
from emoavatar.types import Audio, FeatureSet, Portrait

def hwm():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]) / 1024

pipe = Pipeline.from_yaml(sys.argv[1])
peaks = {"start": hwm()}
image = read_image(pipe.config.inputs.portrait)
face = pipe._build("face")
port = Portrait(image, face.analyze(image, embed=False), pipe.config.inputs.portrait)
peaks["face"] = hwm()
audio = Audio.load(sys.argv[2])
ctx = RunContext(fps=pipe.config.fps, n_frames=audio.n_frames(pipe.config.fps), seed=0, face=face)
features = FeatureSet()
for c in pipe.validate().components:
    if c.kind == "encoders":
        features.add(pipe.registry.create(c.kind, c.spec.name, c.options).encode(audio, ctx))
        peaks[c.spec.name] = hwm()
state = pipe._build("controller").control(parse_emotion(pipe.config.inputs.emotion), features, ctx)
peaks["controller"] = hwm()
motion = pipe._build("motion").generate(features, state, port, ctx)
peaks["motion"] = hwm()
pipe._build("renderer").prepare(port, ctx)
peaks["prepare"] = hwm()
print(json.dumps(peaks))
"""


def speech(path: Path, seconds: float) -> Path:
    x = decode_audio(ROOT / "examples" / "speech.wav", 16000)
    reps = int(np.ceil(seconds * 16000 / len(x)))
    write_wav(path, np.tile(x, reps)[: int(seconds * 16000)], 16000)
    return path


def peaks(seconds: float, tmp: Path, stages: bool) -> dict[str, float]:
    wav = speech(tmp / f"speech_{seconds:g}.wav", seconds)
    code = STAGES if stages else FULL
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "examples" / "default.yaml"), str(wav),
                          str(tmp / "out.mp4")], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"the {seconds:g} s run failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", type=float, default=10.0, help="seconds of speech of the short run")
    ap.add_argument("--long", type=float, default=600.0, help="seconds of speech of the long run")
    ap.add_argument("--stages", action="store_true", help="no rendering; peak RSS after each stage")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        short, long = peaks(args.short, tmp, args.stages), peaks(args.long, tmp, args.stages)
    for key in short:
        print(f"peak RSS after {key:12s} {short[key]:8.1f} MB ({args.short:g} s)  {long[key]:8.1f} MB "
              f"({args.long:g} s)  ratio {long[key] / short[key]:.3f}")
    last = list(short)[-1]
    ratio = long[last] / short[last]
    print(f"memory ratio long/short   {ratio:.3f}   (goal <= 1.3)")
    print(json.dumps({"short_s": args.short, "long_s": args.long, "rss_short_mb": short[last],
                      "rss_long_mb": long[last], "ratio": ratio, "stages": args.stages}))


if __name__ == "__main__":
    main()
