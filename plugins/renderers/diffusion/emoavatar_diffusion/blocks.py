"""Transformer blocks of the denoising U-Net, named as in Hallo's checkpoint layout.

Built from diffusers building blocks (``Attention``, ``FeedForward``). Frames are folded into the
batch (``(b f) c h w``), so 2-D layers act per frame ("inflated"); only the motion modules mix time.

* :class:`SpatialTransformer`: self-attention whose keys/values also hold the ReferenceNet's hidden
  states of the same layer (MoEE §3.1, the Reference Net), then cross-attention to the identity tokens.
* :class:`MotionModule`: temporal self-attention over frames (AnimateDiff-style), with the previous
  clip's motion frames prepended for clip-to-clip continuity.
* :class:`AudioModule`: audio cross-attention, masked to the full / face / lip regions, plus MoEE's
  expert attention (:class:`ExpertAttention`, the only layers Hallo's checkpoint does not have).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from diffusers.models.attention import FeedForward
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from torch import nn


def _attn(dim: int, heads: int, cross_dim: int | None = None) -> Attention:
    return Attention(query_dim=dim, cross_attention_dim=cross_dim, heads=heads, dim_head=dim // heads, bias=False)


def attend(attn: Attention, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
    """``attn(x, encoder_hidden_states=context)`` for ``[b, n, c]`` tokens. With diffusers' default processor the
    same operations as ``AttnProcessor2_0`` (q/k/v projections, scaled-dot-product attention, output projection)
    are run here directly, bit for bit the same: diffusers' ``Attention.forward`` inspects the processor's signature at
    every call (tiny config, one CPU thread: the denoiser's forward + backward 252 -> 243 ms). Any other processor
    (e.g. one set for a GPU) runs as diffusers runs it."""
    if type(attn.processor) is not AttnProcessor2_0 or attn.norm_cross or attn.group_norm is not None \
            or attn.spatial_norm is not None or attn.norm_q is not None or attn.norm_k is not None \
            or attn.residual_connection or attn.rescale_output_factor != 1.0:
        return Attention.forward(attn, x, encoder_hidden_states=context)
    b = x.shape[0]
    ctx = x if context is None else context
    q, k, v = attn.to_q(x), attn.to_k(ctx), attn.to_v(ctx)
    d = k.shape[-1] // attn.heads
    q, k, v = (t.view(b, -1, attn.heads, d).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=False)
    return attn.to_out[1](attn.to_out[0](out.transpose(1, 2).reshape(b, -1, attn.heads * d)))


def zero_module(m: nn.Module) -> nn.Module:
    for p in m.parameters():
        nn.init.zeros_(p)
    return m


class _Block(nn.Module):
    """attn1 (self + reference), attn2 (identity tokens), ff — keys norm1/attn1/norm2/attn2/ff/norm3."""

    def __init__(self, dim: int, heads: int, cross_dim: int) -> None:
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), _attn(dim, heads)
        self.norm2, self.attn2 = nn.LayerNorm(dim), _attn(dim, heads, cross_dim)
        self.ff, self.norm3 = FeedForward(dim, activation_fn="geglu"), nn.LayerNorm(dim)

    def forward(self, h: torch.Tensor, context: torch.Tensor | None, reference: torch.Tensor | None) -> torch.Tensor:
        n = self.norm1(h)
        kv = n if reference is None else torch.cat([n, reference], dim=1)  # ReferenceNet keys/values
        h = attend(self.attn1, n, kv) + h
        if context is not None:
            h = attend(self.attn2, self.norm2(h), context) + h
        return self.ff(self.norm3(h)) + h


class SpatialTransformer(nn.Module):
    """GroupNorm -> 1x1 proj_in -> block -> 1x1 proj_out, residual (keys as SD-1.5's Transformer2DModel)."""

    def __init__(self, dim: int, heads: int, cross_dim: int, groups: int = 32) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.proj_in = nn.Conv2d(dim, dim, 1)
        self.transformer_blocks = nn.ModuleList([_Block(dim, heads, cross_dim)])
        self.proj_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None, reference: torch.Tensor | None = None) -> torch.Tensor:
        bf, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(bf, hh * ww, c)
        h = self.transformer_blocks[0](h, context, reference)
        return self.proj_out(h.reshape(bf, hh, ww, c).permute(0, 3, 1, 2)) + x


class PositionalEncoding(nn.Module):
    """Sinusoidal frame-position encoding added before temporal attention (buffer ``pe`` [1, L, C])."""

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        pos = torch.arange(max_len).unsqueeze(1)
        div = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
        pe = torch.zeros(1, max_len, dim)
        pe[0, :, 0::2], pe[0, :, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
        self.register_buffer("pe", pe)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.pe[:, : h.shape[1]]


class TemporalAttention(Attention):
    """Self-attention over the frame axis of ``[(b d), f, c]`` with the position encoding (key ``pos_encoder.pe``)."""

    def __init__(self, dim: int, heads: int, max_len: int) -> None:
        super().__init__(query_dim=dim, heads=heads, dim_head=dim // heads, bias=False)
        self.pos_encoder = PositionalEncoding(dim, max_len)

    def forward(self, h: torch.Tensor, **kw) -> torch.Tensor:  # type: ignore[override]
        return attend(self, self.pos_encoder(h))


class _TemporalBlock(nn.Module):
    def __init__(self, dim: int, heads: int, max_len: int, n_attn: int = 2) -> None:
        super().__init__()
        self.attention_blocks = nn.ModuleList([TemporalAttention(dim, heads, max_len) for _ in range(n_attn)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(n_attn)])
        self.ff, self.ff_norm = FeedForward(dim, activation_fn="geglu"), nn.LayerNorm(dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for attn, norm in zip(self.attention_blocks, self.norms):
            h = attn(norm(h)) + h
        return self.ff(self.ff_norm(h)) + h


class _TemporalTransformer(nn.Module):
    def __init__(self, dim: int, heads: int, max_len: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.proj_in = nn.Linear(dim, dim)
        self.transformer_blocks = nn.ModuleList([_TemporalBlock(dim, heads, max_len)])
        self.proj_out = zero_module(nn.Linear(dim, dim))


class MotionModule(nn.Module):
    """Temporal attention across frames (key ``temporal_transformer.*``). ``x``: ``[(b f), c, h, w]``;
    ``motion``: the previous clip's last frames' features ``[(b m), c, h, w]`` prepended in time and
    dropped after (clip-to-clip continuity via motion frames)."""

    def __init__(self, dim: int, heads: int = 8, max_len: int = 32, groups: int = 32) -> None:
        super().__init__()
        self.temporal_transformer = _TemporalTransformer(dim, heads, max_len, groups)

    def forward(self, x: torch.Tensor, frames: int, motion: torch.Tensor | None = None) -> torch.Tensor:
        tt = self.temporal_transformer
        b = x.shape[0] // frames
        full = x.unflatten(0, (b, frames))
        if motion is not None:
            full = torch.cat([motion.unflatten(0, (b, -1)), full], dim=1)
        f, c, hh, ww = full.shape[1:]
        h = tt.norm(full.flatten(0, 1)).reshape(b, f, c, hh * ww).permute(0, 3, 1, 2).reshape(b * hh * ww, f, c)
        h = tt.proj_out(tt.transformer_blocks[0](tt.proj_in(h)))
        h = h.reshape(b, hh * ww, f, c).permute(0, 2, 3, 1).reshape(b, f, c, hh, ww)[:, f - frames:]
        return h.flatten(0, 1) + x


class ExpertAttention(nn.Module):
    """MoEE's mixture of emotion experts (§3.3): one cross-attention per basic emotion, over the audio
    tokens plus the emotion token, mixed per token by soft global-local gates::

        g_e(p) = G_e * L_e(p) / sum_k G_k * L_k(p),   L(p) = softmax(W h_p + log R(p))   # global-local gating
        out(p) = Z( sum_e g_e(p) * Attn_e(h_p, [audio; emotion]) )                       # Z: zero-init 1x1 conv

    ``G`` [bf, E] comes from the controller (global gates), ``R(p)`` [bf, N, E] is the region prior
    (the controller's region gates painted onto the face regions), ``W`` is the learned local gate."""

    def __init__(self, dim: int, heads: int, cross_dim: int, n_experts: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.experts = nn.ModuleList([_attn(dim, heads, cross_dim) for _ in range(n_experts)])
        self.local_gate = nn.Linear(dim, n_experts)
        nn.init.zeros_(self.local_gate.weight)
        nn.init.zeros_(self.local_gate.bias)
        self.zero_conv = zero_module(nn.Conv2d(dim, dim, 1))

    def forward(self, h: torch.Tensor, context: torch.Tensor, global_gate: torch.Tensor,
                region_prior: torch.Tensor | None, size: tuple[int, int]) -> torch.Tensor:
        n = self.norm(h)
        logits = self.local_gate(n)
        if region_prior is not None:
            logits = logits + torch.log(region_prior.clamp_min(1e-4))
        gate = global_gate[:, None, :] * logits.softmax(-1)
        gate = gate / gate.sum(-1, keepdim=True).clamp_min(1e-6)
        out = sum(gate[..., e: e + 1] * attend(ex, n, context) for e, ex in enumerate(self.experts))
        bf, hw, c = out.shape
        out = self.zero_conv(out.reshape(bf, *size, c).permute(0, 3, 1, 2))
        return out.permute(0, 2, 3, 1).reshape(bf, hw, c)


class _AudioBlock(nn.Module):
    """Self-attention, then audio cross-attention masked to full / face / lip regions (zero-init 1x1
    convs), then ff; keys as Hallo's (attn2_0/1/2, zero_conv_full/face/lip) + ``moee`` experts."""

    def __init__(self, dim: int, heads: int, audio_dim: int, n_experts: int) -> None:
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), _attn(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2_0, self.attn2_1, self.attn2_2 = (_attn(dim, heads, audio_dim) for _ in range(3))
        zc = [zero_module(nn.Conv2d(dim, dim, 1)) for _ in range(3)]
        self.zero_conv_full, self.zero_conv_face, self.zero_conv_lip = zc
        self.ff, self.norm3 = FeedForward(dim, activation_fn="geglu"), nn.LayerNorm(dim)
        self.moee = ExpertAttention(dim, heads, audio_dim, n_experts) if n_experts else None

    def forward(self, h: torch.Tensor, audio: torch.Tensor, masks: dict, size: tuple[int, int],
                moee: dict | None) -> torch.Tensor:
        n = self.norm1(h)
        h = attend(self.attn1, n) + h
        n = self.norm2(h)
        bf, hw, c = h.shape

        def conv(z: nn.Module, a: torch.Tensor) -> torch.Tensor:
            return z(a.reshape(bf, *size, c).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).reshape(bf, hw, c)

        for attn, zc, key in ((self.attn2_0, self.zero_conv_full, "full"), (self.attn2_1, self.zero_conv_face, "face"),
                              (self.attn2_2, self.zero_conv_lip, "lip")):
            m = masks.get(key)
            a = attend(attn, n, audio)
            h = h + conv(zc, a if m is None else a * m[..., None])
        if self.moee is not None and moee is not None:
            ctx = torch.cat([audio, moee["token"]], dim=1)
            h = h + self.moee(n, ctx, moee["global"], moee.get("region"), size)
        return self.ff(self.norm3(h)) + h


class AudioModule(nn.Module):
    """GroupNorm -> proj_in -> audio block -> proj_out, residual (Hallo's ``audio_modules.*``). As in
    Hallo, the attention width ``inner`` is the block's input width (e.g. 320 in the 320->640 block)."""

    def __init__(self, dim: int, inner: int, heads: int, audio_dim: int, n_experts: int, groups: int = 32) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.proj_in = nn.Conv2d(dim, inner, 1)
        self.transformer_blocks = nn.ModuleList([_AudioBlock(inner, heads, audio_dim, n_experts)])
        self.proj_out = nn.Conv2d(inner, dim, 1)

    def forward(self, x: torch.Tensor, audio: torch.Tensor, masks: dict, moee: dict | None) -> torch.Tensor:
        bf, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x))
        inner = h.shape[1]
        h = h.permute(0, 2, 3, 1).reshape(bf, hh * ww, inner)
        h = self.transformer_blocks[0](h, audio, masks, (hh, ww), moee)
        return self.proj_out(h.reshape(bf, hh, ww, inner).permute(0, 3, 1, 2)) + x


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``[bf, H, W]`` (or ``[bf, H, W, E]``) region map -> flattened ``[bf, h*w(, E)]`` at a block's size."""
    if mask.ndim == 3:
        return F.interpolate(mask[:, None], size=size, mode="area")[:, 0].flatten(1)
    return F.interpolate(mask.permute(0, 3, 1, 2), size=size, mode="area").permute(0, 2, 3, 1).flatten(1, 2)
