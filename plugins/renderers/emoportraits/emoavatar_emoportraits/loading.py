"""One loaded model per (files, architecture, device) in a process, shared by the renderer and the motion
generators of this distribution."""

from __future__ import annotations

from pathlib import Path

from emoavatar.errors import WeightsNotFoundError

from .checkpoint import HEAD_POSE_FILE, LICENCE, MODEL_FILE, SOURCE

_CACHE: dict = {}


def get_model(checkpoint: Path | None, head_pose: Path | None, architecture: dict, device: str = "cpu"):
    import torch

    from .checkpoint import load_stage1
    from .model import Stage1Config

    if checkpoint is None:
        raise WeightsNotFoundError(
            f"EMOPortraits needs its stage-1 model file ({MODEL_FILE})",
            fix=f"download logs.zip from {SOURCE} (licence {LICENCE}) and set renderer.with.checkpoint")
    if head_pose is None:
        raise WeightsNotFoundError(
            f"EMOPortraits needs its head-pose regressor ({HEAD_POSE_FILE})",
            fix=f"download repos.zip from {SOURCE} (licence {LICENCE}) and set head_pose_checkpoint")
    key = (str(Path(checkpoint).resolve()), str(Path(head_pose).resolve()), tuple(sorted(architecture.items())), device)
    if key not in _CACHE:
        try:
            cfg = Stage1Config(**architecture)
        except TypeError as e:
            from emoavatar.errors import ConfigError

            raise ConfigError(f"architecture: {e}", fix="use the fields of Stage1Config") from None
        with torch.no_grad():
            _CACHE[key] = load_stage1(Path(checkpoint), Path(head_pose), cfg, device)
    return _CACHE[key]


def get_refiner(path: Path, architecture: dict, device: str = "cpu"):
    """The stage-2 refiner, loaded once per (file, architecture, device)."""
    import torch

    from .refiner import RefinerConfig, load_refiner

    key = ("refiner", str(Path(path).resolve()), tuple(sorted(architecture.items())), device)
    if key not in _CACHE:
        try:
            RefinerConfig(**architecture)  # the options alone, before reading the file
        except (TypeError, ValueError) as e:
            from emoavatar.errors import ConfigError

            raise ConfigError(f"refiner_architecture: {e}", fix="use the fields of RefinerConfig (norm: gn or bn)") from None
        with torch.no_grad():
            _CACHE[key] = load_refiner(Path(path), architecture, device)
    return _CACHE[key]
