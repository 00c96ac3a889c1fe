"""The denoising U-Net with temporal motion modules, audio modules and MoEE experts.

Layout (parameter names) follows SD-1.5's UNet and Hallo's ``denoising_unet`` exactly, so Hallo's
``net.pth`` loads strictly; the MoEE expert layers (``...audio_modules.*.transformer_blocks.0.moee.*``)
are the only extra keys. Per block: ResNet -> spatial transformer (self-attention over the frame and
the ReferenceNet's features of the same layer, cross-attention to identity tokens) -> audio module
(audio cross-attention + experts) -> motion module (temporal attention with the motion frames).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.resnet import Downsample2D, ResnetBlock2D, Upsample2D
from torch import nn

from .blocks import AudioModule, MotionModule, SpatialTransformer, resize_mask


@dataclass
class UNetConfig:
    """SD-1.5 sizes by default (Hallo's); tests use a tiny one."""

    block_out_channels: tuple[int, ...] = (320, 640, 1280, 1280)
    layers_per_block: int = 2
    heads: int = 8
    cross_attention_dim: int = 768
    audio_attention_dim: int = 768
    norm_num_groups: int = 32
    in_channels: int = 4
    motion_max_len: int = 32
    n_experts: int = 6
    cross_blocks: tuple[bool, ...] = field(default=(True, True, True, False))  # down order; up is reversed

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        d = dict(d)
        for k in ("block_out_channels", "cross_blocks"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


def _resnet(cin: int, cout: int, temb: int, groups: int) -> ResnetBlock2D:
    return ResnetBlock2D(in_channels=cin, out_channels=cout, temb_channels=temb, groups=groups, eps=1e-5)


class _Stage(nn.Module):
    """One down/mid/up stage: resnets + (attentions, audio_modules) + motion_modules (+ sampler)."""

    def __init__(self, cfg: UNetConfig, ins: list[int], out: int, cross: bool, temb: int,
                 down: bool = False, up: bool = False, n_tf: int | None = None, audio_inner: list[int] | None = None) -> None:
        super().__init__()
        g = cfg.norm_num_groups
        self.resnets = nn.ModuleList([_resnet(c, out, temb, g) for c in ins])
        n_tf = len(ins) if n_tf is None else n_tf
        if cross:
            self.attentions = nn.ModuleList([SpatialTransformer(out, cfg.heads, cfg.cross_attention_dim, g) for _ in range(n_tf)])
            inner = audio_inner or [out] * n_tf  # Hallo's audio attention width per layer
            self.audio_modules = nn.ModuleList([AudioModule(out, inner[j], cfg.heads, cfg.audio_attention_dim, cfg.n_experts, g)
                                                for j in range(n_tf)])
        self.motion_modules = nn.ModuleList([MotionModule(out, cfg.heads, cfg.motion_max_len, g) for _ in range(n_tf)])
        if down:
            self.downsamplers = nn.ModuleList([Downsample2D(out, use_conv=True, out_channels=out, padding=1, name="op")])
        if up:
            self.upsamplers = nn.ModuleList([Upsample2D(out, use_conv=True, out_channels=out)])


class DenoisingUNet(nn.Module):
    """``forward(latents [(b f), 4, h, w], t, frames, cond) -> v-prediction`` (same shape).

    ``cond``: ``identity`` [(b f), K, 768] tokens, ``audio`` [(b f), A, 768] tokens, ``reference``
    {layer name: [b, (h w), c] ReferenceNet features}, ``motion_frames`` {layer: [(b m), c, h, w]},
    ``masks`` {full/face/lip: [(b f), H, W]}, ``moee`` {token, global, region [(b f), H, W, E]},
    ``locator`` [(b f), C0, h, w] face-locator features added after ``conv_in``."""

    def __init__(self, cfg: UNetConfig) -> None:
        super().__init__()
        self.config = cfg
        ch, g, lpb = cfg.block_out_channels, cfg.norm_num_groups, cfg.layers_per_block
        temb = ch[0] * 4
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.time_proj = Timesteps(ch[0], flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        self.down_blocks = nn.ModuleList()
        prev = ch[0]
        for i, c in enumerate(ch):
            last = i == len(ch) - 1
            ins = [prev] + [c] * (lpb - 1)
            self.down_blocks.append(_Stage(cfg, ins, c, cfg.cross_blocks[i], temb, down=not last, audio_inner=ins))
            prev = c
        self.mid_block = _Stage(cfg, [ch[-1], ch[-1]], ch[-1], True, temb, n_tf=1)
        self.up_blocks = nn.ModuleList()
        rev, cross_rev = list(reversed(ch)), list(reversed(cfg.cross_blocks))
        prev = ch[-1]
        for i, c in enumerate(rev):
            skip_in = rev[min(i + 1, len(ch) - 1)]
            ins = [(prev if j == 0 else c) + (skip_in if j == lpb else c) for j in range(lpb + 1)]
            self.up_blocks.append(_Stage(cfg, ins, c, cross_rev[i], temb, up=i < len(ch) - 1, audio_inner=[skip_in] * (lpb + 1)))
            prev = c
        self.conv_norm_out = nn.GroupNorm(g, ch[0], eps=1e-5)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[0], cfg.in_channels, 3, padding=1)

    def _stage(self, name: str, stage: _Stage, h: torch.Tensor, temb: torch.Tensor, frames: int, cond: dict,
               skips: list | None = None, out: list | None = None, mid: bool = False) -> torch.Tensor:
        resnets = list(stage.resnets)
        if mid:  # the mid block: resnet, then (transformer, audio, motion, resnet)
            h = resnets.pop(0)(h, temb)
        for j, resnet in enumerate(resnets):
            if skips is not None:
                h = torch.cat([h, skips.pop()], dim=1)
            if not mid:
                h = resnet(h, temb)
            h = self._layer(name, stage, j, h, frames, cond)
            if mid:
                h = resnet(h, temb)
            if out is not None:
                out.append(h)
        return h

    def _layer(self, name: str, stage: _Stage, j: int, h: torch.Tensor, frames: int, cond: dict) -> torch.Tensor:
        layer = f"{name}.attentions.{j}"
        motion = cond.get("motion_frames", {}).get(layer)
        if hasattr(stage, "attentions"):
            ref = cond.get("reference", {}).get(layer)
            if ref is not None:
                ref = ref.repeat_interleave(frames, dim=0)
            h = stage.attentions[j](h, cond.get("identity"), ref)
            masks = {k: resize_mask(v, h.shape[-2:]) for k, v in cond.get("masks", {}).items()}
            moee = cond.get("moee")
            if moee is not None:
                moee = {**moee, "region": resize_mask(moee["region"], h.shape[-2:]) if moee.get("region") is not None
                        else None}
            h = stage.audio_modules[j](h, cond["audio"], masks, moee)
        return stage.motion_modules[j](h, frames, motion)

    def forward(self, x: torch.Tensor, t: torch.Tensor, frames: int, cond: dict) -> torch.Tensor:
        t = t.reshape(-1).to(x.device)
        if t.numel() == 1:
            t = t.expand(x.shape[0])
        temb = self.time_embedding(self.time_proj(t).to(x.dtype))
        h = self.conv_in(x)
        if cond.get("locator") is not None:
            h = h + cond["locator"]
        skips = [h]
        for i, block in enumerate(self.down_blocks):
            h = self._stage(f"down_blocks.{i}", block, h, temb, frames, cond, out=skips)
            if hasattr(block, "downsamplers"):
                h = block.downsamplers[0](h)
                skips.append(h)
        h = self._stage("mid_block", self.mid_block, h, temb, frames, cond, mid=True)
        for i, block in enumerate(self.up_blocks):
            h = self._stage(f"up_blocks.{i}", block, h, temb, frames, cond, skips=skips)
            if hasattr(block, "upsamplers"):
                h = block.upsamplers[0](h)
        return self.conv_out(self.conv_act(self.conv_norm_out(h)))
