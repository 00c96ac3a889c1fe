"""Loading the released EMOPortraits stage-1 checkpoint into :class:`~.model.Stage1`.

The authors' training script saves ``torch.save(model.state_dict(), ".../checkpoints/NNN_model.pth")``: a
plain state_dict of the whole training model. Besides the generator networks this holds the
discriminator and loss networks, which inference does not use. Every key of ours must be in the file
with the same shape; keys under our networks that we do not know are an error too (a different layout);
keys of other (training-only) modules are skipped and counted.
"""

from __future__ import annotations

from pathlib import Path

import torch
from emoavatar.errors import WeightsNotFoundError

from .model import Stage1, Stage1Config

SOURCE = ("the authors' release: logs.zip (model) and repos.zip (head_pose_regressor.pth) linked from "
          "https://github.com/neeek2303/EMOPortraits (Google Drive / Yandex Disk)")
LICENCE = "CC BY-NC-SA 4.0 (non-commercial, share-alike), as the EMOPortraits repository states"
MODEL_FILE = "logs/Retrain_with_17_V1_New_rand_MM_SEC_4_drop_02_stm_10_CV_05_1_1/checkpoints/<epoch>_model.pth"
HEAD_POSE_FILE = "repos/head_pose_regressor.pth"


class CheckpointMismatch(WeightsNotFoundError):
    """The file exists but its keys/shapes are not the stage-1 layout."""


def read_state_dict(path: Path, what: str, where: str, source: str = SOURCE) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(
            f"EMOPortraits {what} not found: {path}",
            fix=f"download {where} from {source}, licence {LICENCE}, and pass its path")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise CheckpointMismatch(f"{path} is not a state_dict (got {type(sd).__name__})",
                                 fix=f"use the {what} file from {source}")
    if sd and all(k.startswith("module.") for k in sd):  # saved from a DataParallel wrapper
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def check_agreement(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], path: Path,
                    what: str = "EMOPortraits stage-1",
                    fix: str = "check that the file is the stage-1 *_model.pth and the options match its config") -> list[str]:
    """Raise on any missing key, unknown key under our networks, or shape difference; return skipped keys."""
    prefixes = {k.split(".", 1)[0] for k in ours}
    missing = [k for k in ours if k not in theirs]
    unknown = [k for k in theirs if k.split(".", 1)[0] in prefixes and k not in ours]
    shapes = [f"{k} {tuple(theirs[k].shape)} != {tuple(v.shape)}" for k, v in ours.items()
              if k in theirs and tuple(theirs[k].shape) != tuple(v.shape)]
    if missing or unknown or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unknown:
            parts.append(f"{len(unknown)} unexpected (e.g. {unknown[0]})")
        if shapes:
            parts.append(f"{len(shapes)} of another shape (e.g. {shapes[0]})")
        raise CheckpointMismatch(f"{path} does not match the {what} layout: " + "; ".join(parts), fix=fix)
    return [k for k in theirs if k.split(".", 1)[0] not in prefixes]


def load_stage1(model_path: Path, head_pose_path: Path | None = None, cfg: Stage1Config = Stage1Config(),
                device: str = "cpu") -> Stage1:
    """Build :class:`Stage1` and load the released files (``weights_only=True``) with exact key/shape agreement."""
    theirs = read_state_dict(model_path, "stage-1 model", MODEL_FILE)
    model = Stage1(cfg)
    ours = model.state_dict()
    model.skipped_keys = check_agreement(ours, theirs, Path(model_path))
    _load_ours(model, {k: theirs[k] for k in ours})
    if head_pose_path is not None:
        hp = read_state_dict(head_pose_path, "head-pose regressor", HEAD_POSE_FILE)
        hp_ours = model.head_pose.net.state_dict()
        check_agreement({f"net.{k}": v for k, v in hp_ours.items()}, {f"net.{k}": v for k, v in hp.items()},
                        Path(head_pose_path))
        model.head_pose.net.load_state_dict(hp, strict=True)
    return model.eval().to(device)


def _load_ours(model: Stage1, sd: dict[str, torch.Tensor]) -> None:
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.startswith("head_pose.")]  # the regressor comes from its own file
    if missing or unexpected:
        raise CheckpointMismatch(f"stage-1 weights did not load: missing {missing[:3]}, unexpected {unexpected[:3]}")
