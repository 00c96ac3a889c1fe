"""`emoavatar train nerf CONFIG.yaml [--resume]`: fit the EmoHead NeRF to videos of one person.

Rays are sampled from the training frames (``face_fraction`` of them inside the face box,
``mouth_fraction`` inside the mouth box, the rest anywhere), rendered with eq. 11–12 over the
median-frame plate and fitted with Adam (linear learning-rate decay): ``L_photo`` for the whole
run, plus ``L_cord`` (CLIP, if configured) and ``L_shape`` in the second half (eq. 15–16).
Writes ``OUTPUT/nerf.safetensors`` + ``nerf.json`` (the renderer's ``checkpoint:``),
``train_state.pt`` (resume), ``val/step_*.png`` (ground truth | render | error) and
``metrics.json`` (held-out PSNR against the mean-frame baseline).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import yaml
from emoavatar.errors import ConfigError
from emoavatar.training import add_run_options, trainer_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .checkpoint import NerfBundle, load_bundle, load_train_state, new_bundle, save_bundle, save_train_state
from .data import TrainData, load_training_data
from .losses import ShapeConsistency, identity_points, load_clip_loss, photometric_loss, refine_active
from .model import NerfModelConfig
from .render import CameraConfig, composite, head_rays, psnr, render_image, render_rays
from .renderer import pick_device


class NerfTrainConfig(BaseModel):
    """The YAML of `emoavatar train nerf` (see the README of emoavatar-plugin-nerf for every key)."""

    model_config = ConfigDict(extra="forbid")

    data: list[str] = Field(..., description="clip .npz files, folders of them, or videos of ONE person")
    output: str
    resolution: int = Field(256, ge=16, le=2048, description="training frame height (pixels)")
    iterations: int = Field(20000, ge=1)
    batch_rays: int = Field(4096, ge=16)
    n_samples: int = Field(32, ge=4, le=512)
    lr: float = Field(5e-3, gt=0)
    lr_final_ratio: float = Field(0.1, gt=0, le=1)
    face_fraction: float = Field(0.5, ge=0, le=1)
    mouth_fraction: float = Field(0.25, ge=0, le=1)
    holdout_every: int = Field(10, ge=0, description="every k-th frame is held out for validation (0: none)")
    val_every: int = Field(1000, ge=0)
    val_frames: int = Field(2, ge=1)
    eval_frames: int = Field(16, ge=1, description="held-out frames rendered for the final PSNR")
    checkpoint_every: int = Field(2000, ge=0)
    log_every: int = Field(100, ge=1)
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")
    threads: int | None = Field(None, ge=1)
    seed: int = 0
    model: dict = Field(default_factory=dict, description="NerfModelConfig overrides (n_levels, hidden, ...)")
    focal: float = Field(4.0, gt=0)
    occupancy_every: int = Field(0, ge=0, description="refresh the occupancy grid every k steps (0: only at the end)")
    occupancy_resolution: int = Field(32, ge=4, le=256)
    clip: str | None = Field(None, description="CLIP folder for L_cord (skipped when unset)")
    emotion: str | None = Field(None, description="emotion tag for L_cord (default: from the clips)")
    lambda_photo: float = Field(1.0, ge=0)
    lambda_cord: float = Field(1e-3, ge=0)
    lambda_shape: float = Field(1e-2, ge=0)
    refine_every: int = Field(1, ge=1, description="compute L_refine every k steps of the second half")
    clip_patch: int = Field(32, ge=8, le=224)
    background: Literal["median", "first"] = "median"
    face: str = "dlib"
    basis: str = "landmark-pca"


class NerfTrainer:
    """Holds data, model, optimizer and sampling RNG; ``run()`` trains and returns metrics."""

    def __init__(self, cfg: NerfTrainConfig, data: TrainData, log=print) -> None:
        self.cfg, self.log = cfg, log
        self.device = pick_device(cfg.device)
        self.out = Path(cfg.output)
        t = len(data.frames)
        idx = np.arange(t)
        if cfg.holdout_every and t >= 3:
            held = idx % cfg.holdout_every == cfg.holdout_every // 2
        else:
            held = np.zeros(t, bool)
        self.train, self.val = data.subset(idx[~held]), data.subset(idx[held]) if held.any() else None
        torch.manual_seed(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        frames = self.train.frames
        some = frames[np.linspace(0, len(frames) - 1, min(len(frames), 256)).round().astype(int)]
        plate = np.median(some, 0) if cfg.background == "median" else frames[0]  # median of <= 256 frames
        self.mean_frame = torch.from_numpy(frames.mean(0, dtype=np.float32) / 255.0)  # the PSNR baseline
        mcfg = NerfModelConfig.from_dict({"exp_dim_in": data.alpha.shape[1], **cfg.model})
        self.bundle: NerfBundle = new_bundle(
            mcfg, CameraConfig(focal=cfg.focal), torch.from_numpy(plate.astype(np.float32) / 255.0),
            cfg.occupancy_resolution,
            meta={"default_pose": np.median(self.train.pose, 0).tolist(), "pose_resolution": list(data.size),
                  "emotion": self.train.emotions[0], "fps": data.fps, "basis": data.basis})
        std = self.train.alpha.std(0)
        self.bundle.model.alpha_mean.copy_(torch.from_numpy(self.train.alpha.mean(0)))
        self.bundle.model.alpha_std.copy_(torch.from_numpy(np.where(std > 1e-4, std, 1.0).astype(np.float32)))
        self.bundle.to(self.device)
        self.model = self.bundle.model
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), eps=1e-15)
        self.shape = ShapeConsistency().to(self.device)
        self.clip = load_clip_loss(cfg.clip, self.device) if cfg.lambda_cord > 0 else None
        if self.clip is None:
            self.log("nerf: no CLIP weights configured (`clip:`): the emotion term L_cord is skipped")
        if data.landmarks is None and cfg.lambda_shape > 0:
            self.log("nerf: the clips have no landmarks: the shape term L_shape is skipped")
        self.step = 0
        # training tensors (frames as uint8 on the device; 256² x 1000 frames = 200 MB)
        self.frames = torch.from_numpy(self.train.frames).to(self.device)
        self.alpha = torch.from_numpy(self.train.alpha).to(self.device)
        self.pose = torch.from_numpy(self.train.pose).to(self.device)
        self.face_box = torch.from_numpy(self.train.face_box)
        self.mouth_box = torch.from_numpy(self.train.mouth_box)

    # -- sampling ------------------------------------------------------------------------
    def sample_pixels(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Frame indices and flat pixel indices of ``n`` rays (face/mouth boxes oversampled)."""
        h, w = self.train.size
        g = self.gen
        fi = torch.randint(len(self.train.frames), (n,), generator=g)
        u = torch.rand(n, generator=g)
        full = torch.tensor([0, 0, w - 1, h - 1]).expand(n, 4)
        box = torch.where((u < self.cfg.mouth_fraction)[:, None], self.mouth_box[fi],
                          torch.where((u < self.cfg.mouth_fraction + self.cfg.face_fraction)[:, None],
                                      self.face_box[fi], full))
        r = torch.rand(n, 2, generator=g)
        x = (box[:, 0] + r[:, 0] * (box[:, 2] - box[:, 0] + 1)).long().clamp(0, w - 1)
        y = (box[:, 1] + r[:, 1] * (box[:, 3] - box[:, 1] + 1)).long().clamp(0, h - 1)
        return fi.to(self.device), (y * w + x).to(self.device)

    def render_pixels(self, fi: torch.Tensor, pix: torch.Tensor, perturb: bool = True) -> dict[str, torch.Tensor]:
        h, w = self.train.size
        origins, dirs = head_rays(pix, self.pose[fi], h, w, self.bundle.camera)
        occ = self.bundle.occupancy if self.cfg.occupancy_every else None
        out = render_rays(self.model, origins, dirs, self.alpha[fi], self.cfg.n_samples, perturb, occ, self.gen)
        out["image"] = composite(out["rgb"], out["acc"], self.bundle.plate.view(-1, 3)[pix])
        return out

    def lr_at(self, step: int) -> float:
        frac = min(step / max(self.cfg.iterations, 1), 1.0)  # linear schedule (appendix V-C)
        return self.cfg.lr * (1.0 - (1.0 - self.cfg.lr_final_ratio) * frac)

    # -- one step ------------------------------------------------------------------------
    def refine_terms(self) -> dict[str, torch.Tensor]:
        """``L_cord`` and ``L_shape`` of eq. 16 on one random training frame."""
        terms: dict[str, torch.Tensor] = {}
        h, w = self.train.size
        i = int(torch.randint(len(self.train.frames), (1,), generator=self.gen))
        if self.cfg.lambda_shape > 0 and self.train.landmarks is not None:
            lm = torch.from_numpy(self.train.landmarks[i]).to(self.device)
            pts = identity_points(self.model, self.bundle.camera, self.pose[i], self.alpha[i], lm, h, w,
                                  self.cfg.n_samples)
            terms["shape"] = self.cfg.lambda_shape * self.shape(pts)
        if self.clip is not None:
            p = self.cfg.clip_patch
            x0, y0, x1, y1 = (int(v) for v in self.train.face_box[i])
            ys = torch.linspace(y0, y1, p).round().long()
            xs = torch.linspace(x0, x1, p).round().long()
            pix = (ys[:, None] * w + xs[None, :]).reshape(-1).to(self.device)
            fi = torch.full_like(pix, i)
            img = self.render_pixels(fi, pix)["image"].view(p, p, 3).permute(2, 0, 1)[None]
            terms["cord"] = self.cfg.lambda_cord * self.clip(img, self.train.emotions[i])
        return terms

    def train_step(self) -> dict[str, float]:
        for group in self.opt.param_groups:
            group["lr"] = self.lr_at(self.step)
        fi, pix = self.sample_pixels(self.cfg.batch_rays)
        out = self.render_pixels(fi, pix)
        target = self.frames[fi, pix // self.train.size[1], pix % self.train.size[1]].float() / 255.0
        photo = photometric_loss(out["image"], target)
        loss = self.cfg.lambda_photo * photo
        stats = {"photo": float(photo.detach())}
        if refine_active(self.step, self.cfg.iterations) and self.step % self.cfg.refine_every == 0:
            for name, term in self.refine_terms().items():
                loss = loss + term
                stats[name] = float(term.detach())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        if self.cfg.occupancy_every and self.step % self.cfg.occupancy_every == 0:
            self.update_occupancy(decay=0.9)
        stats["loss"] = float(loss.detach())
        return stats

    def update_occupancy(self, decay: float = 0.9, n_alpha: int = 16) -> float:
        pick = np.linspace(0, len(self.train.alpha) - 1, min(n_alpha, len(self.train.alpha))).round().astype(int)
        return self.bundle.occupancy.update(self.model, self.alpha[torch.from_numpy(pick).to(self.device)], decay)

    # -- validation / checkpoints ----------------------------------------------------------
    def evaluate(self, n_frames: int, save_as: Path | None = None, use_occupancy: bool | None = None
                 ) -> dict[str, float]:
        """Held-out PSNR of the NeRF and of the mean-frame baseline (full frame and face box)."""
        data = self.val or self.train
        pick = np.linspace(0, len(data.frames) - 1, min(n_frames, len(data.frames))).round().astype(int)
        mean = self.mean_frame
        use = bool(self.cfg.occupancy_every) if use_occupancy is None else use_occupancy
        occ = self.bundle.occupancy if use else None
        renders, gts, rows = [], [], []
        self.model.eval()
        for i in pick:
            img, _ = render_image(self.model, self.bundle.camera, torch.from_numpy(data.pose[i]),
                                  torch.from_numpy(data.alpha[i]), self.bundle.plate, self.cfg.n_samples, occ)
            renders.append(img.cpu())
            gts.append(torch.from_numpy(data.frames[i] / 255.0).float())
            rows.append(torch.cat([gts[-1], renders[-1], (gts[-1] - renders[-1]).abs() * 4], 1))
        self.model.train()
        x0, y0, x1, y1 = (int(v) for v in np.median(data.face_box[pick], 0))
        r, g = torch.stack(renders), torch.stack(gts)
        crop = (slice(None), slice(y0, y1 + 1), slice(x0, x1 + 1))
        res = {"psnr": psnr(r, g), "baseline_psnr": psnr(mean.expand_as(g), g),
               "psnr_face": psnr(r[crop], g[crop]), "baseline_psnr_face": psnr(mean.expand_as(g)[crop], g[crop]),
               "frames": len(pick), "held_out": self.val is not None}
        if save_as is not None:
            from emoavatar.media import write_image

            save_as.parent.mkdir(parents=True, exist_ok=True)
            write_image(save_as, (torch.cat(rows, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))
        return res

    def save(self) -> None:
        self.bundle.meta["step"] = self.step
        self.bundle.meta["n_samples"] = self.cfg.n_samples
        save_bundle(self.bundle, self.out)
        save_train_state(self.out, self.opt, self.step, {"generator": self.gen.get_state(),
                                                          "shape_reference": self.shape.reference.cpu(),
                                                          "shape_count": self.shape.count.cpu()})

    def resume(self) -> None:
        loaded = load_bundle(self.out, self.device)
        self.model.load_state_dict(loaded.model.state_dict())
        self.bundle.occupancy.density.copy_(loaded.occupancy.density)
        state = load_train_state(self.out)
        self.opt.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.gen.set_state(state["generator"])
        self.shape.reference.copy_(state["shape_reference"])
        self.shape.count.copy_(state["shape_count"])
        self.log(f"nerf: resumed from {self.out} at step {self.step}")

    def run(self, stop_after: int | None = None) -> dict[str, float]:
        """Train to ``cfg.iterations`` (or only up to step ``stop_after``, then checkpoint and return)."""
        cfg = self.cfg
        t0, s0 = time.perf_counter(), self.step
        while self.step < cfg.iterations:
            if stop_after is not None and self.step >= stop_after:
                self.save()
                self.log(f"nerf: stopped at step {self.step}; continue with --resume")
                return {"step": self.step, "it_per_s": (self.step - s0) / max(time.perf_counter() - t0, 1e-9)}
            stats = self.train_step()
            if self.step % cfg.log_every == 0 or self.step == cfg.iterations:
                rate = (self.step - s0) / max(time.perf_counter() - t0, 1e-9)
                parts = " ".join(f"{k}={v:.4g}" for k, v in stats.items())
                self.log(f"nerf step {self.step}/{cfg.iterations} {parts} "
                         f"psnr~{-10 * math.log10(max(stats['photo'], 1e-10)):.2f} ({rate:.2f} it/s)")
            if cfg.val_every and self.step % cfg.val_every == 0 and self.step < cfg.iterations:
                v = self.evaluate(cfg.val_frames, self.out / "val" / f"step_{self.step:07d}.png")
                self.log(f"nerf val step {self.step}: psnr {v['psnr']:.2f} dB (mean-frame {v['baseline_psnr']:.2f})")
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                self.save()
        rate = (self.step - s0) / max(time.perf_counter() - t0, 1e-9)
        if not cfg.occupancy_every:  # a fresh occupancy grid for fast rendering
            self.bundle.occupancy.density.fill_(0.0)
        self.update_occupancy(decay=0.0, n_alpha=32)
        self.save()
        res = self.evaluate(cfg.eval_frames, self.out / "val" / "final.png", use_occupancy=True)
        res.update(it_per_s=rate, step=self.step)
        (self.out / "metrics.json").write_text(json.dumps(res, indent=2))
        which = "held-out" if res["held_out"] else "training-frame"
        self.log(f"nerf done: {which} psnr {res['psnr']:.2f} dB (face {res['psnr_face']:.2f}) vs mean-frame "
                 f"{res['baseline_psnr']:.2f} (face {res['baseline_psnr_face']:.2f}); {rate:.2f} it/s -> {self.out}")
        return res


def load_config(path: str | Path, overrides: dict | None = None) -> NerfTrainConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"nerf training config {path} not found", fix="give the path of a YAML file")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of training options")
    if isinstance(raw.get("data"), str):
        raw["data"] = [raw["data"]]
    base = path.parent  # paths in the YAML are relative to it; command-line overrides to the cwd
    raw["data"] = [str(base / d) if not Path(d).expanduser().is_absolute() else d for d in raw.get("data", [])]
    if "output" in raw and not Path(raw["output"]).is_absolute():
        raw["output"] = str(base / raw["output"])
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return NerfTrainConfig.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {loc}: {first['msg']}", fix="see the emoavatar-plugin-nerf README for the keys") from e


def train(cfg: NerfTrainConfig, resume: bool = False, data: TrainData | None = None, log=print,
          stop_after: int | None = None) -> dict:
    """Train (or resume) and return the final metrics."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.output)
    if data is None:
        data = load_training_data(cfg.data, cfg.resolution, work_dir=out, face=cfg.face, basis=cfg.basis,
                                  emotion=cfg.emotion)
    trainer = NerfTrainer(cfg, data, log)
    if resume:
        trainer.resume()
    return trainer.run(stop_after)


def main(argv: list[str] | None = None) -> int:
    p = trainer_parser("nerf", __doc__)  # a training YAML instead of --data/--out (--output overrides its output)
    p.add_argument("config", help="training YAML (see the README of emoavatar-plugin-nerf)")
    p.add_argument("--iterations", type=int, help="override `iterations`")
    p.add_argument("--output", help="override `output`")
    p.add_argument("--device", help="override `device` (auto, cpu, cuda)")
    p.add_argument("--stop-after", type=int, help="checkpoint and stop after this step (resume later)")
    add_run_options(p, resume="continue from OUTPUT/train_state.pt", seed=False, device=False, threads=None)
    args = p.parse_args(argv)
    cfg = load_config(args.config, {"iterations": args.iterations, "output": args.output, "device": args.device})
    train(cfg, resume=args.resume, stop_after=args.stop_after)
    return 0
