"""EMOPortraits stage-1 speed at the released size (512x512 output, 96x16x64x64 volume) with deterministic
weights in the released layout: seconds for the source (once per portrait), seconds per driven frame
(batch 1 and 4), the driver encoders per frame (emoportraits-video), and peak memory.

    .venv/bin/python benchmarks/emoportraits_speed.py [--device cuda] [--threads N] [--frames 4]

``--refiner`` measures the stage-2 refiner alone instead (released size, 512x512 in and out, in its own
process so that the peak memory is the refiner's): seconds per frame and peak memory; a refined frame costs
stage 1's render plus this.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from emoavatar_emoportraits.deterministic import deterministic_state_dict
from emoavatar_emoportraits.model import Stage1, Stage1Config


def peak_rss_mb() -> float:
    line = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def timed(fn, device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--frames", type=int, default=4, help="driven frames per measurement")
    ap.add_argument("--refiner", action="store_true", help="measure the stage-2 refiner instead of stage 1")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.refiner:
        return refiner_speed(a)
    model = Stage1(Stage1Config())
    model.load_state_dict(deterministic_state_dict(model.state_dict()), strict=False)
    model.head_pose.net.load_state_dict(deterministic_state_dict(model.head_pose.net.state_dict(), head_pose=True))
    model = model.eval().to(a.device)
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 512, 512, generator=g).to(a.device)
    drivers = torch.rand(a.frames, 3, 512, 512, generator=g).to(a.device)
    out = {"device": a.device, "threads": torch.get_num_threads(), "image_size": 512}
    with torch.no_grad():
        timed(lambda: model.prepare_source(img), a.device)  # warm-up
        out["source_s"] = timed(lambda: model.prepare_source(img), a.device)
        src = model.prepare_source(img)
        z, srt = model.encode_driver(drivers[:1])
        out["driver_encode_s_per_frame"] = timed(lambda: model.encode_driver(drivers), a.device) / a.frames
        for bs in (1, 4):
            zb, sb = z.expand(bs, -1), srt.expand(bs, -1)
            model.drive(src, zb, sb)  # warm-up
            n = max(1, a.frames // bs)
            out[f"render_s_per_frame_batch{bs}"] = timed(lambda zb=zb, sb=sb, n=n: [model.drive(src, zb, sb) for _ in range(n)],
                                                         a.device) / (n * bs)
    out["peak_rss_mb"] = round(peak_rss_mb())
    if a.device.startswith("cuda"):
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}, indent=1))


def refiner_speed(a) -> None:
    """Seconds per 512x512 frame through the stage-2 refiner (released layout, deterministic weights), one
    frame at a time as the renderer runs it, and the process's peak memory."""
    from emoavatar_emoportraits.refiner import Refiner, RefinerConfig

    model = Refiner(RefinerConfig())
    model.load_state_dict(deterministic_state_dict(model.state_dict()))
    model = model.eval().to(a.device)
    frames = torch.rand(a.frames, 3, 512, 512, generator=torch.Generator().manual_seed(0)).to(a.device)
    out = {"device": a.device, "threads": torch.get_num_threads(), "image_size": 512, "stage": "refiner"}
    with torch.no_grad():
        model(frames[:1])  # warm-up
        out["refiner_s_per_frame"] = timed(lambda: [model(f[None]) for f in frames], a.device) / a.frames
    out["peak_rss_mb"] = round(peak_rss_mb())
    if a.device.startswith("cuda"):
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}, indent=1))


if __name__ == "__main__":
    main()
