"""`emoavatar train moee-stage1 | moee-stage2 CONFIG.yaml [--resume]`: MoEE's two training stages (§3.4, Fig. 4).

* stage 1 fine-tunes the ReferenceNet, the denoising U-Net and the projections on emotional talking
  clips (experts off), starting from Hallo's ``net.pth`` (``backbone:``), a checkpoint (``init:``) or,
  for the tiny test config, random weights;
* stage 2 freezes all of that and trains only the expert layers and gates (experts on, ``init:`` =
  the stage-1 folder); its ``paired`` option adds the paired-emotion loss of :mod:`.pairs` over clips
  that share their audio.

Loss: v-prediction MSE at a uniform random timestep, as Hallo trains its backbone: zero-SNR DDIM noise with
scaled-linear betas (``train_betas``; sampling uses the linear ones), offset noise (``noise_offset``) and the
min-SNR-gamma weight (``snr_gamma``). From random weights (the tiny config) the denoising U-Net's SD-1.5 modules
start from the ReferenceNet's (``shared_init``), as Hallo starts both from one SD-1.5 U-Net.
Each step takes ``clip_frames`` consecutive frames, the clip's reference image and the
``motion_frames`` frames before the window; with probability ``motion_dropout`` the motion frames are
the reference repeated instead (what the first clip of a video sees at inference), so the expression
must come from the conditions rather than be copied from the previous frames. The last ``holdout`` frames of every clip are never
trained on (nor fitted by the tiny VAE); at the end they are generated (DDIM, ``eval_steps``) as the renderer
generates a video, in ``clip_frames`` windows from the real frames before them, and ``metrics.json`` states
their PSNR beside mean-frame, last-frame, reference-copy and noise baselines.
Writes ``OUTPUT/net.safetensors``, ``vae/``, ``moee.json`` and ``train_state.pt`` (resume).
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

from .backbone import BackboneConfig, Net, is_expert_key, load_hallo
from .checkpoint import TRAIN_STATE, load_checkpoint, load_train_state, load_vae, save_checkpoint, save_train_state
from .data import Clip, load_clips
from .face import box_mask, frame_masks
from .motion import audio_windows
from .pairs import pair_groups, paired_loss
from .sampling import ClipCondition, encode, make_scheduler, sample_clip, tiny_vae, to_tensor, unet_inputs


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: list[str] = Field(..., description=".npz clips (see data.py) or folders of them")
    output: str
    size: Literal["real", "tiny"] = "real"
    init: str | None = Field(None, description="start from this checkpoint folder (stage 2: the stage-1 output)")
    backbone: str | None = Field(None, description="stage 1: start from Hallo's net.pth")
    vae: str | None = Field("stabilityai/sd-vae-ft-mse", description="SD-1.5 VAE folder / cached hub id; 'tiny' "
                            "= fit a small VAE on the clips first (test config only)")
    vae_steps: int = Field(300, ge=0)
    iterations: int = Field(1000, ge=1)
    lr: float = Field(1e-5, gt=0)
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="cosine: decay to 0 over `iterations`")
    warmup: int = Field(0, ge=0, description="linear learning-rate warm-up steps")
    clip_frames: int = Field(4, ge=1)
    motion_frames: int = Field(2, ge=0)
    motion_dropout: float = Field(0.5, ge=0, le=1, description="chance that the motion frames are the reference")
    paired: float = Field(0.0, ge=0, description="stage 2: weight of the paired-emotion loss (pairs.py) over clips that "
                          "share their audio frame for frame (same window, noise and timestep for all of them); 0 = off")
    snr_gamma: float = Field(5.0, ge=0, description="min-SNR-gamma loss weight min(SNR + 1, gamma) / (SNR + 1), the "
                             "v-prediction form Hallo trains with (snr_gamma 5.0); 0 = plain MSE")
    noise_offset: float = Field(0.05, ge=0, description="per-channel offset noise added to the training noise (Hallo: 0.05)")
    train_betas: Literal["linear", "scaled_linear"] = Field("scaled_linear", description="beta schedule of the training "
                                                            "noise (zero-SNR rescaled either way); Hallo trains with "
                                                            "scaled_linear and samples with linear")
    holdout: int = Field(4, ge=0, description="last frames of each clip never trained on (evaluated)")
    eval_steps: int = Field(20, ge=1, description="DDIM steps for the held-out frames (1: the model's x0 estimate from "
                            "pure noise, i.e. its conditional mean, the PSNR-optimal output)")
    frame_masks: bool = Field(True, description="draw the face-locator input and the face / lip masks from every frame's "
                              "own landmarks when the clips carry them (data.py), else from the first frame's")
    crop_scale: float = Field(2.2, gt=0.5, le=4.0, description="head-crop scale of the clips (face.head_crop); stored in "
                              "the checkpoint so that the renderer crops portraits alike")
    shared_init: bool = Field(True, description="random start (no `backbone:` / `init:`): the denoising U-Net's SD-1.5 "
                              "modules start from the ReferenceNet's weights, as Hallo starts both from one SD-1.5 U-Net")
    checkpoint_every: int = Field(500, ge=0)
    log_every: int = Field(50, ge=1)
    device: str = "cpu"
    threads: int | None = Field(None, ge=1)
    seed: int = 0


def load_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training config {path} not found", fix="give the path of a YAML file")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of training options")
    if isinstance(raw.get("data"), str):
        raw["data"] = [raw["data"]]
    base = path.parent
    raw["data"] = [d if Path(d).is_absolute() else str(base / d) for d in raw.get("data", [])]
    for k in ("output", "init", "backbone"):
        if raw.get(k) and not Path(raw[k]).is_absolute():
            raw[k] = str(base / raw[k])
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        raise ConfigError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}",
                          fix="see the diffusion plugin README for the training keys") from e


def clip_landmarks(clip: Clip, idx: np.ndarray, per_frame: bool = True) -> np.ndarray:
    """``[len(idx), 68, 2]``: the frames' own landmarks when the clip has them (and ``per_frame``), else the first
    frame's repeated (the static masks of a clip without per-frame landmarks)."""
    if per_frame and clip.frame_landmarks is not None:
        return clip.frame_landmarks[idx]
    return np.broadcast_to(clip.landmarks, (len(idx), *clip.landmarks.shape))


