"""Head pose as the model uses it: 9 numbers (scale x/y/z, yaw/pitch/roll in radians, translation x/y/z)
-> theta = S R T, a 4x4 similarity-like transform of the volume's normalised coordinates."""

from __future__ import annotations

import math

import torch


def similarity_matrix(srt: torch.Tensor) -> torch.Tensor:
    """``srt [B, 9]`` -> ``theta [B, 4, 4]`` (rotation angles clamped to [-pi/2, pi])."""
    b = srt.shape[0]
    scale, rot, tr = srt[:, :3], srt[:, 3:6].clamp(-math.pi / 2, math.pi), srt[:, 6:9]
    eye = torch.eye(4, dtype=srt.dtype, device=srt.device)[None].repeat(b, 1, 1)
    S, R, T = eye.clone(), eye.clone(), eye.clone()
    S[:, 0, 0], S[:, 1, 1], S[:, 2, 2] = scale[:, 0], scale[:, 1], scale[:, 2]
    cy, sy = rot[:, 0].cos(), rot[:, 0].sin()
    cp, sp = rot[:, 1].cos(), rot[:, 1].sin()
    cr, sr = rot[:, 2].cos(), rot[:, 2].sin()
    R[:, 0, 0], R[:, 0, 1], R[:, 0, 2] = cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr
    R[:, 1, 0], R[:, 1, 1], R[:, 1, 2] = sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr
    R[:, 2, 0], R[:, 2, 1], R[:, 2, 2] = -sp, cp * sr, cp * cr
    T[:, 0, 3], T[:, 1, 3], T[:, 2, 3] = tr[:, 0], tr[:, 1], tr[:, 2]
    return S @ R @ T


def identity_grid_3d(depth: int, size: int) -> torch.Tensor:
    """Homogeneous (u, v, w, 1) coordinates of a [depth, size, size] volume in [-1, 1]: ``[1, D*S*S, 4]``."""
    s = torch.linspace(-1, 1, size)
    z = torch.linspace(-1, 1, depth)
    w, v, u = torch.meshgrid(z, s, s, indexing="ij")
    return torch.stack([u, v, w, torch.ones_like(u)], dim=3).view(1, -1, 4)


def rotation_warp(grid: torch.Tensor, theta: torch.Tensor, depth: int, size: int, inverse: bool = False) -> torch.Tensor:
    """Sampling grid [B, D, S, S, 3] that applies theta (or theta^-1, to remove the source pose) to the volume."""
    m = theta.float().inverse() if inverse else theta
    return grid.repeat_interleave(theta.shape[0], dim=0).bmm(m[:, :3].transpose(1, 2)).view(-1, depth, size, size, 3)
