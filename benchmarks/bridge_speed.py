"""``landmarks-to-emoportraits`` speed: landmark features + the bridge's MLP at the released latent size
(z = 128), milliseconds per 1000 frames (best of a few repeats), on CPU or a GPU.

    .venv/bin/python benchmarks/bridge_speed.py [--frames 1000] [--threads 1] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from emoavatar.testing.data import kit_portrait
from emoavatar_emoportraits.bridge_features import bridge_inputs
from emoavatar_emoportraits.bridge_model import LandmarkBridge


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ref = kit_portrait().face.landmarks
    frames = ref[None] + np.random.default_rng(0).normal(0.0, 1.0, (args.frames, 68, 2))
    bridge = LandmarkBridge(128).eval().to(args.device)
    times = {"features_ms": [], "mlp_ms": []}
    for _ in range(args.repeats):
        t = time.perf_counter()
        x = torch.as_tensor(bridge_inputs(ref, frames), device=args.device)
        t1 = time.perf_counter()
        with torch.no_grad():
            bridge(x).cpu()
        t2 = time.perf_counter()
        times["features_ms"].append((t1 - t) * 1e3)
        times["mlp_ms"].append((t2 - t1) * 1e3)
    out = {k: round(min(v), 2) for k, v in times.items()}
    out.update(frames=args.frames, threads=args.threads, device=args.device)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
