"""Light spec of the EmoHead NeRF renderer (no torch import)."""

from __future__ import annotations

from typing import Literal

from emoavatar.spec import ComponentSpec, PathOrId, TrainerSpec
from pydantic import BaseModel, ConfigDict, Field


class NerfRendererConfig(BaseModel):
    """Options of the ``nerf`` renderer (EmoHead §III-C)."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: PathOrId | None = Field(
        None, description="folder written by `emoavatar train nerf` (nerf.safetensors + nerf.json)")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$", description="auto = cuda when available")
    resolution: int | None = Field(
        None, ge=16, le=2048, description="output height in pixels (width keeps the aspect); default: as trained")
    n_samples: int = Field(32, ge=4, le=512, description="stratified samples per ray")
    chunk_rays: int = Field(32768, ge=256, description="rays marched per forward pass")
    occupancy: bool = Field(True, description="skip empty space with the trained occupancy grid")
    background: Literal["checkpoint", "portrait"] = Field(
        "checkpoint", description="torso/background plate: the trained clip's median frame, or the portrait image")
    pose_source: Literal["motion", "checkpoint"] = Field(
        "motion", description="head pose from the motion's `pose` track, or the training clip's median pose")


NERF_SPEC = ComponentSpec(
    name="nerf",
    kind="renderers",
    factory="emoavatar_nerf.renderer:NerfRenderer",
    config=NerfRendererConfig,
    consumes=("motion:exp3dmm10",),
    produces=("frames",),
    summary="EmoHead expression-conditioned NeRF (hash grid), head composited over the torso/background",
)

#: trainers, run as `emoavatar train NAME` (light: the target is imported only when it runs)
NERF_TRAINER = TrainerSpec(
    name="nerf", target="emoavatar_nerf.train:main",
    summary="fit the expression-conditioned NeRF to one person's preprocessed clips or videos",
)