def clip_condition(net: Net, clip: Clip, idx: np.ndarray, latent_size: int, experts: bool,
                   per_frame: bool = True) -> ClipCondition:
    bc = net.config
    win = audio_windows(clip.audio, bc.audio_window)[idx]
    audio = torch.from_numpy(win.reshape(len(idx), bc.audio_window, bc.audio_blocks, bc.audio_channels))
    n = len(idx)
    masks, face = frame_masks(clip_landmarks(clip, idx, per_frame), latent_size)
    gates = torch.from_numpy(clip.gates[idx])
    return ClipCondition(audio=audio, gates=gates, intensity=torch.ones(n), region=None,
                         masks={k: torch.from_numpy(v) for k, v in masks.items()}, face_mask=torch.from_numpy(face),
                         identity=torch.zeros(1, bc.face_embedding_dim))


def _window_indices(start: int, frames: int, motion: int) -> tuple[np.ndarray, list[int]]:
    """The window's frame indices and its ``max(motion, 1)`` motion frames' (the frames before it)."""
    return np.arange(start, start + frames), [max(start - motion + i, 0) for i in range(max(motion, 1))]


def _window(clip: Clip, start: int, frames: int, motion: int, use_reference: bool = False):
    """Frame indices, the reference image [1,3,H,W] and the motion frames [m,3,H,W] for a window."""
    idx, mot = _window_indices(start, frames, motion)
    ref = to_tensor(clip.ref_image[None])
    if use_reference:
        return idx, ref, ref.repeat(len(mot), 1, 1, 1)
    return idx, ref, to_tensor(clip.frames[mot])


@torch.no_grad()
def clip_latents(vae, clips: list[Clip], scale: float, holdout: int, motion: int, chunk: int = 16) -> dict:
    """``{id(clip): (latents of its training frames [n - holdout, 4, h, w], the reference's [1, 4, h, w], the
    reference + motion frames' when they are the reference [1 + m, 4, h, w])}``, encoded once (the VAE is frozen,
    its posterior mean deterministic) instead of at every step; bit for bit the latents encoded per step."""
    out = {}
    for c in clips:
        x, ref = to_tensor(c.frames[:len(c.frames) - holdout]), to_tensor(c.ref_image[None])
        out[id(c)] = (torch.cat([encode(vae, x[i:i + chunk], scale) for i in range(0, len(x), chunk)]),
                      encode(vae, ref, scale), encode(vae, torch.cat([ref, ref.repeat(max(motion, 1), 1, 1, 1)]), scale))
    return out


