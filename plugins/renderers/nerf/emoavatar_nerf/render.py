"""Rays, rigid head pose, sampling and volume rendering (eq. 11–12) for the EmoHead NeRF.

Conventions (documented in README.md):

* Camera space is OpenCV-like: x right, y down, z forward; the camera sits at the origin.
  Intrinsics are resolution-free: focal length ``focal * W`` pixels, principal point at the
  image centre, square pixels. Pixel coordinates follow dlib/landmarks: the centre of pixel
  column ``i`` is at ``x = i``.
* Head pose ``[6] = (pitch, yaw, roll, tx, ty, scale)`` as in the ``pose`` track of motion space ``exp3dmm10``:
  angles in radians, ``(tx, ty)`` the image position (pixels) of the model-frame origin and
  ``scale`` pixels per model unit (the mean landmark shape has unit RMS radius). Canonical head
  space is that model frame, extended to 3-D (z away from the camera); the NeRF lives in the box
  ``[-bound, bound]^3``. ``R = Rz(roll) Ry(yaw) Rx(pitch)`` and a canonical point ``X`` sits at
  ``P = R X + c`` with ``c = ((tx - W/2 + .5) z/f, (ty - H/2 + .5) z/f, z)``, ``z = f / scale``,
  so that near the head the perspective camera reproduces the basis' weak-perspective
  ``scale * R[:2] X + t`` (W = {R, ω} of §III-C).
* Rays are generated in camera space and moved into canonical head space
  (``o_h = Rᵀ(o - c)``, ``d_h = Rᵀ d``), clipped to the head box, sampled with stratified
  samples (optionally skipping empty cells of an :class:`OccupancyGrid`) and integrated with
  eq. 11–12: ``T_i = exp(-Σ_{j<i} σ_j δ_j)``, ``w_i = T_i (1 - exp(-σ_i δ_i))``,
  ``C = Σ w_i c_i``. The accumulated alpha ``A = Σ w_i`` composites the head over the
  torso/background plate: ``I = C + (1 - A) B``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn


@dataclass
class CameraConfig:
    """Resolution-free pinhole camera (see module docstring)."""

    focal: float = 4.0  # focal length in units of the image width (narrow field of view)

    @classmethod
    def from_dict(cls, data: dict) -> CameraConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)


def euler_to_matrix(pitch: torch.Tensor, yaw: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` for batched angles ``[N]`` -> ``[N, 3, 3]``."""
    cy, sy = torch.cos(yaw), torch.sin(yaw)
    cp, sp = torch.cos(pitch), torch.sin(pitch)
    cr, sr = torch.cos(roll), torch.sin(roll)
    one, zero = torch.ones_like(yaw), torch.zeros_like(yaw)
    rx = torch.stack([one, zero, zero, zero, cp, -sp, zero, sp, cp], -1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    rz = torch.stack([cr, -sr, zero, sr, cr, zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ ry @ rx


def rescale_pose(pose: torch.Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> torch.Tensor:
    """A pose measured on ``src_hw`` images, for ``dst_hw`` images (translation and scale follow)."""
    ky, kx = dst_hw[0] / src_hw[0], dst_hw[1] / src_hw[1]
    out = pose.clone()
    out[..., 3] = (pose[..., 3] + 0.5) * kx - 0.5
    out[..., 4] = (pose[..., 4] + 0.5) * ky - 0.5
    out[..., 5] = pose[..., 5] * kx
    return out


def pose_to_rigid(pose: torch.Tensor, cam: CameraConfig, height: int, width: int
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pose ``[N, 6]`` (pixels of a ``height x width`` image) -> ``R [N, 3, 3]``, head centre ``c [N, 3]``."""
    pose = pose.reshape(-1, 6)
    rot = euler_to_matrix(pose[:, 0], pose[:, 1], pose[:, 2])
    f = cam.focal * width
    z = f / pose[:, 5].clamp(min=1e-6)
    centre = torch.stack([(pose[:, 3] + 0.5 - width / 2.0) * z / f, (pose[:, 4] + 0.5 - height / 2.0) * z / f, z], -1)
    return rot, centre


def head_to_camera(x: torch.Tensor, rot: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Canonical points ``[N, 3]`` -> camera space: ``P = R X + c``."""
    return (rot @ x[..., None])[..., 0] + centre


def camera_to_head(p: torch.Tensor, rot: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Camera points ``[N, 3]`` -> canonical head space: ``X = Rᵀ (P - c)``."""
    return (rot.transpose(-1, -2) @ (p - centre)[..., None])[..., 0]


def pixel_directions(pix: torch.Tensor, height: int, width: int, cam: CameraConfig) -> torch.Tensor:
    """Unit camera-space directions through pixel centres; ``pix [N]`` are flat ``y * W + x`` indices."""
    f = cam.focal * width
    x = (pix % width).to(torch.float32) + 0.5 - width / 2.0
    y = torch.div(pix, width, rounding_mode="floor").to(torch.float32) + 0.5 - height / 2.0
    d = torch.stack([x / f, y / f, torch.ones_like(x)], -1)
    return d / d.norm(dim=-1, keepdim=True)


def project(p: torch.Tensor, height: int, width: int, cam: CameraConfig) -> torch.Tensor:
    """Camera points ``[N, 3]`` -> pixel coordinates ``[N, 2]`` (x, y; landmark convention)."""
    f = cam.focal * width
    return torch.stack([p[:, 0] / p[:, 2] * f + width / 2.0 - 0.5, p[:, 1] / p[:, 2] * f + height / 2.0 - 0.5], -1)


def head_rays(pix: torch.Tensor, pose: torch.Tensor, height: int, width: int, cam: CameraConfig
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through ``pix [N]`` with per-ray poses ``[N, 6]`` (or one ``[6]``), in canonical head space."""
    d_cam = pixel_directions(pix, height, width, cam).to(pose.device)
    pose = pose.reshape(-1, 6).to(d_cam.dtype).expand(d_cam.shape[0], 6)
    rot, centre = pose_to_rigid(pose, cam, height, width)
    rt = rot.transpose(-1, -2)
    origins = (rt @ (-centre)[..., None])[..., 0]
    dirs = (rt @ d_cam[..., None])[..., 0]
    return origins, dirs


def aabb_intersect(origins: torch.Tensor, dirs: torch.Tensor, bound: float
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slab test against ``[-bound, bound]^3``: ``near [N], far [N], hit [N] bool``."""
    inv = 1.0 / torch.where(dirs.abs() < 1e-9, torch.full_like(dirs, 1e-9), dirs)
    t0 = (-bound - origins) * inv
    t1 = (bound - origins) * inv
    near = torch.minimum(t0, t1).amax(-1).clamp(min=0.0)
    far = torch.maximum(t0, t1).amin(-1)
    hit = far > near + 1e-6
    return near, torch.where(hit, far, near), hit


def stratified_samples(near: torch.Tensor, far: torch.Tensor, n_samples: int, perturb: bool,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_samples`` depths per ray, one in each of equal bins of ``[near, far]``: ``t [N, S]``, ``δ [N, S]``."""
    n = near.shape[0]
    if not perturb:
        offs = torch.full((n, n_samples), 0.5, device=near.device)
    elif generator is not None:  # draw on the generator's device (training keeps a CPU generator)
        offs = torch.rand(n, n_samples, generator=generator, device=generator.device).to(near.device)
    else:
        offs = torch.rand(n, n_samples, device=near.device)
    bins = torch.arange(n_samples, device=near.device, dtype=near.dtype)
    width = (far - near) / n_samples
    t = near[:, None] + (bins[None] + offs) * width[:, None]
    return t, width[:, None].expand(n, n_samples)


def volume_weights(sigma: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
    """Eq. 11–12 discretised: ``w_i = exp(-Σ_{j<i} σ_j δ_j) (1 - exp(-σ_i δ_i))``, ``[N, S]``."""
    tau = sigma * deltas
    trans = torch.exp(-(torch.cumsum(tau, dim=-1) - tau))  # exclusive sum: T_i
    return trans * (1.0 - torch.exp(-tau))


def composite(rgb: torch.Tensor, acc: torch.Tensor, plate: torch.Tensor) -> torch.Tensor:
    """Head over the torso/background plate: ``I = C + (1 - A) B`` (rgb is premultiplied)."""
    return rgb + (1.0 - acc)[..., None] * plate


class OccupancyGrid(nn.Module):
    """A coarse ``res^3`` grid of max densities over the head box, used to skip empty space.

    ``update(model, alphas)`` evaluates σ at jittered cell centres for a few expressions and
    keeps ``max(decay * old, new)``; ``occupied(x)`` says which points need the MLP.
    """

    def __init__(self, resolution: int = 32, bound: float = 1.0, threshold: float = 0.01) -> None:
        super().__init__()
        self.resolution, self.bound, self.threshold = int(resolution), float(bound), float(threshold)
        self.register_buffer("density", torch.full((self.resolution**3,), 1e3))  # start all occupied

    def cell_index(self, x: torch.Tensor) -> torch.Tensor:
        r = self.resolution
        ijk = ((x + self.bound) / (2 * self.bound) * r).long().clamp(0, r - 1)
        return ijk[:, 0] + r * (ijk[:, 1] + r * ijk[:, 2])

    def occupied(self, x: torch.Tensor) -> torch.Tensor:
        return self.density[self.cell_index(x)] > self.threshold

    @torch.no_grad()
    def update(self, model: nn.Module, alphas: torch.Tensor, decay: float = 0.9, chunk: int = 65536) -> float:
        """Refresh from ``alphas [K, 10]``; returns the occupied fraction."""
        r = self.resolution
        idx = torch.arange(r**3, device=self.density.device)
        ijk = torch.stack([idx % r, (idx // r) % r, idx // (r * r)], -1).to(torch.float32)
        new = torch.zeros_like(self.density)
        for a in alphas:
            x = (ijk + torch.rand_like(ijk)) / r * 2 * self.bound - self.bound
            for s in range(0, x.shape[0], chunk):
                xs = x[s:s + chunk]
                sig, _ = model.density(xs, a.expand(xs.shape[0], -1))
                new[s:s + chunk] = torch.maximum(new[s:s + chunk], sig)
        self.density.copy_(torch.maximum(self.density * decay, new))
        return float((self.density > self.threshold).float().mean())


def render_rays(model: nn.Module, origins: torch.Tensor, dirs: torch.Tensor, alpha: torch.Tensor,
                n_samples: int = 32, perturb: bool = False, occupancy: OccupancyGrid | None = None,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Volume-render rays in canonical space with per-ray expressions ``alpha [N, 10]``.

    Returns ``rgb [N, 3]`` (premultiplied), ``acc [N]`` (accumulated alpha), ``depth [N]``
    (expected ray depth, 0 where nothing was hit) and ``weights [N, S]``.
    """
    bound = model.config.bound
    near, far, hit = aabb_intersect(origins, dirs, bound)
    t, deltas = stratified_samples(near, far, n_samples, perturb, generator)
    n = origins.shape[0]
    pts = origins[:, None, :] + t[..., None] * dirs[:, None, :]  # [N, S, 3]
    flat = pts.reshape(-1, 3)
    keep = hit[:, None].expand(n, n_samples).reshape(-1)
    if occupancy is not None:
        keep = keep & occupancy.occupied(flat)
    if bool(keep.all()):  # nothing to skip: evaluate densely
        s, c = n_samples, dirs.shape[-1]
        rgb, sigma = model(flat, dirs[:, None, :].expand(n, s, c).reshape(-1, c),
                           alpha[:, None, :].expand(n, s, alpha.shape[-1]).reshape(n * s, -1))
        sel = keep[:0]
    else:
        sel = keep.nonzero(as_tuple=True)[0]
        sigma = torch.zeros(n * n_samples, device=origins.device, dtype=origins.dtype)
        rgb = torch.zeros(n * n_samples, 3, device=origins.device, dtype=origins.dtype)
    if sel.numel():
        ray_of = torch.div(sel, n_samples, rounding_mode="floor")
        c, s = model(flat[sel], dirs[ray_of], alpha[ray_of])
        sigma = sigma.index_put((sel,), s)
        rgb = rgb.index_put((sel,), c)
    sigma, rgb = sigma.view(n, n_samples), rgb.view(n, n_samples, 3)
    weights = volume_weights(sigma, deltas)
    acc = weights.sum(-1)
    return {
        "rgb": (weights[..., None] * rgb).sum(1),
        "acc": acc,
        "depth": (weights * t).sum(-1) / acc.clamp(min=1e-6),
        "weights": weights,
    }


@torch.no_grad()
def render_image(model: nn.Module, cam: CameraConfig, pose: torch.Tensor, alpha: torch.Tensor,
                 plate: torch.Tensor, n_samples: int = 32, occupancy: OccupancyGrid | None = None,
                 chunk: int = 16384) -> tuple[torch.Tensor, torch.Tensor]:
    """One frame: ``plate [H, W, 3]`` in [0, 1] -> composited image ``[H, W, 3]`` and alpha ``[H, W]``.

    Only rays that hit the head box are marched; the rest show the plate.
    """
    height, width = plate.shape[:2]
    device = plate.device
    pix = torch.arange(height * width, device=device)
    origins, dirs = head_rays(pix, pose.to(device), height, width, cam)
    _, _, hit = aabb_intersect(origins, dirs, model.config.bound)
    idx = hit.nonzero(as_tuple=True)[0]
    rgb = torch.zeros(height * width, 3, device=device)
    acc = torch.zeros(height * width, device=device)
    a = alpha.to(device).reshape(1, -1)
    for s in range(0, idx.numel(), chunk):
        ii = idx[s:s + chunk]
        out = render_rays(model, origins[ii], dirs[ii], a.expand(ii.numel(), -1), n_samples, False, occupancy)
        rgb[ii], acc[ii] = out["rgb"], out["acc"]
    image = composite(rgb, acc, plate.reshape(-1, 3))
    return image.view(height, width, 3).clamp(0, 1), acc.view(height, width)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio of images in [0, 1]."""
    mse = float(((a - b) ** 2).mean())
    return 10.0 * math.log10(1.0 / max(mse, 1e-12))
