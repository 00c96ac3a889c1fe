"""Face tracking vs per-frame detection on a video (what `emoavatar evaluate` does first).

Times `track_faces(redetect_every=1)` (full dlib detection on every frame) against the default
tracking (`redetect_every=25`: detection every 25 frames, landmark fits in between) on the same
decoded frames, and prints the speed ratio and how far the tracked landmarks are from the
per-frame ones (mean pixels). Goal: >= 5x faster, < 1 px mean difference.

    .venv/bin/emoavatar run examples/default.yaml -o /tmp/track_demo.mp4 --overwrite
    .venv/bin/python benchmarks/face_tracking.py /tmp/track_demo.mp4
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from emoavatar.media import read_video
from emoavatar.registry import get_registry
from emoavatar.tracking import track_faces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--every", type=int, default=25, help="redetect_every of the tracked run")
    args = ap.parse_args()
    frames = np.concatenate(list(read_video(args.video)))
    fa = get_registry().create("faces", "dlib")
    fa.detect(frames[0])  # load the models outside the timings
    t0 = time.perf_counter()
    detected = track_faces(fa, frames, redetect_every=1)
    t1 = time.perf_counter()
    tracked = track_faces(fa, frames, redetect_every=args.every)
    t2 = time.perf_counter()
    n = len(frames)
    both = [(a, b) for a, b in zip(detected, tracked) if a is not None and b is not None]
    err = np.array([np.linalg.norm(a.landmarks - b.landmarks, axis=1).mean() for a, b in both])
    print(f"{n} frames {frames.shape[2]}x{frames.shape[1]}")
    print(f"detect every frame: {(t1 - t0) / n * 1000:.1f} ms/frame")
    print(f"tracked (every {args.every}): {(t2 - t1) / n * 1000:.1f} ms/frame")
    print(f"speed-up: {(t1 - t0) / (t2 - t1):.1f}x")
    print(f"landmark difference: mean {err.mean():.2f} px, max {err.max():.2f} px; "
          f"faceless frames {sum(f is None for f in detected)} detected / {sum(f is None for f in tracked)} tracked")


if __name__ == "__main__":
    main()
