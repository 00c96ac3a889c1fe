"""Cost of warp2d's mouth paint per 512x512 frame: ``cavity: dark`` (near-black, spline-bounded, the
default) against ``classic`` (the earlier red-brown polygon), issue 11's budget being +0.1 ms per frame.

The example portrait resized to 512x512, its mouth opened by 0.05-0.5 inter-ocular distances (20
openings); each painter paints all of them 10 times per run, runs interleaved, the fastest of
``--repeats`` (process CPU time, so other jobs on the machine count less).

    .venv/bin/python benchmarks/warp2d_mouth_cost.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from emoavatar.media import read_image
from emoavatar.registry import get_registry
from emoavatar_warp2d.mouth import MouthPainter

ROOT = Path(__file__).resolve().parents[1]


def opened(lm: np.ndarray, amount: float) -> np.ndarray:
    """Lower lip and chin dropped by ``amount`` px, the corners by 0.3 of it."""
    out = lm.copy()
    out[[55, 56, 57, 58, 59, 65, 66, 67, *range(5, 12)], 1] += amount
    out[[64, 60], 1] += amount * 0.3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    image = cv2.resize(read_image(ROOT / "examples" / "portrait.png"), (512, 512), interpolation=cv2.INTER_CUBIC)
    face = get_registry().create("faces", "dlib", {}).analyze(image, embed=False)
    lm, iod = np.asarray(face.landmarks, np.float64), float(face.size)
    targets = [opened(lm, a * iod) for a in np.linspace(0.05, 0.5, 20)]
    painters = {c: MouthPainter(image, lm, iod, 0.6, 1.0, c) for c in ("classic", "dark")}
    best = dict.fromkeys(painters, float("inf"))
    frame = image.copy()
    for _ in range(args.repeats):
        for name, painter in painters.items():
            t0 = time.process_time()
            for _ in range(10):
                for t in targets:
                    painter.paint(frame, t, iod)
            best[name] = min(best[name], (time.process_time() - t0) / (10 * len(targets)) * 1e3)
    print(" ".join(f"{k} {v:.3f} ms" for k, v in best.items())
          + f"  dark - classic {best['dark'] - best['classic']:+.3f} ms per 512x512 frame "
          f"(mouth paint, CPU, best of {args.repeats})")


if __name__ == "__main__":
    main()
