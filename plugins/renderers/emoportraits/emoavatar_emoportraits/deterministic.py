"""Deterministic weights keyed by parameter name, for random-weight checkpoints in the released format
(tests, examples, benchmarks) and for the parity check against the reference implementation.

Each floating tensor is drawn from ``torch.Generator().manual_seed(crc32(key))`` and scaled by its role;
spectral-norm vectors are the power-iteration vectors of their (filled) ``weight_orig``, so that
``sigma`` is the largest singular value as in a trained model. Grids and constants keep their values.
"""

from __future__ import annotations

import math
import zlib

import torch
import torch.nn.functional as F

KEEP = {"identity_grid", "identity_grid_512", "aligned_keypoints", "mean", "std"}


def _randn(key: str, shape: torch.Size) -> torch.Tensor:
    g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    return torch.randn(tuple(shape), generator=g, dtype=torch.float32)


def deterministic_state_dict(template: dict[str, torch.Tensor], head_pose: bool = False) -> dict[str, torch.Tensor]:
    """Fill every tensor of ``template`` (a state_dict) by the recipe; ``head_pose`` makes the 9 outputs
    of a head-pose regressor start near the identity pose (scale 1, no rotation or translation)."""
    out: dict[str, torch.Tensor] = {}
    for k, v in template.items():
        leaf = k.rsplit(".", 1)[-1]
        if not v.is_floating_point() or leaf in KEEP:
            out[k] = v.detach().clone()
            continue
        r = _randn(k, v.shape)
        if leaf in ("weight_u", "weight_v"):
            out[k] = r
        elif leaf == "running_var":
            out[k] = 1.0 + 0.1 * r.abs()
        elif leaf == "running_mean":
            out[k] = 0.1 * r
        elif leaf == "input_tensor":
            out[k] = r
        elif head_pose and k == "fc.weight":
            out[k] = 0.0005 * r
        elif head_pose and k == "fc.bias":
            out[k] = torch.tensor([1.0, 1, 1, 0, 0, 0, 0, 0, 0]) + 0.05 * r
        elif v.dim() >= 2:
            out[k] = r * math.sqrt(2.0 / max(1, v[0].numel()))
        elif leaf == "weight":
            out[k] = 1.0 + 0.1 * r
        else:
            out[k] = 0.05 * r
    for k in [k for k in out if k.endswith(".weight_orig")]:
        base = k[: -len("_orig")]
        w = out[k].reshape(out[k].shape[0], -1)
        v = F.normalize(torch.ones(w.shape[1]), dim=0)
        for _ in range(10):
            u = F.normalize(w @ v, dim=0)
            v = F.normalize(w.t() @ u, dim=0)
        out[base + "_u"], out[base + "_v"] = u, v
    return out


def write_random_checkpoint(folder, architecture: dict | None = None) -> tuple:
    """Write ``model.pth`` and ``head_pose_regressor.pth`` in the released format (plain state_dicts) with
    deterministic weights; return their paths. For tests, examples and benchmarks without the real files."""
    from pathlib import Path

    from .model import Stage1, Stage1Config

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = Stage1(Stage1Config(**(architecture or {})))
    model_path, hp_path = folder / "model.pth", folder / "head_pose_regressor.pth"
    torch.save(deterministic_state_dict(model.state_dict()), model_path)
    torch.save(deterministic_state_dict(model.head_pose.net.state_dict(), head_pose=True), hp_path)
    return model_path, hp_path


def write_random_refiner(path, architecture: dict | None = None):
    """Write a stage-2 refiner file in the released format (a plain state_dict) with deterministic weights."""
    from pathlib import Path

    from .refiner import Refiner, RefinerConfig

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(deterministic_state_dict(Refiner(RefinerConfig(**(architecture or {}))).state_dict()), path)
    return path
