"""Multiresolution hash encoding (Instant-NGP style) in plain PyTorch.

EmoHead renders with "the instant-ngp version of AD-NeRF" (appendix V-C); this is the
position encoding of that family. A point ``x`` in the unit cube is looked up at ``L``
levels whose resolutions grow geometrically from ``base_resolution`` to
``finest_resolution``. At each level the 8 corners of the enclosing voxel index a table
of ``T`` learnable ``F``-vectors (directly when the level's grid has at most ``T``
vertices, otherwise through the spatial hash ``(x*1 ^ y*2654435761 ^ z*805459861) mod T``)
and are blended trilinearly. The result is the concatenation over levels, ``[N, L*F]``.

Everything is vectorised over points, levels and corners; it runs on CPU and CUDA.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: Primes of the spatial hash (the first is 1 so that the x axis stays coherent).
HASH_PRIMES = (1, 2654435761, 805459861)

#: Offsets of the 8 voxel corners, ``[8, 3]`` in {0, 1}.
CORNERS = torch.tensor([[(i >> 2) & 1, (i >> 1) & 1, i & 1] for i in range(8)], dtype=torch.int64)


def level_resolutions(n_levels: int, base_resolution: int, finest_resolution: int) -> list[int]:
    """``N_l = floor(N_min * b**l)`` with ``b = exp((ln N_max - ln N_min) / (L - 1))``."""
    if n_levels == 1:
        return [int(base_resolution)]
    growth = math.exp((math.log(finest_resolution) - math.log(base_resolution)) / (n_levels - 1))
    return [math.floor(base_resolution * growth**level + 1e-6) for level in range(n_levels)]


def spatial_hash(corner: torch.Tensor, table_size: int) -> torch.Tensor:
    """Hash integer corners ``[..., 3]`` (int64) into ``[0, table_size)``."""
    h = corner[..., 0] * HASH_PRIMES[0]
    h = torch.bitwise_xor(h, corner[..., 1] * HASH_PRIMES[1])
    h = torch.bitwise_xor(h, corner[..., 2] * HASH_PRIMES[2])
    return torch.remainder(h, table_size)


class HashGrid(nn.Module):
    """``HashGrid(n_levels=16, log2_table_size=19, features=2, base_resolution=16, finest_resolution=2048)``.

    ``forward(x [N, 3] in [0, 1]) -> [N, n_levels * features]``. Points outside the unit
    cube are clamped onto it (callers mask them out).
    """

    def __init__(
        self,
        n_levels: int = 16,
        log2_table_size: int = 19,
        features: int = 2,
        base_resolution: int = 16,
        finest_resolution: int = 2048,
        init_scale: float = 1e-4,
    ) -> None:
        super().__init__()
        if not (1 <= n_levels <= 64 and features >= 1 and 1 <= base_resolution <= finest_resolution
                and 4 <= log2_table_size <= 24):
            raise ValueError("HashGrid needs 1<=n_levels<=64, features>=1, 1<=base_resolution<=finest_resolution, "
                             "4<=log2_table_size<=24")
        self.n_levels = int(n_levels)
        self.table_size = 2 ** int(log2_table_size)
        self.features = int(features)
        self.resolutions = level_resolutions(n_levels, base_resolution, finest_resolution)
        # One table of T rows per level; levels coarse enough to fit use dense indexing.
        self.embeddings = nn.Parameter(torch.empty(self.n_levels * self.table_size, self.features))
        nn.init.uniform_(self.embeddings, -init_scale, init_scale)
        res = torch.tensor(self.resolutions, dtype=torch.int64)
        self.register_buffer("_res", res, persistent=False)
        dense = [(r + 1) ** 3 <= self.table_size for r in self.resolutions]
        self.n_dense = sum(dense)  # resolutions grow, so the dense levels come first
        self.register_buffer("_res32", res.to(torch.int32), persistent=False)
        self.register_buffer("_offset32", (torch.arange(self.n_levels) * self.table_size).to(torch.int32),
                             persistent=False)
        primes = [p - 2**32 if p >= 2**31 else p for p in HASH_PRIMES]  # same low 32 bits
        self.register_buffer("_primes32", torch.tensor(primes, dtype=torch.int32), persistent=False)

    @property
    def out_dim(self) -> int:
        return self.n_levels * self.features

    def corner_indices(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Row indices ``[N, L, 8]`` into the flat table and trilinear weights ``[N, L, 8]``.

        Corner ``i`` has offsets ``(i >> 2 & 1, i >> 1 & 1, i & 1)`` (see :data:`CORNERS`); the
        per-axis terms are built once and combined by broadcasting (2 x 2 x 2). Index arithmetic
        is int32: products wrap modulo 2^32, which leaves the low bits (all that ``mod T`` keeps,
        T being a power of two) equal to those of the exact hash.
        """
        n = x.shape[0]
        res = self._res.to(x.dtype)
        pos = x.clamp(0.0, 1.0)[:, None, :] * res[None, :, None]  # [N, L, 3]
        base = torch.floor(pos).to(torch.int32).clamp(max=self._res32[None, :, None] - 1)  # x == 1: last voxel
        frac = pos - base.to(x.dtype)
        corner = torch.stack([base, base + 1], -1)  # [N, L, 3, 2]
        parts = []
        nd = self.n_dense
        if nd:  # coarse levels: direct indexing of the (res + 1)^3 grid
            c = corner[:, :nd]
            stride = (self._res32[:nd] + 1)[None, :, None]
            yz = c[:, :, 1, None, :, None] + stride[..., None, None] * c[:, :, 2, None, None, :]
            parts.append(c[:, :, 0, :, None, None] + stride[..., None, None] * yz)
        if nd < self.n_levels:  # fine levels: spatial hash
            c = corner[:, nd:] * self._primes32[None, None, :, None]
            h = torch.bitwise_xor(torch.bitwise_xor(c[:, :, 0, :, None, None], c[:, :, 1, None, :, None]),
                                  c[:, :, 2, None, None, :])
            parts.append(torch.bitwise_and(h, self.table_size - 1))
        idx = torch.cat(parts, 1).reshape(n, self.n_levels, 8) + self._offset32[None, :, None]
        w = torch.stack([1.0 - frac, frac], -1)  # [N, L, 3, 2]
        weights = w[:, :, 0, :, None, None] * w[:, :, 1, None, :, None] * w[:, :, 2, None, None, :]
        return idx, weights.reshape(n, self.n_levels, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx, weights = self.corner_indices(x)
        n = x.shape[0]
        feats = self.embeddings.index_select(0, idx.reshape(-1).long()).view(n, self.n_levels, 8, self.features)
        return (feats * weights[..., None].to(feats.dtype)).sum(2).reshape(n, self.out_dim)
