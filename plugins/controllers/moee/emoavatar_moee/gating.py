"""MoEE's mixture of emotion experts: soft global-local gating over the basic-emotion experts.

Slots ``S = (neutral, e_1 ... e_X)``: the X experts (default the paper's six) plus a null slot
(no emotion). With the shared latent ``z`` (:mod:`.latents`):

- global gate (eq. G):   ``s = W_g z + b_g``,  ``g = max(s, ε)^{1/T} / Σ max(s, ε)^{1/T}``;
- local gate of region r (eq. L): ``l_r`` the same with ``W_r, b_r`` applied to the region's
  own latent ``z_r`` (``z_r = z`` unless the request gates regions separately);
- combination (eq. GL):  ``log π_r = (1 − λ) log g + λ log l_r`` (normalised), a product of
  experts of the two gates; ``π_r`` weighs the experts in region r.

The paper names the gates (global per expert, local per token) but gives no formula; we fill
it in from the mixture-of-experts layers it builds on (a linear gate on the condition, softmax-
like normalisation) with a *linear score* so that compound emotions are exact mixtures:
``W_g`` is initialised to the dual basis of the experts' latent anchors ``C`` (``D = (C Cᵀ)⁻¹ C``,
so ``D (Σ m_k c_k) = m``) and the null slot scores ``1 − Σ_k D_k z``. A label mix ``m`` thus
gates exactly ``m`` at T = 1, a neutral latent (z = 0) gates the null slot, and a latent between
anchors (text, audio, AU prompts) gates a soft mixture. The local gates start as copies of the
global one, so untrained they agree with it.

Each expert also has an AU head ``a_k(z) = p_k + V_k z`` (``p_k`` its FACS prototype, ``V_k = 0``
at start): what the expert does on a FACS rig; the motion stage (``facs-rig``: its prototypes)
or renderer (``moee-diffusion``: one cross-attention per expert) runs the experts themselves.
"""

from __future__ import annotations

import torch
from torch import nn

from .facs import AU_CHANNELS, REGION_NAMES, prototype_vector, region_masks

EPS = 1e-4


def soft_gate(scores: torch.Tensor, temperature: float) -> torch.Tensor:
    """eq. G: ``max(s, ε)^{1/T}`` normalised over the last axis."""
    logp = torch.log(scores.clamp_min(EPS)) / temperature
    return torch.softmax(logp, dim=-1)


class EmotionExperts(nn.Module):
    """Gates (global, per-region local) and the experts' AU heads."""

    def __init__(self, experts: tuple[str, ...], anchors: torch.Tensor, regions: tuple[str, ...] = REGION_NAMES,
                 temperature: float = 1.0, local_weight: float = 0.75) -> None:
        super().__init__()
        self.experts = tuple(experts)
        self.slots = ("neutral",) + self.experts
        self.regions = tuple(regions)
        self.temperature = float(temperature)
        self.local_weight = float(local_weight)
        latent_dim = anchors.shape[1]
        n_s, n_r, k = len(self.slots), len(self.regions), len(AU_CHANNELS)
        self.gate_w = nn.Parameter(torch.zeros(n_s, latent_dim))
        self.gate_b = nn.Parameter(torch.zeros(n_s))
        self.local_w = nn.Parameter(torch.zeros(n_r, n_s, latent_dim))
        self.local_b = nn.Parameter(torch.zeros(n_r, n_s))
        self.expert_bias = nn.Parameter(torch.zeros(len(self.experts), k))
        self.expert_weight = nn.Parameter(torch.zeros(len(self.experts), k, latent_dim))
        self.register_buffer("region_mask", torch.tensor(region_masks(self.regions), dtype=torch.float32))
        self.init_from_anchors(anchors)

    @torch.no_grad()
    def init_from_anchors(self, anchors: torch.Tensor) -> None:
        """Dual-basis gates from the experts' latent anchors ``C [X, L]``; AU heads = prototypes."""
        c = anchors.double()
        dual = torch.linalg.solve(c @ c.T, c)  # D = (C Cᵀ)⁻¹ C, so D Cᵀ = I
        w = torch.cat([-dual.sum(0, keepdim=True), dual]).float()
        b = torch.zeros(len(self.slots))
        b[0] = 1.0
        self.gate_w.copy_(w)
        self.gate_b.copy_(b)
        self.local_w.copy_(w.expand_as(self.local_w))
        self.local_b.copy_(b.expand_as(self.local_b))
        self.expert_bias.copy_(torch.tensor([prototype_vector(e) for e in self.experts]))
        self.expert_weight.zero_()

    def global_gate(self, z: torch.Tensor) -> torch.Tensor:
        """``[..., L] -> [..., S]`` (eq. G)."""
        return soft_gate(z @ self.gate_w.T + self.gate_b, self.temperature)

    def local_gates(self, z_regions: torch.Tensor) -> torch.Tensor:
        """``[..., R, L] -> [..., R, S]`` (eq. L)."""
        s = torch.einsum("...rl,rsl->...rs", z_regions, self.local_w) + self.local_b
        return soft_gate(s, self.temperature)

    def forward(self, z: torch.Tensor, z_regions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Global gate ``g [..., S]`` and combined region gates ``π [..., R, S]`` (eq. GL)."""
        if z_regions is None:
            z_regions = z.unsqueeze(-2).expand(*z.shape[:-1], len(self.regions), z.shape[-1])
        g = self.global_gate(z)
        lam = self.local_weight
        logp = (1 - lam) * torch.log(g.clamp_min(1e-12)).unsqueeze(-2) + lam * torch.log(
            self.local_gates(z_regions).clamp_min(1e-12))
        return g, torch.softmax(logp, dim=-1)

    def expert_aus(self, z: torch.Tensor) -> torch.Tensor:
        """Each expert's AU pattern ``[..., X, K]``: ``p_k + V_k z``."""
        return self.expert_bias + torch.einsum("xkl,...l->...xk", self.expert_weight, z)

    def mixed_aus(self, z: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        """AU activations ``[..., K]`` of the gated experts, each region on its own AUs."""
        per_region = torch.einsum("...rx,...xk->...rk", pi[..., 1:], self.expert_aus(z))  # null slot: no AUs
        return (per_region * self.region_mask).sum(-2)
