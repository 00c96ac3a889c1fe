"""Checkpoint of a trained EmoHead NeRF: ``nerf.safetensors`` + ``nerf.json`` (+ ``train_state.pt``).

* ``nerf.safetensors``: the model's state dict, the occupancy grid (``occupancy.density``)
  and the torso/background plate (``plate``, float32 ``[H, W, 3]`` in [0, 1]).
* ``nerf.json``: ``{"format", "model": NerfModelConfig, "camera": CameraConfig,
  "resolution": [H, W], "n_samples", "step", "default_pose": [6], "emotion", ...}``.
* ``train_state.pt`` (training only): optimizer state, step and RNG state, read back with
  ``torch.load(weights_only=True)`` for ``--resume``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from emoavatar.errors import WeightsNotFoundError
from safetensors.torch import load_file, save_file

from .model import ExpressionNeRF, NerfModelConfig
from .render import CameraConfig, OccupancyGrid

FORMAT = "emoavatar-nerf/1"
WEIGHTS_FILE = "nerf.safetensors"
CONFIG_FILE = "nerf.json"
TRAIN_STATE_FILE = "train_state.pt"


@dataclass
class NerfBundle:
    """Everything rendering needs: model, camera, occupancy grid, plate and metadata."""

    model: ExpressionNeRF
    camera: CameraConfig
    occupancy: OccupancyGrid
    plate: torch.Tensor  # [H, W, 3] float in [0, 1]
    meta: dict = field(default_factory=dict)

    @property
    def resolution(self) -> tuple[int, int]:
        return int(self.plate.shape[0]), int(self.plate.shape[1])

    def to(self, device: torch.device | str) -> NerfBundle:
        self.model.to(device)
        self.occupancy.to(device)
        self.plate = self.plate.to(device)
        return self


def new_bundle(model_cfg: NerfModelConfig, camera: CameraConfig, plate: torch.Tensor,
               occupancy_resolution: int = 32, meta: dict | None = None) -> NerfBundle:
    model = ExpressionNeRF(model_cfg)
    occ = OccupancyGrid(occupancy_resolution, model_cfg.bound)
    return NerfBundle(model, camera, occ, plate.float(), dict(meta or {}))


def save_bundle(bundle: NerfBundle, directory: str | Path) -> Path:
    """Write ``nerf.safetensors`` + ``nerf.json`` into ``directory`` (atomically per file)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in bundle.model.state_dict().items()}
    tensors["occupancy.density"] = bundle.occupancy.density.detach().cpu().contiguous()
    tensors["plate"] = bundle.plate.detach().cpu().float().contiguous()
    tmp = directory / (WEIGHTS_FILE + ".partial")
    save_file(tensors, str(tmp))
    tmp.replace(directory / WEIGHTS_FILE)
    cfg = {
        **bundle.meta,
        "format": FORMAT,
        "model": bundle.model.config.to_dict(),
        "camera": bundle.camera.to_dict(),
        "resolution": list(bundle.resolution),
        "occupancy_resolution": bundle.occupancy.resolution,
        "occupancy_threshold": bundle.occupancy.threshold,
    }
    tmp = directory / (CONFIG_FILE + ".partial")
    tmp.write_text(json.dumps(cfg, indent=2))
    tmp.replace(directory / CONFIG_FILE)
    return directory


def _locate(path: str | Path) -> tuple[Path, Path]:
    path = Path(path).expanduser()
    directory = path.parent if path.suffix in (".safetensors", ".json") else path
    weights, config = directory / WEIGHTS_FILE, directory / CONFIG_FILE
    fix = "train one with `emoavatar train nerf CONFIG.yaml` and point `checkpoint:` at its output folder"
    for f in (weights, config):
        if not f.is_file():
            raise WeightsNotFoundError(f"NeRF checkpoint file not found: {f}", fix=fix)
    return weights, config


def load_bundle(path: str | Path, device: torch.device | str = "cpu") -> NerfBundle:
    """Read a checkpoint folder (or its ``nerf.safetensors`` / ``nerf.json``)."""
    weights, config = _locate(path)
    meta = json.loads(config.read_text())
    if meta.get("format") != FORMAT:
        raise WeightsNotFoundError(f"{config} is not an EmoHead NeRF checkpoint (format {meta.get('format')!r})",
                                   fix=f"expected format {FORMAT!r}")
    tensors = load_file(str(weights), device="cpu")
    model_cfg = NerfModelConfig.from_dict(meta["model"])
    occ = OccupancyGrid(int(meta.get("occupancy_resolution", 32)), model_cfg.bound,
                        float(meta.get("occupancy_threshold", 0.01)))
    model = ExpressionNeRF(model_cfg)
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    occ.density.copy_(tensors["occupancy.density"])
    bundle = NerfBundle(model, CameraConfig.from_dict(meta["camera"]), occ, tensors["plate"], meta)
    return bundle.to(device)


def save_train_state(directory: str | Path, optimizer: torch.optim.Optimizer, step: int,
                     extra: dict | None = None) -> Path:
    """Optimizer state + step + torch RNG state, for ``--resume``."""
    path = Path(directory) / TRAIN_STATE_FILE
    state = {"optimizer": optimizer.state_dict(), "step": int(step), "rng": torch.get_rng_state(), **(extra or {})}
    torch.save(state, str(path) + ".partial")
    Path(str(path) + ".partial").replace(path)
    return path


def load_train_state(directory: str | Path) -> dict:
    path = Path(directory) / TRAIN_STATE_FILE
    if not path.is_file():
        raise WeightsNotFoundError(f"training state not found: {path}", fix="resume from a folder written by training")
    return torch.load(str(path), weights_only=True, map_location="cpu")
