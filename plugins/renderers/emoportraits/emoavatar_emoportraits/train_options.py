"""Command-line options shared by the trainers of this distribution that embed clips with the stage-1 model
(``emoportraits-speech``, ``landmarks-to-emoportraits``); light (no torch import)."""

from __future__ import annotations

from pathlib import Path


def add_stage1_options(p) -> None:
    """``--checkpoint``, ``--head-pose-checkpoint`` and ``--architecture`` of an argparse parser."""
    p.add_argument("--checkpoint", required=True, help="the stage-1 model file (*_model.pth of the release, as the "
                   "renderer's checkpoint)")
    p.add_argument("--head-pose-checkpoint", required=True, help="head_pose_regressor.pth of the release")
    p.add_argument("--architecture", default="{}", help="Stage1Config overrides: JSON text or a .json file "
                   "(default {}: the released model)")


def stage1_architecture(text: str) -> dict:
    """``--architecture``: JSON text or a ``.json`` file of Stage1Config fields."""
    import json

    from emoavatar.errors import ConfigError

    src = Path(text).read_text() if text.strip().endswith(".json") and Path(text).is_file() else text
    try:
        arch = json.loads(src)
    except json.JSONDecodeError as e:
        raise ConfigError(f"--architecture is not JSON: {e}") from None
    if not isinstance(arch, dict):
        raise ConfigError("--architecture must be a JSON object of Stage1Config fields")
    return arch
