"""warp2d render speed at 256², 512², 1024² (one thread) and its ratio to H.264 encoding alone.

Usage: python benchmarks/warp2d_speed.py [--frames 50]

The portrait is the test kit's 256² portrait scaled up (so the face covers the same share of the
image at every size); the motion opens and closes the mouth, raises the brows, nods slightly and
blinks, so every part of the renderer runs. Prints frames per second of ``render`` and of
``emoavatar.media.VideoWriter`` encoding the same frames, and render time / encode time. The
``cpu`` column is render fps from process CPU time: on a busy machine it is the steadier number
(rendering runs on one thread; the encoder may use several).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import emoavatar
import numpy as np
from emoavatar.interfaces import RunContext
from emoavatar.media import VideoWriter, read_image
from emoavatar.types import Face, Motion, Portrait
from emoavatar_warp2d.renderer import Warp2DRenderer
from emoavatar_warp2d.spec import Warp2DConfig

DATA = Path(emoavatar.__file__).parent / "testing" / "data"


def kit(size: int) -> Portrait:
    image = read_image(DATA / "portrait_256.png")
    lm = np.asarray(json.loads((DATA / "portrait_256.face.json").read_text())["landmarks"], np.float64)
    k = size / 256
    if size != 256:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)
        lm = lm * k + (k - 1) / 2
    return Portrait(image, Face((0, 0, size, size), lm.astype(np.float32)))


def talking(lm: np.ndarray, n: int, iod: float) -> Motion:
    t = np.arange(n)
    openness = 0.3 * iod * (0.5 - 0.5 * np.cos(2 * np.pi * t / 12))
    seq = np.repeat(lm[None], n, 0)
    seq[:, [55, 56, 57, 58, 59, 65, 66, 67, *range(5, 12)], 1] += openness[:, None]
    seq[:, 17:27, 1] -= (0.08 * iod * np.sin(2 * np.pi * t / 30))[:, None]
    seq[:, :, 1] += (0.05 * iod * np.sin(2 * np.pi * t / 40))[:, None]
    blink = np.clip(1 - np.abs(t % 25 - 12) / 3, 0, 1)
    return Motion("landmarks68", {"landmarks68": seq, "blink": blink}, 25.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--map-scale", type=float, default=1.0)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    ctx = RunContext(fps=25.0)
    print(f"{'size':>6} {'render fps':>11} {'(cpu)':>7} {'encode fps':>11} {'render/encode time':>19}")
    for size in (256, 512, 1024):
        portrait = kit(size)
        r = Warp2DRenderer(Warp2DConfig(map_scale=args.map_scale))
        r.prepare(portrait, ctx)
        m = talking(portrait.face.landmarks.astype(np.float64), args.frames, portrait.face.size)
        r.render(m.slice(0, 2), ctx)  # warm-up
        t0, c0 = time.perf_counter(), time.process_time()
        frames = r.render(m, ctx)
        t_render, c_render = time.perf_counter() - t0, time.process_time() - c0
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            with VideoWriter(Path(tmp) / "bench.mp4", 25.0) as w:
                for i in range(0, len(frames), 25):
                    w.write(frames[i:i + 25])
            t_encode = time.perf_counter() - t0
        n = len(frames)
        print(f"{size:>5}² {n / t_render:>11.1f} {n / c_render:>7.1f} {n / t_encode:>11.1f} {t_render / t_encode:>19.2f}")


if __name__ == "__main__":
    main()
