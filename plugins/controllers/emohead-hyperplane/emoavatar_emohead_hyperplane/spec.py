"""Light spec of the EmoHead hyperplane controller (no torch, no scikit-learn here)."""

from __future__ import annotations

from emoavatar.spec import ComponentSpec, PathOrId, TrainerSpec
from pydantic import BaseModel, ConfigDict, Field


class HyperplaneConfig(BaseModel):
    """Options of ``emohead-hyperplane``."""

    model_config = ConfigDict(extra="forbid")
    hyperplanes: PathOrId | None = Field(None, description="hyperplanes .npz/.safetensors (+ .json) from train_hyperplane")
    strength: float = Field(1.0, ge=0.0, le=10.0, description="length of the per-frame w_z put in EmotionState.latent")


HYPERPLANE_SPEC = ComponentSpec(
    name="emohead-hyperplane", kind="controllers",
    factory="emoavatar_emohead_hyperplane.controller:HyperplaneController",
    config=HyperplaneConfig, optional=("features:*",), produces=("emotion",),
    summary="EmoHead emotion hyperplanes: per-frame emotion + hyperplane normals w_z in EmotionState.latent",
)

#: trainers, run as `emoavatar train NAME` (light: the target is imported only when it runs)
HYPERPLANE_TRAINER = TrainerSpec(
    name="emohead-hyperplane", target="emoavatar_emohead_hyperplane.train_hyperplane:main",
    summary="fit one linear SVM per emotion on preprocessed clips (balanced over mouth-aspect-ratio groups)",
)
