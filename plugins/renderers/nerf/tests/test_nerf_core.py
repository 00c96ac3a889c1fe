"""Hash encoding, volume rendering (eq. 11–12) and the rigid head pose of the EmoHead NeRF."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from emoavatar_nerf.hashgrid import HashGrid, level_resolutions, spatial_hash
from emoavatar_nerf.model import ExpressionNeRF, NerfModelConfig, spherical_harmonics
from emoavatar_nerf.render import (
    CameraConfig,
    aabb_intersect,
    camera_to_head,
    head_rays,
    head_to_camera,
    pose_to_rigid,
    project,
    render_rays,
    rescale_pose,
    volume_weights,
)

torch.set_num_threads(1)


# -- hash grid -----------------------------------------------------------------------------
def test_hashgrid_shapes_and_resolutions():
    g = HashGrid(n_levels=6, log2_table_size=12, features=3, base_resolution=4, finest_resolution=128)
    assert g.resolutions == level_resolutions(6, 4, 128)
    assert g.resolutions[0] == 4 and g.resolutions[-1] == 128
    assert all(b > a for a, b in zip(g.resolutions, g.resolutions[1:]))
    out = g(torch.rand(37, 3))
    assert out.shape == (37, 18) and g.out_dim == 18
    assert g.n_dense == sum((r + 1) ** 3 <= 2**12 for r in g.resolutions)
    assert 0 < g.n_dense < 6  # both code paths are exercised


def test_hashgrid_is_continuous_and_interpolates_corners():
    torch.manual_seed(0)
    g = HashGrid(n_levels=4, log2_table_size=10, features=2, base_resolution=3, finest_resolution=24, init_scale=1.0)
    x = torch.rand(200, 3) * 0.98 + 0.01
    eps = 1e-4
    d = (g(x + eps) - g(x)).abs().max()
    jump = (g(torch.rand(200, 3)) - g(x)).abs().max()
    assert d < 1e-2 * jump  # tiny move -> tiny change (trilinear, no jumps)
    # At a vertex of level 0 the level-0 feature is exactly one table row (weight one-hot).
    r = g.resolutions[0]
    v = torch.tensor([[1.0, 2.0, 0.0]]) / r
    idx, w = g.corner_indices(v)
    assert torch.allclose(w[0, 0], torch.eye(8)[0], atol=1e-6)
    assert torch.allclose(g(v)[0, :2], g.embeddings[idx[0, 0, 0]], atol=1e-6)
    weights = g.corner_indices(x)[1]
    assert torch.allclose(weights.sum(-1), torch.ones(200, 4), atol=1e-5)


def test_hash_levels_collide_dense_levels_do_not():
    g = HashGrid(n_levels=3, log2_table_size=10, features=1, base_resolution=8, finest_resolution=64)
    assert g.n_dense == 1  # 9^3 = 729 <= 1024 < 17^3 ... (res 8, 22, 64)
    for level, r in enumerate(g.resolutions):
        ax = (torch.arange(r, dtype=torch.float32) + 0.5) / r  # voxel centres: corner 0 = every vertex < r
        grid = torch.stack(torch.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3)
        idx = g.corner_indices(grid)[0][:, level, 0] - level * g.table_size
        assert int(idx.min()) >= 0 and int(idx.max()) < g.table_size
        n_unique = idx.unique().numel()
        if level < g.n_dense:
            assert n_unique == grid.shape[0]  # one row per vertex
        else:
            assert n_unique < grid.shape[0]  # more vertices than rows: collisions
            assert n_unique > 0.5 * g.table_size  # ... but the table is well used


def test_int32_hash_matches_int64_reference():
    g = HashGrid(n_levels=2, log2_table_size=8, features=1, base_resolution=100, finest_resolution=1000)
    assert g.n_dense == 0
    x = torch.rand(50, 3)
    idx = g.corner_indices(x)[0]
    for level, r in enumerate(g.resolutions):
        base = torch.floor(x * r).long().clamp(max=r - 1)
        ref = spatial_hash(base, g.table_size)  # corner 0 with the exact 64-bit hash
        assert torch.equal(idx[:, level, 0].long() - level * g.table_size, ref)


def test_hashgrid_gradient_touches_only_used_rows():
    g = HashGrid(n_levels=2, log2_table_size=12, features=2, base_resolution=4, finest_resolution=16)
    g(torch.full((1, 3), 0.3)).sum().backward()
    touched = (g.embeddings.grad.abs().sum(1) > 0).sum()
    assert 1 <= int(touched) <= 16  # 8 corners x 2 levels


# -- model ---------------------------------------------------------------------------------
def test_model_outputs_and_expression_conditioning():
    torch.manual_seed(0)
    m = ExpressionNeRF(NerfModelConfig(n_levels=4, log2_table_size=10, finest_resolution=32, hidden=16,
                                       color_hidden=16, init_density_bias=0.0))
    x = torch.rand(64, 3) * 2 - 1
    d = torch.nn.functional.normalize(torch.randn(64, 3), dim=-1)
    a = torch.randn(64, 10)
    rgb, sigma = m(x, d, a)
    assert rgb.shape == (64, 3) and sigma.shape == (64,)
    assert (rgb >= 0).all() and (rgb <= 1).all() and (sigma >= 0).all()
    _, sigma2 = m(x, d, a + 3.0)
    assert not torch.allclose(sigma, sigma2)  # α̂ conditions the density
    outside = torch.full((4, 3), 1.5 * m.config.bound)
    assert (m(outside, d[:4], a[:4])[1] == 0).all()


def test_spherical_harmonics_are_orthonormal():
    torch.manual_seed(0)
    d = torch.nn.functional.normalize(torch.randn(200000, 3), dim=-1)
    sh = spherical_harmonics(d)
    gram = sh.T @ sh / d.shape[0] * 4 * math.pi
    assert torch.allclose(gram, torch.eye(16), atol=0.05)


# -- volume rendering (eq. 11-12) ------------------------------------------------------------
def test_volume_weights_match_direct_transcription():
    sigma = torch.tensor([[0.0, 0.5, 2.0, 0.1, 7.0, 0.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]])
    delta = torch.tensor([[0.1, 0.2, 0.1, 0.3, 0.2, 0.1], [0.5] * 6])
    w = volume_weights(sigma, delta)
    for r in range(2):
        for i in range(6):
            trans = math.exp(-sum(float(sigma[r, j] * delta[r, j]) for j in range(i)))  # eq. 12
            expect = trans * (1 - math.exp(-float(sigma[r, i] * delta[r, i])))  # eq. 11, discretised
            assert abs(float(w[r, i]) - expect) < 1e-6
    assert (w.sum(-1) <= 1 + 1e-6).all()
    rand = volume_weights(torch.rand(100, 32) * 50, torch.rand(100, 32))
    assert (rand >= 0).all() and (rand.sum(-1) <= 1 + 1e-6).all()


class _Slab(torch.nn.Module):
    """σ = s inside z in [z0, z1] of the canonical box, 0 elsewhere; colour = (1, 0.5, 0)."""

    def __init__(self, s: float, z0: float, z1: float) -> None:
        super().__init__()
        self.config = NerfModelConfig(bound=1.0)
        self.s, self.z0, self.z1 = s, z0, z1

    def forward(self, x, d, a):
        inside = ((x[:, 2] >= self.z0) & (x[:, 2] < self.z1)).float()
        return torch.tensor([1.0, 0.5, 0.0]).expand(len(x), 3), self.s * inside


def test_homogeneous_slab_has_known_transmittance():
    # rays along +z through the box [-1, 1]^3: the slab z in [-0.5, 0.5) is sampled by 32 of 64 bins
    n = 5
    origins = torch.cat([torch.rand(n, 2) - 0.5, torch.full((n, 1), -3.0)], 1)
    dirs = torch.tensor([[0.0, 0.0, 1.0]]).expand(n, 3)
    out = render_rays(_Slab(1.7, -0.5, 0.5), origins, dirs, torch.zeros(n, 10), n_samples=64)
    expect = 1 - math.exp(-1.7 * 1.0)
    assert torch.allclose(out["acc"], torch.full((n,), expect), atol=1e-5)
    assert torch.allclose(out["rgb"], torch.tensor([1.0, 0.5, 0.0]) * expect, atol=1e-5)
    # expected depth of a homogeneous slab: entry + 1/σ - L e^{-σL} / (1 - e^{-σL}) (continuous limit)
    s, length = 1.7, 1.0
    mean_in = 1 / s - length * math.exp(-s * length) / (1 - math.exp(-s * length))
    assert abs(float(out["depth"][0]) - (2.5 + mean_in)) < 0.02
    miss = render_rays(_Slab(1.7, -0.5, 0.5), torch.tensor([[5.0, 5.0, -3.0]]), dirs[:1], torch.zeros(1, 10))
    assert float(miss["acc"]) == 0.0


def test_aabb_intersection():
    o = torch.tensor([[0.0, 0.0, -5.0], [3.0, 0.0, -5.0], [0.0, 0.0, 0.0]])
    d = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    near, far, hit = aabb_intersect(o, d, 1.0)
    assert hit.tolist() == [True, False, True]
    assert torch.allclose(near[[0, 2]], torch.tensor([4.0, 0.0])) and torch.allclose(far[[0, 2]], torch.tensor([6.0, 1.0]))


# -- rigid pose ----------------------------------------------------------------------------
def test_pose_round_trip_and_projection():
    cam = CameraConfig(focal=4.0)
    pose = torch.tensor([[0.1, -0.3, 0.2, 40.0, 70.0, 12.0], [0.0, 0.0, 0.0, 63.5, 63.5, 20.0]])
    rot, centre = pose_to_rigid(pose, cam, 128, 128)
    assert torch.allclose(rot @ rot.transpose(1, 2), torch.eye(3).expand(2, 3, 3), atol=1e-6)
    x = torch.randn(2, 3)
    assert torch.allclose(camera_to_head(head_to_camera(x, rot, centre), rot, centre), x, atol=1e-5)
    # the canonical origin lands on (tx, ty); a model unit spans `scale` pixels
    uv = project(head_to_camera(torch.zeros(2, 3), rot, centre), 128, 128, cam)
    assert torch.allclose(uv, pose[:, 3:5], atol=1e-4)
    unit = project(head_to_camera(torch.tensor([[1.0, 0, 0]] * 2), rot, centre), 128, 128, cam)
    assert abs(float((unit[1] - uv[1]).norm()) - 20.0) < 1e-3


def weak_perspective(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """The exp3dmm10 pose convention: ``scale * (Rz(roll) Ry(yaw) Rx(pitch))[:2] @ p + (tx, ty)``."""
    pitch, yaw, roll, tx, ty, scale = pose
    cx, sx, cy, sy, cz, sz = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw), np.cos(roll), np.sin(roll)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return scale * points @ (rz @ ry @ rx)[:2].T + np.array([tx, ty])


def test_pose_matches_basis_weak_perspective():
    cam = CameraConfig(focal=50.0)  # nearly orthographic
    pose = np.array([[0.05, 0.2, -0.1, 80.0, 90.0, 15.0]], np.float32)
    pts = np.random.default_rng(0).normal(size=(1, 20, 3)).astype(np.float32)
    expect = weak_perspective(pts[0].astype(np.float64), pose[0].astype(np.float64))
    rot, centre = pose_to_rigid(torch.from_numpy(pose), cam, 160, 200)
    got = project(head_to_camera(torch.from_numpy(pts[0]), rot, centre), 160, 200, cam)
    assert np.abs(got.numpy() - expect).max() < 0.05 * 15


def test_rays_pass_through_their_pixels():
    cam = CameraConfig(focal=3.0)
    pose = torch.tensor([0.2, 0.1, -0.3, 30.0, 20.0, 6.0])
    pix = torch.tensor([0, 5 * 64 + 7, 64 * 48 - 1])
    o, d = head_rays(pix, pose, 48, 64, cam)
    rot, centre = pose_to_rigid(pose[None], cam, 48, 64)
    pts = head_to_camera(o + 3.0 * d, rot.expand(3, 3, 3), centre.expand(3, 3))
    uv = project(pts, 48, 64, cam)
    assert torch.allclose(uv, torch.tensor([[0.0, 0.0], [7.0, 5.0], [63.0, 47.0]]), atol=1e-3)


def test_rescale_pose():
    pose = torch.tensor([[0.0, 0.0, 0.1, 31.5, 15.5, 4.0]])
    big = rescale_pose(pose, (32, 64), (64, 128))
    assert torch.allclose(big, torch.tensor([[0.0, 0.0, 0.1, 63.5, 31.5, 8.0]]))
    assert torch.allclose(rescale_pose(big, (64, 128), (32, 64)), pose)


@pytest.mark.parametrize("enc", ["sh", "freq"])
def test_direction_encodings(enc):
    m = ExpressionNeRF(NerfModelConfig(n_levels=2, log2_table_size=8, base_resolution=4, finest_resolution=8, hidden=8,
                                       color_hidden=8, dir_encoding=enc))
    rgb, _ = m(torch.zeros(3, 3), torch.eye(3), torch.zeros(3, 10))
    assert rgb.shape == (3, 3)
