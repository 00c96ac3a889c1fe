"""Light spec of the EmoHead audio-expression motion generator (no torch here)."""

from __future__ import annotations

from emoavatar.spec import ComponentSpec, PathOrId, TrainerSpec
from pydantic import BaseModel, ConfigDict, Field


class A2EConfig(BaseModel):
    """Options of ``emohead-a2e``."""

    model_config = ConfigDict(extra="forbid")
    checkpoint: PathOrId | None = Field(None, description="a2e checkpoint (.safetensors + .json next to it)")
    basis: str | None = Field(None, description="expression basis path/name for Motion.meta and the held pose "
                              "(default: the one recorded in the checkpoint)")
    hyperplanes: PathOrId | None = Field(None, description="hyperplanes file overriding those stored in the checkpoint")
    use_latent: bool = Field(True, description="take w_z [T,k] from EmotionState.latent when a controller sets it")
    strength: float = Field(1.0, ge=0.0, le=10.0, description="gain on the refinement τ·w_z (eq. 9)")
    chunk: int = Field(1024, ge=8, description="frames per forward pass (bounded memory)")
    device: str = Field("cpu", description="torch device")


A2E_SPEC = ComponentSpec(
    name="emohead-a2e", kind="motion", factory="emoavatar_emohead.a2e:EmoHeadA2E", config=A2EConfig,
    consumes=("features:*", "emotion"), produces=("motion:exp3dmm10",),
    summary="EmoHead audio-expression module: FusedAttn over HuBERT/emotion/text features -> 3DMM-style α (eq. 1-9)",
)

#: trainers, run as `emoavatar train NAME` (light: the target is imported only when it runs)
A2E_TRAINER = TrainerSpec(
    name="emohead-a2e", target="emoavatar_emohead.train_a2e:main",
    summary="train the audio-expression module on preprocessed clips (eq. 13)",
)
PREPROCESS_TRAINER = TrainerSpec(
    name="emohead-preprocess", target="emoavatar_emohead.preprocess:main",
    summary="talking videos -> preprocessed clips (expression parameters, pose, audio features)",
)