def adam(params: list[torch.nn.Parameter], lr: float) -> torch.optim.AdamW:
    """AdamW without weight decay (= Adam), fused into one kernel per step where PyTorch has one (CPU, CUDA): on the
    tiny config's ~940 parameter tensors the per-tensor update took 43 ms a step on one CPU thread, the fused one 16 ms.
    The two differ only in float rounding (~3e-8 after 60 steps)."""
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype in (torch.float32, torch.float16, torch.bfloat16) for p in params)
    return torch.optim.AdamW(params, lr=lr, weight_decay=0.0, fused=fused or None)


def fit_tiny_vae(clips: list[Clip], steps: int, lr: float = 2e-3, log=print, holdout: int = 0):
    """Test config only: no pretrained VAE exists at that size, so fit one on the training frames (the last
    ``holdout`` frames of each clip, which are evaluated, are left out)."""
    vae = tiny_vae()
    x = torch.cat([to_tensor(np.concatenate([c.frames[:len(c.frames) - holdout], c.ref_image[None]])) for c in clips])
    opt = adam(list(vae.parameters()), lr)
    for s in range(steps):
        b = x[torch.randint(0, len(x), (8,))]
        post = vae.encode(b).latent_dist
        rec = vae.decode(post.mean).sample
        loss = torch.nn.functional.mse_loss(rec, b) + 1e-6 * post.kl().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if s % 100 == 0:
            log(f"vae step {s} loss {loss.item():.4f}")
    return vae.eval().requires_grad_(False)


def build(cfg: TrainConfig, stage: int, clips: list[Clip], log=print):
    if cfg.init:
        net, vae, meta = load_checkpoint(cfg.init)
        return net, vae
    if stage == 2:
        raise ConfigError("moee-stage2 needs `init:` (the stage-1 output folder)", fix="train moee-stage1 first")
    net = Net(BackboneConfig.tiny(int(clips[0].audio.shape[1])) if cfg.size == "tiny" else BackboneConfig.real())
    if cfg.backbone:
        extra = load_hallo(net, cfg.backbone)
        log(f"loaded {cfg.backbone}; {len(extra)} expert keys are new")
    elif cfg.shared_init:
        shared = share_reference_init(net)
        log(f"denoising U-Net: {shared} tensors start from the ReferenceNet's")
    if cfg.vae == "tiny":
        vae = fit_tiny_vae(clips, cfg.vae_steps, log=log, holdout=cfg.holdout)
        with torch.no_grad():  # unit-variance latents, as SD's 0.18215 gives for its VAE
            z = torch.cat([vae.encode(to_tensor(c.frames[:len(c.frames) - cfg.holdout:4])).latent_dist.mean for c in clips])
        net.config.vae_scale = float(1.0 / z.std())
        log(f"tiny VAE latent scale {net.config.vae_scale:.4f}")
    else:
        vae = load_vae(cfg.vae, True)
    return net, vae


def share_reference_init(net: Net) -> int:
    """Start the denoising U-Net's SD-1.5 modules (every key it shares with the ReferenceNet, same shape: conv_in, time
    embedding, resnets, spatial transformers, samplers) from the ReferenceNet's weights, as Hallo initialises both from
    the same SD-1.5 U-Net; its own modules (motion, audio, experts, conv_out) keep their initialisation. Returns the
    number of tensors copied."""
    own = net.denoising_unet.state_dict()
    shared = {k: v for k, v in net.reference_unet.state_dict().items() if k in own and own[k].shape == v.shape}
    net.denoising_unet.load_state_dict(shared, strict=False)
    return len(shared)


def snr_of(sched) -> torch.Tensor:
    """Signal-to-noise ratio ``alpha_bar / (1 - alpha_bar)`` of every training timestep (0 at zero-SNR's last one)."""
    return sched.alphas_cumprod / (1 - sched.alphas_cumprod).clamp_min(1e-12)


def min_snr_weight(snr: torch.Tensor | float, gamma: float) -> float:
    """Min-SNR-gamma loss weight in the v-prediction form Hallo trains with: ``min(SNR + 1, gamma) / (SNR + 1)``
    (1 at the noisy timesteps, down-weighting the nearly clean ones)."""
    s = float(snr) + 1.0
    return min(s, gamma) / s


