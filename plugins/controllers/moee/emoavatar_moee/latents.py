"""MoEE's emotion-to-latents: label, AU, text and audio controls -> one shared emotion latent.

The paper aligns audio, text and labels into a shared emotion latent (its Fig. 4) without giving
the maps; ours, each a small trainable layer with a deterministic start (no download):

- AU (eq. A):     ``z_au = A a``, ``A [L, K]`` orthonormal columns (seeded QR; an isometry of
  AU space into the latent when L ≥ K, a normalised random projection otherwise);
- label (eq. E):  ``z_label = Σ_v m_v c_v`` for a mix ``m`` over the vocabulary, with anchors
  initialised to the FACS prototypes' directions ``c_v = A p_v / ‖p_v‖`` (neutral: 0); so a
  compound mix is the weighted mean of its parts and an AU prompt lands near the emotion whose
  pattern it resembles (AU-aware control);
- text (eq. T):   attention over anchor sentences, ``z_text = V_textᵀ softmax(K_text t / τ)``,
  ``t`` the unit-norm mean-pooled embedding of a transformers text encoder; keys start as the
  anchor sentences' embeddings (:mod:`.text`), values as their emotion's ``c_v``;
- audio (eq. U):  ``z_audio(t) = W_f ((x̄_f(t) − μ_f) / σ_f) + b_f`` per feature kind f, with
  ``x̄_f(t)`` the windowed mean and std of the features (:mod:`.audio`); summed over kinds.
  There is no weight-free prior for audio: an audio head exists once ``moee-latents`` trained it.
"""

from __future__ import annotations

import torch
from torch import nn

from .facs import AU_CHANNELS, prototype_table


def orthonormal_columns(rows: int, cols: int, seed: int) -> torch.Tensor:
    """``[rows, cols]`` with orthonormal columns (unit-norm, near-orthogonal when rows < cols)."""
    gen = torch.Generator().manual_seed(int(seed))
    m = torch.randn(max(rows, cols), max(rows, cols), generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(m)
    q = q * torch.sign(torch.diagonal(r))  # unique QR
    a = q[:rows, :cols]
    return (a / a.norm(dim=0, keepdim=True)).float()


class AudioHead(nn.Module):
    """eq. U for one feature kind of ``dim`` columns (input: windowed mean and std, 2·dim)."""

    def __init__(self, dim: int, latent_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(2 * dim))
        self.register_buffer("std", torch.ones(2 * dim))
        self.proj = nn.Linear(2 * dim, latent_dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.proj((pooled - self.mean) / self.std.clamp_min(1e-6))


class EmotionToLatents(nn.Module):
    """See module doc. ``vocabulary`` orders the label anchors."""

    def __init__(self, vocabulary: tuple[str, ...], latent_dim: int, seed: int = 0,
                 text_dim: int = 0, n_text_anchors: int = 0, audio_dims: dict[str, int] | None = None) -> None:
        super().__init__()
        self.vocabulary = tuple(vocabulary)
        self.latent_dim = int(latent_dim)
        a = orthonormal_columns(latent_dim, len(AU_CHANNELS), seed)
        self.au_proj = nn.Parameter(a)  # eq. A
        p = torch.tensor(prototype_table(self.vocabulary), dtype=torch.float32)
        unit = p / p.norm(dim=1, keepdim=True).clamp_min(1e-9)
        self.label_anchors = nn.Parameter(unit @ a.T)  # eq. E, [V, L]
        self.text_keys = nn.Parameter(torch.zeros(n_text_anchors, text_dim))
        self.text_values = nn.Parameter(torch.zeros(n_text_anchors, latent_dim))
        self.text_temperature = 0.05
        self.audio = nn.ModuleDict({k: AudioHead(d, latent_dim) for k, d in (audio_dims or {}).items()})

    # -- the four controls -------------------------------------------------------------
    def au_latent(self, au: torch.Tensor) -> torch.Tensor:
        """eq. A: ``[..., K] -> [..., L]``."""
        return au @ self.au_proj.T

    def label_latent(self, mix: torch.Tensor) -> torch.Tensor:
        """eq. E: ``[..., V] -> [..., L]``."""
        return mix @ self.label_anchors

    @property
    def has_text(self) -> bool:
        return self.text_keys.shape[0] > 0

    def set_text_anchors(self, keys: torch.Tensor, anchor_mix: torch.Tensor) -> None:
        """Start eq. T from anchor sentence embeddings ``[M, D]`` and their emotions ``[M, V]``."""
        with torch.no_grad():
            self.text_keys = nn.Parameter(keys.float().clone())
            self.text_values = nn.Parameter(self.label_latent(anchor_mix.float()).detach().clone())

    def text_latent(self, embedding: torch.Tensor) -> torch.Tensor:
        """eq. T: unit-norm sentence embeddings ``[..., D] -> [..., L]``."""
        att = torch.softmax(embedding @ self.text_keys.T / self.text_temperature, dim=-1)
        return att @ self.text_values

    def add_audio_head(self, kind: str, dim: int) -> AudioHead:
        if kind not in self.audio:
            self.audio[kind] = AudioHead(dim, self.latent_dim)
        return self.audio[kind]

    def audio_latent(self, pooled: dict[str, torch.Tensor]) -> torch.Tensor:
        """eq. U: ``{kind: [..., 2D]}`` -> ``[..., L]`` (summed over the kinds with a head)."""
        outs = [self.audio[k](x) for k, x in pooled.items() if k in self.audio]
        if not outs:
            raise KeyError("no audio head for " + ", ".join(pooled))
        return torch.stack(outs).sum(0)
