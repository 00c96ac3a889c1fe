"""EmoHead NeRF speed: training iterations/s and rendering frames/s at 256² and 512².

    python benchmarks/nerf_speed.py [--device cpu|cuda|all] [--sizes 256 512] [--iters 30]

For each device and size: a synthetic talking clip is made from the kit portrait, the default
model (16 levels, 2^17 table, 64-wide MLPs) is trained for ``--warmup`` steps (so the occupancy
grid has something to prune), then timed for ``--iters`` steps (``--batch`` rays x
``--samples`` samples), and ``--frames`` full frames are rendered with and without occupancy
pruning. Prints it/s, fps and the real-time factor (fps / 25).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(device: torch.device, size: int, args: argparse.Namespace) -> dict:
    from emoavatar.testing.data import kit_portrait
    from emoavatar_nerf.data import synthetic_clip
    from emoavatar_nerf.render import render_image
    from emoavatar_nerf.train import NerfTrainConfig, NerfTrainer

    p = kit_portrait()
    data = synthetic_clip(p.image, p.face.landmarks, n_frames=20, size=size)
    with tempfile.TemporaryDirectory() as out:
        cfg = NerfTrainConfig(data=["-"], output=out, resolution=size, iterations=10**6, batch_rays=args.batch,
                              n_samples=args.samples, device=str(device), holdout_every=0, val_every=0,
                              checkpoint_every=0, occupancy_every=args.occupancy_every)
        tr = NerfTrainer(cfg, data, log=lambda *_: None)
        for _ in range(args.warmup):
            tr.train_step()
        sync(device)
        t0 = time.perf_counter()
        for _ in range(args.iters):
            tr.train_step()
        sync(device)
        it_s = args.iters / (time.perf_counter() - t0)
        occupied = tr.update_occupancy(decay=0.0, n_alpha=16)
        b = tr.bundle
        res = {"device": device.type, "size": size, "train_it_s": it_s, "occupied": occupied}
        for name, occ in (("fps_occ", b.occupancy), ("fps_dense", None)):
            render_image(b.model, b.camera, torch.from_numpy(data.pose[0]), torch.from_numpy(data.alpha[0]),
                         b.plate, args.samples, occ)  # warm-up
            sync(device)
            t0 = time.perf_counter()
            for i in range(args.frames):
                render_image(b.model, b.camera, torch.from_numpy(data.pose[i]), torch.from_numpy(data.alpha[i]),
                             b.plate, args.samples, occ)
            sync(device)
            res[name] = args.frames / (time.perf_counter() - t0)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="all", help="cpu, cuda or all (cuda only when available)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--samples", type=int, default=32)
    ap.add_argument("--occupancy-every", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    devices = [d for d in devices if d != "cuda" or torch.cuda.is_available()]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no CUDA"))
    print(f"batch {args.batch} rays x {args.samples} samples; default model (16 levels, 2^17 table, MLP 64)")
    print(f"{'device':6s} {'size':>5s} {'train it/s':>10s} {'rays/s':>10s} {'fps(occ)':>9s} {'fps(dense)':>10s} "
          f"{'x realtime':>10s} {'occupied':>8s}")
    for dev in devices:
        for size in args.sizes:
            r = bench(torch.device(dev), size, args)
            print(f"{r['device']:6s} {size:5d} {r['train_it_s']:10.2f} {r['train_it_s'] * args.batch:10.0f} "
                  f"{r['fps_occ']:9.3f} {r['fps_dense']:10.3f} {r['fps_occ'] / 25:10.4f} {r['occupied']:8.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
