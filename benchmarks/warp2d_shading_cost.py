"""Render cost of warp2d's expression shading (``shading`` 1 vs 0) on the default pipeline's motion.

Prints, per emotion, render-only ms per frame (no encoding) for the same facs-rig motion of the
demo speech on examples/portrait.png (512²), the best of ``--repeats`` runs with the two settings
alternated in one process, and the difference in %. The shaded portrait is painted once per
quantised AU change and cached, so a held expression pays one painting per clip.

    .venv/bin/python benchmarks/warp2d_shading_cost.py [--repeats 3] [happy sad angry surprised]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from emoavatar.emotions import parse_emotion
from emoavatar.interfaces import RunContext
from emoavatar.media import read_image
from emoavatar.pipeline import Pipeline
from emoavatar.ports import StageCaller
from emoavatar.registry import get_registry
from emoavatar.types import Audio, Portrait

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("emotions", nargs="*", default=["happy", "sad", "angry", "surprised"])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    pipe = Pipeline.from_yaml(ROOT / "examples" / "default.yaml")
    cfg = pipe.config
    face = pipe._build("face")
    audio = Audio.load(ROOT / "examples" / "speech.wav")
    ctx = RunContext(fps=cfg.fps, n_frames=audio.n_frames(cfg.fps), seed=cfg.seed, face=face)
    stages = StageCaller(pipe.validate(), pipe.registry, ctx, inputs={"input:transcript": cfg.inputs.transcript})
    stages.encode(audio)
    image = read_image(ROOT / "examples" / "portrait.png")
    port = Portrait(image, face.analyze(image, embed=False))
    chunk = cfg.output.chunk_size
    print(f"{image.shape[1]}x{image.shape[0]}, {ctx.n_frames} frames, chunks of {chunk}")
    for emotion in args.emotions:
        state = stages.control(pipe._build("controller"), parse_emotion(emotion))
        motion = stages.generate(pipe._build("motion"), state, port, "motion")
        best = {0.0: float("inf"), 1.0: float("inf")}
        for _ in range(args.repeats):
            for strength in best:
                renderer = get_registry().create("renderers", "warp2d", {"shading": strength})
                renderer.prepare(port, ctx)
                t0 = time.perf_counter()
                for start in range(0, len(motion), chunk):
                    renderer.render(motion.slice(start, start + chunk), ctx)
                best[strength] = min(best[strength], (time.perf_counter() - t0) / len(motion) * 1e3)
        print(f"{emotion:10s} shading 0: {best[0.0]:.2f} ms/frame   shading 1: {best[1.0]:.2f} ms/frame   "
              f"({100 * (best[1.0] / best[0.0] - 1):+.1f} %)")


if __name__ == "__main__":
    main()