def trainable(net: Net, stage: int) -> list[torch.nn.Parameter]:
    """Stage 1: everything but the experts. Stage 2: only the experts and gates (the rest frozen)."""
    params = []
    for name, p in net.named_parameters():
        p.requires_grad_(is_expert_key(name) == (stage == 2))
        if p.requires_grad:
            params.append(p)
    return params


def lr_schedule(cfg: TrainConfig):
    """Step -> learning rate: linear warm-up over ``warmup`` steps, then constant or cosine decay to 0."""

    def at(step: int) -> float:
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        if cfg.lr_schedule == "cosine":
            span = max(cfg.iterations - cfg.warmup, 1)
            return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(step - cfg.warmup, span) / span))
        return cfg.lr

    return at


def latent_size_of(vae, clip: Clip) -> int:
    return clip.frames.shape[1] // (2 ** (len(vae.config.block_out_channels) - 1))


def train(cfg: TrainConfig, stage: int, resume: bool = False, log=print) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    clips = load_clips(cfg.data)
    out = Path(cfg.output)
    if resume and (out / TRAIN_STATE).is_file():
        cfg = cfg.model_copy(update={"init": str(out)})
    net, vae = build(cfg, stage, clips, log)
    vae.requires_grad_(False)
    params = trainable(net, stage)
    opt = adam(params, cfg.lr)
    step = load_train_state(out, opt) if resume and (out / TRAIN_STATE).is_file() else 0
    lr_at = lr_schedule(cfg)  # a function of the step, so --resume continues it
    sched = make_scheduler(cfg.train_betas)
    snr = snr_of(sched)
    scale = net.config.vae_scale
    experts = stage == 2
    for clip in clips:
        if len(clip.frames) - cfg.holdout - cfg.clip_frames < 1:
            raise ConfigError(f"clip {clip.name} is too short for clip_frames + holdout", fix="use longer clips")
    latents = clip_latents(vae, clips, scale, cfg.holdout, cfg.motion_frames)
    net.train()
    t0, losses = time.time(), []
    groups = pair_groups(clips) if cfg.paired and stage == 2 else [[i] for i in range(len(clips))]
    while step < cfg.iterations:
        group = [clips[i] for i in groups[rng.integers(len(groups))]]
        clip = group[0]
        usable = len(clip.frames) - cfg.holdout - cfg.clip_frames
        start = int(rng.integers(1, usable + 1))
        use_ref = rng.random() < cfg.motion_dropout
        idx, mot = _window_indices(start, cfg.clip_frames, cfg.motion_frames)
        noise, t, preds, targets = None, None, [], []
        for clip in group:  # one clip, or a group sharing the window, noise and timestep (pairs.py)
            lat, ref_lat, dropped = latents[id(clip)]
            x0 = lat[idx]
            ref_lat = dropped if use_ref else torch.cat([ref_lat, lat[mot]])
            if noise is None:
                noise = torch.randn_like(x0)
                if cfg.noise_offset:
                    noise = noise + cfg.noise_offset * torch.randn(1, noise.shape[1], 1, 1)
                t = torch.randint(0, sched.config.num_train_timesteps, (1,)).expand(len(idx))
            targets.append(sched.get_velocity(x0, noise, t))
            cond = clip_condition(net, clip, idx, x0.shape[-1], experts, cfg.frame_masks)
            cond = unet_inputs(net, cond, ref_lat, experts=experts)
            preds.append(net.denoising_unet(sched.add_noise(x0, noise, t), t, len(idx), cond))
        loss = paired_loss(preds, targets, cfg.paired)
        if cfg.snr_gamma:
            loss = loss * min_snr_weight(snr[t[0]], cfg.snr_gamma)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        losses.append(loss.item())
        if step % cfg.log_every == 0:
            log(f"stage {stage} step {step} loss {np.mean(losses[-cfg.log_every:]):.4f} ({time.time() - t0:.0f}s)")
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            _save(out, net, vae, opt, step, stage, clips, cfg.crop_scale)
    _save(out, net, vae, opt, step, stage, clips, cfg.crop_scale)
    metrics = {"stage": stage, "step": step, "loss_first": float(np.mean(losses[:20])) if losses else math.nan,
               "loss_last": float(np.mean(losses[-20:])) if losses else math.nan}
    if cfg.holdout:
        metrics.update(evaluate_holdout(net, vae, clips, cfg, experts))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    log(json.dumps(metrics))
    return metrics


