"""Conditioning, VAE and DDIM sampling of one clip, with motion frames carried between clips.

The scheduler is the one Hallo's backbone was trained with: DDIM, linear betas 0.00085-0.012,
v-prediction, zero terminal SNR (rescaled betas), ``trailing`` timestep spacing, ``steps_offset=1``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler

from .backbone import EXPERTS, Net

SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="linear", clip_sample=False,
                 steps_offset=1, prediction_type="v_prediction", rescale_betas_zero_snr=True, timestep_spacing="trailing")


def make_scheduler(betas: str = "linear") -> DDIMScheduler:
    """The backbone's DDIM scheduler; ``betas="scaled_linear"``: the same with Hallo's training beta schedule."""
    return DDIMScheduler(**{**SCHEDULER, "beta_schedule": betas})


def tiny_vae() -> AutoencoderKL:
    """A 2x-downsampling VAE for the tiny test config (SD-1.5's VAE is 8x, 4 channels)."""
    return AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(16, 32), latent_channels=4,
                         norm_num_groups=8, layers_per_block=1)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float ``[N, 3, H, W]`` in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def encode(vae: AutoencoderKL, x: torch.Tensor, scale: float) -> torch.Tensor:
    return vae.encode(x).latent_dist.mean * scale


def decode(vae: AutoencoderKL, z: torch.Tensor, scale: float) -> torch.Tensor:
    return vae.decode(z / scale).sample


@dataclass
class ClipCondition:
    """What conditions one clip of ``frames`` frames (batch 1)."""

    audio: torch.Tensor  # [f, window, blocks, channels] wav2vec2 windows
    gates: torch.Tensor  # [f, 6] global expert gates
    intensity: torch.Tensor  # [f]
    region: torch.Tensor | None  # [f, H, W, 6] region prior painted on the face, or None
    masks: dict  # full/face/lip: [f, H, W] in [0, 1] at latent size
    face_mask: torch.Tensor  # [f or 1, 3, H, W] face-locator input (per frame, or one for all) at latent size * 8
    identity: torch.Tensor  # [1, face_embedding_dim]
    latent: torch.Tensor | None = None  # [f, latent_dim]

    @property
    def frames(self) -> int:
        return int(self.audio.shape[0])

    def to(self, device: torch.device, dtype: torch.dtype = torch.float32) -> "ClipCondition":
        def mv(x):
            return None if x is None else x.to(device=device, dtype=dtype)

        return ClipCondition(mv(self.audio), mv(self.gates), mv(self.intensity), mv(self.region),
                             {k: mv(v) for k, v in self.masks.items()}, mv(self.face_mask), mv(self.identity),
                             mv(self.latent))

    def unconditional(self) -> "ClipCondition":
        """The classifier-free guidance branch as Hallo runs it: audio and identity embedding zeroed (the
        reference image, motion frames, masks and emotion gates are kept)."""
        return replace(self, audio=torch.zeros_like(self.audio), identity=torch.zeros_like(self.identity))


def unet_inputs(net: Net, c: ClipCondition, ref_latents: torch.Tensor, experts: bool = True) -> dict:
    """Run the projections and the ReferenceNet (reference + motion frames) once per clip."""
    f = c.frames
    ident = net.imageproj(c.identity).repeat(f, 1, 1)
    audio = net.audioproj(c.audio)
    bank = net.bank
    bank.clear()
    bank["_on"] = True
    net.reference_unet(ref_latents, torch.zeros(ref_latents.shape[0], device=ref_latents.device, dtype=ref_latents.dtype),
                       encoder_hidden_states=ident[:1].repeat(ref_latents.shape[0], 1, 1))
    bank["_on"] = False
    reference, motion = {}, {}
    for layer, h in bank.items():
        if layer.startswith("_"):
            continue
        reference[layer] = h[:1]
        if h.shape[0] > 1:
            big_h, big_w = ref_latents.shape[-2:]
            s = int(round((big_h * big_w / h.shape[1]) ** 0.5))
            m = h[1:]
            motion[layer] = m.transpose(1, 2).reshape(m.shape[0], m.shape[2], big_h // s, big_w // s)
    bank.clear()
    locator = net.face_locator(c.face_mask)
    locator = locator if locator.shape[0] == f else locator.repeat(f, 1, 1, 1)
    cond = {"identity": ident, "audio": audio, "reference": reference, "motion_frames": motion, "masks": c.masks,
            "locator": locator}
    if experts:
        parts = [c.gates, c.intensity[:, None]]
        if net.config.latent_dim:
            lat = c.latent if c.latent is not None else c.gates.new_zeros(f, net.config.latent_dim)
            parts.append(lat)
        token = net.moee_emotion(torch.cat(parts, dim=1))[:, None]
        cond["moee"] = {"token": token, "global": c.gates, "region": c.region}
    return cond


@torch.no_grad()
def sample_clip(net: Net, vae: AutoencoderKL, c: ClipCondition, ref_image: torch.Tensor, motion_images: torch.Tensor,
                steps: int, generator: torch.Generator, scale: float, guidance: float = 1.0) -> torch.Tensor:
    """DDIM-sample one clip. ``ref_image`` [1,3,H,W], ``motion_images`` [m,3,H,W] (the previous clip's last
    frames, or the reference repeated for the first clip), all in [-1, 1]. Returns frames [f,3,H,W].

    ``guidance`` != 1: classifier-free guidance ``v = v_u + guidance (v_c - v_u)`` with the unconditional
    branch of :meth:`ClipCondition.unconditional` (Hallo: 3.5); 1 = the conditional model alone."""
    sched = make_scheduler()
    sched.set_timesteps(steps)
    ref_lat = encode(vae, torch.cat([ref_image, motion_images]), scale)
    c = c.to(ref_lat.device, ref_lat.dtype)
    cond = unet_inputs(net, c, ref_lat)
    uncond = unet_inputs(net, c.unconditional(), ref_lat) if guidance != 1.0 else None
    z = torch.randn((c.frames, *ref_lat.shape[1:]), generator=generator).to(ref_lat.device, ref_lat.dtype)
    for t in sched.timesteps:
        zin = sched.scale_model_input(z, t)
        v = net.denoising_unet(zin, t, c.frames, cond)
        if uncond is not None:
            v_u = net.denoising_unet(zin, t, c.frames, uncond)
            v = v_u + guidance * (v - v_u)
        z = sched.step(v, t, z).prev_sample
    return decode(vae, z, scale).float().cpu()


def expert_names() -> tuple[str, ...]:
    return EXPERTS
