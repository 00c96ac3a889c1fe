"""Audio Expression Alignment (EmoHead §III-A, eq. 1–8): per-modality projections, FusedAttn over
a window of neighbouring frames, and the two feed-forward heads.

Reading of the paper used here. For frame i the window holds the n + 1 frames j = i-n … i
(eq. 2's Σ spans them; n = 5); frames before the start are *silence* rows (Appendix C, Fig. 9).
Within a window, F(υ, e) is the fused token sequence υ_j + e_j, and

    C_υe = F W_q1 (F W_k1)^T                        (eq. 2)
    C_γ  = γ W_q2 (γ W_k2)^T                        (eq. 3)
    h_υ  = Softmax((C_υe + C_γ) / √d_h) υ W_v1      (eq. 4–5)
    h_e  = Softmax(C_υe / √d_h) F W_v2              (eq. 6)
    h_γ  = Softmax(C_γ / √d_h) γ W_v3               (eq. 7)

The frame's hidden state is the current frame's row (query j = i) of [h_υ; h_e; h_γ], which the
FFNs map to α̃ (k = 10) and τ (k = 1) (eq. 8). Only that row is computed: the same numbers as the
full (n+1)×(n+1) matrices, at 1/(n+1) of the cost (checked against a loop in the tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def window_frames(x: torch.Tensor, n: int, pad: torch.Tensor) -> torch.Tensor:
    """``[B, T, D]`` -> ``[B, T, n+1, D]`` with rows i-n … i; rows before frame 0 are ``pad [D]``."""
    b, _t, d = x.shape
    padded = torch.cat([pad.to(x).expand(b, n, d), x], 1)  # silence padding
    return padded.unfold(1, n + 1, 1).permute(0, 1, 3, 2)  # [B, T, n+1, D]


class FusedAttn(nn.Module):
    """eq. 2–7 on windowed, projected features ``[B, T, W, d]`` -> ``[B, T, 3d]`` (current row)."""

    def __init__(self, d: int = 512, dh: int = 512) -> None:
        super().__init__()
        self.d, self.dh = d, dh
        self.w_q1, self.w_k1 = nn.Linear(d, dh, bias=False), nn.Linear(d, dh, bias=False)
        self.w_q2, self.w_k2 = nn.Linear(d, dh, bias=False), nn.Linear(d, dh, bias=False)
        self.w_v1, self.w_v2, self.w_v3 = (nn.Linear(d, d, bias=False) for _ in range(3))

    def forward(self, u: torch.Tensor, e: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        fused = u + e  # F(υ, e), eq. 2
        scale = 1.0 / math.sqrt(self.dh)
        q1 = self.w_q1(fused[..., -1, :])  # query = current frame (last row of the window)
        k1 = self.w_k1(fused)
        q2 = self.w_q2(g[..., -1, :])
        k2 = self.w_k2(g)
        c_ue = torch.einsum("btd,btwd->btw", q1, k1)  # row i of eq. 2
        c_g = torch.einsum("btd,btwd->btw", q2, k2)  # row i of eq. 3
        a_u = torch.softmax((c_ue + c_g) * scale, -1)  # eq. 5
        a_e = torch.softmax(c_ue * scale, -1)  # eq. 6
        a_g = torch.softmax(c_g * scale, -1)  # eq. 7
        h_u = torch.einsum("btw,btwd->btd", a_u, self.w_v1(u))
        h_e = torch.einsum("btw,btwd->btd", a_e, self.w_v2(fused))
        h_g = torch.einsum("btw,btwd->btd", a_g, self.w_v3(g))
        return torch.cat([h_u, h_e, h_g], -1)


def ffn(d_in: int, hidden: Sequence[int], k: int) -> nn.Sequential:
    """FFN with layer widths (512, 256, 256, 128, k) by default (Appendix C)."""
    layers: list[nn.Module] = []
    prev = d_in
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        prev = h
    layers.append(nn.Linear(prev, k))
    return nn.Sequential(*layers)


ROLES = ("audio", "emotion", "text")  # υ, e, γ


class AudioExpressionModel(nn.Module):
    """Features by kind ``{kind: [B, T, D_kind]}`` -> (α̃ ``[B, T, k]``, τ ``[B, T, 1]``) (eq. 1–8).

    ``feature_dims`` maps each feature kind to its width, ``roles`` maps kinds to υ/e/γ
    (``audio``/``emotion``/``text``); kinds of one role are concatenated and projected by one
    E_m (eq. 1). A role with no kinds contributes zeros.
    """

    def __init__(self, feature_dims: dict[str, int], roles: dict[str, str], *, d: int = 512, dh: int = 512,
                 window: int = 5, k: int = 10, ffn_hidden: Sequence[int] = (512, 256, 256, 128)) -> None:
        super().__init__()
        self.feature_dims = dict(feature_dims)
        self.roles = {kind: roles[kind] for kind in self.feature_dims}
        self.d, self.window, self.k = d, window, k
        self.kinds = {r: sorted(kd for kd, rr in self.roles.items() if rr == r) for r in ROLES}
        self.proj = nn.ModuleDict()
        for r in ROLES:
            width = sum(self.feature_dims[kd] for kd in self.kinds[r])
            if width:
                self.proj[r] = nn.Linear(width, d, bias=False)  # E_1, E_2, E_3 (eq. 1)
                self.register_buffer(f"silence_{r}", torch.zeros(width))  # raw silence features
        self.attn = FusedAttn(d, dh)
        self.ffn_alpha = ffn(3 * d, ffn_hidden, k)  # FFN1
        self.ffn_tau = ffn(3 * d, ffn_hidden, 1)  # FFN2

    def project(self, feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """eq. 1 on silence-padded windows: ``{role: [B, T, n+1, d]}``."""
        any_feat = next(iter(feats.values()))
        b, t = any_feat.shape[:2]
        out = {}
        for r in ROLES:
            if r not in self.proj:
                out[r] = any_feat.new_zeros(b, t, self.window + 1, self.d)
                continue
            raw = torch.cat([feats[kd] for kd in self.kinds[r]], -1)
            # projecting then windowing == windowing then projecting (linear, no bias), n+1 times cheaper
            silence = self.proj[r](getattr(self, f"silence_{r}").to(raw))
            out[r] = window_frames(self.proj[r](raw), self.window, silence)
        return out

    def forward(self, feats: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.project(feats)
        h = self.attn(p["audio"], p["emotion"], p["text"])
        return self.ffn_alpha(h), self.ffn_tau(h)  # eq. 8


def refine(alpha: torch.Tensor, tau: torch.Tensor, w_z: torch.Tensor) -> torch.Tensor:
    """α̂ = α̃ + τ w_z (eq. 9); ``w_z [.., k]`` broadcast per frame."""
    return alpha + tau * w_z