def _save(out: Path, net: Net, vae, opt, step: int, stage: int, clips: list[Clip], crop_scale: float) -> None:
    save_checkpoint(out, net, vae, {"stage": stage, "step": step, "resolution": int(clips[0].frames.shape[1]),
                                    "crop_scale": crop_scale})
    save_train_state(out, opt, step)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * math.log10(255.0 ** 2 / max(mse, 1e-10))


@torch.no_grad()
def generate_holdout(net: Net, vae, clip: Clip, cfg: TrainConfig, experts: bool, gen: torch.Generator) -> np.ndarray:
    """The last ``holdout`` frames generated as the renderer generates a video: in windows of ``clip_frames`` (the
    length trained on), the first conditioned on the ``motion_frames`` real frames before them, each later one on
    the last generated frames of the window before (clip-to-clip continuity). uint8 ``[holdout, S, S, 3]``."""
    n = len(clip.frames)
    ref = to_tensor(clip.ref_image[None])
    m = max(cfg.motion_frames, 1)
    _, _, prev = _window(clip, n - cfg.holdout, 1, cfg.motion_frames)
    out = []
    for a in range(n - cfg.holdout, n, cfg.clip_frames):
        idx = np.arange(a, min(a + cfg.clip_frames, n))
        cond = clip_condition(net, clip, idx, latent_size_of(vae, clip), experts, cfg.frame_masks)
        frames = sample_clip(net, vae, cond, ref, prev, cfg.eval_steps, gen, net.config.vae_scale).clamp(-1, 1)
        prev = torch.cat([prev, frames])[-m:]
        out.append(frames)
    return ((torch.cat(out) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def evaluate_holdout(net: Net, vae, clips: list[Clip], cfg: TrainConfig, experts: bool) -> dict:
    """PSNR of generated held-out frames vs. the mean training frame, uniform noise, a copy of the reference
    image (the identity input) and a copy of the last frame before the held-out window (which the model
    also sees, as its motion frames). The held-out frames are generated by :func:`generate_holdout`."""
    net.eval()
    gen = torch.Generator().manual_seed(cfg.seed)
    ours, mean_b, noise_b, last_b, ref_b, mouth, mouth_mean = [], [], [], [], [], [], []
    rng = np.random.default_rng(cfg.seed)
    for clip in clips:
        n = len(clip.frames)
        start = n - cfg.holdout
        fake = generate_holdout(net, vae, clip, cfg, experts, gen)
        idx = np.arange(start, n)
        real = clip.frames[idx]
        mean = clip.frames[:start].mean(0)
        ours.append(psnr(fake, real))
        mean_b.append(psnr(np.broadcast_to(mean, real.shape), real))
        noise_b.append(psnr(rng.integers(0, 256, real.shape), real))
        last_b.append(psnr(np.broadcast_to(clip.frames[start - 1], real.shape), real))
        ref_b.append(psnr(np.broadcast_to(clip.ref_image, real.shape), real))
        m = box_mask(clip.landmarks[48:68], real.shape[1], 0.4).astype(bool)  # the mouth box, where speech moves
        mouth.append(psnr(fake[:, m], real[:, m]))
        mouth_mean.append(psnr(np.broadcast_to(mean[m], real[:, m].shape), real[:, m]))
    net.train()
    return {"holdout_psnr": float(np.mean(ours)), "mean_frame_psnr": float(np.mean(mean_b)),
            "noise_psnr": float(np.mean(noise_b)), "last_frame_psnr": float(np.mean(last_b)),
            "reference_psnr": float(np.mean(ref_b)),
            "mouth_psnr": float(np.mean(mouth)), "mouth_mean_frame_psnr": float(np.mean(mouth_mean))}


def _main(argv: list[str] | None, stage: int) -> int:
    p = trainer_parser(f"moee-stage{stage}", __doc__)
    p.add_argument("config", help="training YAML")
    p.add_argument("--iterations", type=int)
    p.add_argument("--output")
    add_run_options(p, resume="continue from OUTPUT/train_state.pt", seed=False, device=False, threads=None)
    args = p.parse_args(argv)
    cfg = load_config(args.config, {"iterations": args.iterations, "output": args.output})
    train(cfg, stage, resume=args.resume)
    return 0


def main_stage1(argv: list[str] | None = None) -> int:
    return _main(argv, 1)


def main_stage2(argv: list[str] | None = None) -> int:
    return _main(argv, 2)
