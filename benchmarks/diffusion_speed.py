"""Seconds per frame of the MoEE diffusion renderer (random weights: speed does not depend on them).

* ``--size tiny`` (default, CPU): the test config, 32 px head crop, 2x VAE, ``--steps`` DDIM steps.
* ``--size real --device cuda``: Hallo's sizes (SD-1.5 U-Nets + motion/audio modules + 6 experts per
  audio module, SD-1.5-shaped VAE) at 512², 16-frame clips with 2 motion frames, fp16, ``--steps`` (Hallo: 40).
* ``--guidance``: classifier-free guidance scale (default: Hallo's 3.5 at real size, i.e. two U-Net passes per
  step; 1.0 = off at tiny size).

    .venv/bin/python benchmarks/diffusion_speed.py [--size tiny|real] [--device cpu|cuda] [--steps N] [--clips N] [--guidance G]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from diffusers import AutoencoderKL
from emoavatar_diffusion.backbone import EXPERTS, BackboneConfig, Net
from emoavatar_diffusion.sampling import ClipCondition, sample_clip, tiny_vae


def sd_vae() -> AutoencoderKL:
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512),
                         latent_channels=4, layers_per_block=2, sample_size=512)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", choices=("tiny", "real"), default="tiny")
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--clips", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--guidance", type=float, default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    real = args.size == "real"
    cfg = BackboneConfig.real() if real else BackboneConfig.tiny()
    res, frames, steps = (512, 16, args.steps or 40) if real else (32, 4, args.steps or 10)
    guidance = args.guidance if args.guidance is not None else (3.5 if real else 1.0)
    dev = torch.device(args.device)
    dtype = torch.float16 if real and dev.type == "cuda" else torch.float32
    net, vae = Net(cfg).eval(), (sd_vae() if real else tiny_vae()).eval()
    net.to(dev, dtype)
    vae.to(dev, dtype)
    ls = res // (2 ** (len(vae.config.block_out_channels) - 1))

    kw = {"device": dev, "dtype": dtype}

    def cond() -> ClipCondition:
        return ClipCondition(
            audio=torch.randn(frames, cfg.audio_window, cfg.audio_blocks, cfg.audio_channels, **kw),
            gates=torch.full((frames, len(EXPERTS)), 1 / 6, **kw), intensity=torch.ones(frames, **kw),
            region=None, masks={"full": torch.ones(frames, ls, ls, **kw)},
            face_mask=torch.zeros(1, 3, ls * 8, ls * 8, **kw), identity=torch.zeros(1, cfg.face_embedding_dim, **kw))

    ref = torch.zeros(1, 3, res, res, device=dev, dtype=dtype)
    gen = torch.Generator(device=dev).manual_seed(0)
    with torch.inference_mode():
        sample_clip(net, vae, cond(), ref, ref.repeat(2, 1, 1, 1), 1, gen, cfg.vae_scale)  # warm-up
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(args.clips):
            sample_clip(net, vae, cond(), ref, ref.repeat(2, 1, 1, 1), steps, gen, cfg.vae_scale, guidance)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    n = sum(p.numel() for p in net.parameters())
    print(json.dumps({"size": args.size, "device": str(dev), "dtype": str(dtype), "resolution": res, "clip_frames": frames,
                      "ddim_steps": steps, "guidance": guidance, "params_M": round(n / 1e6, 1),
                      "seconds_per_frame": round(dt / (args.clips * frames), 4),
                      "peak_gpu_GiB": round(torch.cuda.max_memory_allocated() / 2**30, 2) if dev.type == "cuda" else None}))


if __name__ == "__main__":
    main()
