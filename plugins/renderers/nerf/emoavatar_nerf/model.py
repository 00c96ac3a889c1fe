"""The expression-conditioned radiance field θ(α̂, d, x) -> (c, σ) of EmoHead (eq. 10, §III-C).

Layout (AD-NeRF / RAD-NeRF "instant-ngp" flavour, appendix V-C):

* ``x`` (canonical head space, inside the box ``[-bound, bound]^3``) -> :class:`HashGrid`;
* ``α̂`` (10 expression coefficients) -> optional linear projection to ``exp_dim``;
* density MLP on ``[hash(x); proj(α̂)]`` -> ``σ`` (truncated exp) and a geometry feature;
* colour MLP on ``[geo_feat; enc(d)]`` -> ``c`` in [0, 1] (sigmoid), ``enc`` = real spherical
  harmonics up to degree 3 (16 terms) or a frequency encoding.

Points outside the head box get ``σ = 0``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from .hashgrid import HashGrid


@dataclass
class NerfModelConfig:
    """Architecture of θ; saved as JSON next to the safetensors weights."""

    exp_dim_in: int = 10  # α̂ (3DDFA-like, k = 10)
    exp_dim: int = 16  # projection of α̂ (0 = feed α̂ unprojected)
    n_levels: int = 16
    log2_table_size: int = 17
    features: int = 2
    base_resolution: int = 16
    finest_resolution: int = 1024
    hidden: int = 64
    density_layers: int = 2
    geo_feat: int = 15
    color_hidden: int = 64
    color_layers: int = 2
    dir_encoding: str = "sh"  # "sh" | "freq"
    init_density_bias: float = -4.0  # σ ≈ exp(-4) at start
    bound: float = 3.0  # head box half-size in model units (basis mean shape: unit RMS radius)

    @classmethod
    def from_dict(cls, data: dict) -> NerfModelConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)


def spherical_harmonics(d: torch.Tensor) -> torch.Tensor:
    """Real spherical harmonics of unit directions ``[N, 3]`` up to degree 3 -> ``[N, 16]``."""
    x, y, z = d.unbind(-1)
    xx, yy, zz = x * x, y * y, z * z
    return torch.stack(
        [
            torch.full_like(x, 0.28209479177387814),
            -0.48860251190291987 * y,
            0.48860251190291987 * z,
            -0.48860251190291987 * x,
            1.0925484305920792 * x * y,
            -1.0925484305920792 * y * z,
            0.31539156525252005 * (2 * zz - xx - yy),
            -1.0925484305920792 * x * z,
            0.5462742152960396 * (xx - yy),
            -0.5900435899266435 * y * (3 * xx - yy),
            2.890611442640554 * x * y * z,
            -0.4570457994644658 * y * (4 * zz - xx - yy),
            0.3731763325901154 * z * (2 * zz - 3 * xx - 3 * yy),
            -0.4570457994644658 * x * (4 * zz - xx - yy),
            1.445305721320277 * z * (xx - yy),
            -0.5900435899266435 * x * (xx - 3 * yy),
        ],
        dim=-1,
    )


def frequency_encoding(d: torch.Tensor, n_freqs: int = 4) -> torch.Tensor:
    """``[d, sin(2^k d), cos(2^k d)]`` for k < n_freqs -> ``[N, 3 + 6 n_freqs]``."""
    scales = 2.0 ** torch.arange(n_freqs, device=d.device, dtype=d.dtype)
    xs = (d[:, None, :] * scales[None, :, None]).reshape(d.shape[0], -1)
    return torch.cat([d, torch.sin(xs), torch.cos(xs)], dim=-1)


def _mlp(n_in: int, hidden: int, n_out: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(max(layers - 1, 0)):
        mods += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
        width = hidden
    mods.append(nn.Linear(width, n_out))
    return nn.Sequential(*mods)


class ExpressionNeRF(nn.Module):
    """θ(α̂, d, x) -> (c, σ) (eq. 10). ``forward(x [N,3], d [N,3], alpha [N,10])``."""

    def __init__(self, config: NerfModelConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or NerfModelConfig()
        self.grid = HashGrid(cfg.n_levels, cfg.log2_table_size, cfg.features, cfg.base_resolution,
                             cfg.finest_resolution)
        # α̂ is standardised with the training-set statistics (saved with the weights).
        self.register_buffer("alpha_mean", torch.zeros(cfg.exp_dim_in))
        self.register_buffer("alpha_std", torch.ones(cfg.exp_dim_in))
        self.exp_proj = nn.Linear(cfg.exp_dim_in, cfg.exp_dim) if cfg.exp_dim > 0 else nn.Identity()
        exp_out = cfg.exp_dim if cfg.exp_dim > 0 else cfg.exp_dim_in
        self.density_net = _mlp(self.grid.out_dim + exp_out, cfg.hidden, 1 + cfg.geo_feat, cfg.density_layers)
        with torch.no_grad():  # start nearly transparent: the plate shows until the head is learned
            self.density_net[-1].bias[0].fill_(cfg.init_density_bias)
        dir_dim = 16 if cfg.dir_encoding == "sh" else 3 + 6 * 4
        self.color_net = _mlp(cfg.geo_feat + dir_dim, cfg.color_hidden, 3, cfg.color_layers)

    def encode_dir(self, d: torch.Tensor) -> torch.Tensor:
        return spherical_harmonics(d) if self.config.dir_encoding == "sh" else frequency_encoding(d)

    def density(self, x: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """σ ``[N]`` and geometry features ``[N, geo_feat]`` at canonical points ``x``."""
        b = self.config.bound
        u = (x + b) / (2 * b)
        inside = ((u >= 0) & (u <= 1)).all(-1)
        a = (alpha - self.alpha_mean) / self.alpha_std
        h = self.density_net(torch.cat([self.grid(u), self.exp_proj(a)], dim=-1))
        sigma = torch.exp(h[:, 0].clamp(max=15.0)) * inside.to(h.dtype)  # truncated exp
        return sigma, h[:, 1:]

    def forward(self, x: torch.Tensor, d: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sigma, geo = self.density(x, alpha)
        rgb = torch.sigmoid(self.color_net(torch.cat([geo, self.encode_dir(d)], dim=-1)))
        return rgb, sigma
