"""Light specs of the MoEE diffusion distribution (pydantic + emoavatar.spec only).

Ports: ``moee-motion`` consumes ``emotion`` (+ optional ``features:*``, wav2vec2 hidden states) and
produces ``motion:moee-cond``; ``moee-diffusion`` consumes ``motion:moee-cond`` and produces ``frames``.

Space ``moee-cond`` (per frame): ``moee-cond [T, 6]`` global expert gates over EXPERTS, ``intensity [T]``,
``audio [T, window, blocks*channels]`` wav2vec2 windows, ``regions [T, R, 6]`` region gates (names in
``meta['regions']``), ``latent [T, L]`` emotion latent (zeros when the controller gives none), ``landmarks
[T, 68, 2]`` the head's 68 landmarks in portrait pixels per frame (where the renderer draws the face-locator
input and the face / lip masks; passed on by moee-motion from a ``motion:landmarks68`` stage before it, e.g.
facs-rig's head sway; absent: the portrait's landmarks for every frame).
"""

from __future__ import annotations

from typing import Literal

from emoavatar.spaces import MotionSpace, Track
from emoavatar.spec import ComponentSpec, PathOrId, TrainerSpec
from pydantic import BaseModel, ConfigDict, Field

SPACE = "moee-cond"


MOEE_COND = MotionSpace(SPACE, (
    Track(SPACE, ("T", 6), description="global expert gates over happy, sad, angry, fearful, disgusted, surprised"),
    Track("intensity", ("T",), description="emotion intensity in [0, 1]"),
    Track("audio", ("T", "W", "D"), description="wav2vec2 feature windows (W frames x D values)"),
    Track("regions", ("T", "R", 6), required=False, description="region gates; names in meta['regions']"),
    Track("latent", ("T", "L"), required=False, description="the controller's emotion latent"),
    Track("landmarks", ("T", 68, 2), required=False, description="per-frame head landmarks (portrait pixels): the "
          "face-locator / mask geometry"),
), summary="MoEE diffusion conditioning (moee-motion -> moee-diffusion)")


class MoEEMotionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    audio: str | None = Field("wav2vec2", description="feature kind read from features:KIND (wav2vec2 hidden states); "
                              "None = no audio (zeros)")
    window: int = Field(5, ge=1, description="audio frames per window (Hallo: 5)")
    latent_dim: int = Field(0, ge=0, description="emotion latent columns passed on (0: none)")


class DiffusionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: Literal["real", "tiny"] = Field("real", description="real = Hallo/SD-1.5 sizes; tiny = test config")
    checkpoint: PathOrId | None = Field(None, description="folder written by `emoavatar train moee-stage1/2` (net + vae)")
    backbone: PathOrId | None = Field(None, description="Hallo's net.pth (hub fudan-generative-vision/hallo, hallo/net.pth)")
    vae: PathOrId | None = Field("stabilityai/sd-vae-ft-mse", description="SD-1.5 VAE folder or cached hub id "
                            "(diffusers AutoencoderKL)")
    local_files_only: bool = True
    crop_scale: float | None = Field(None, gt=0.5, le=4.0, description="head crop side / landmark box side; None = "
                                     "the checkpoint's (its clips' crop), else 2.2")
    resolution: int = Field(512, ge=16, le=1024, description="square output size")
    steps: int = Field(40, ge=1, le=1000, description="DDIM steps (Hallo: 40)")
    clip_frames: int = Field(16, ge=1, le=64, description="frames per clip (Hallo: 16)")
    motion_frames: int = Field(2, ge=0, le=8, description="previous frames carried into the next clip (Hallo: 2)")
    guidance: float = Field(1.0, ge=0.0, le=20.0, description="classifier-free guidance scale, audio and identity "
                            "zeroed in the unconditional branch (Hallo: 3.5; 1 = off, half the U-Net passes)")
    experts: bool = Field(True, description="use MoEE's expert attention (False: the plain backbone)")
    seed: int = 42
    device: str = "auto"


MOTION_SPEC = ComponentSpec(
    name="moee-motion", kind="motion", factory="emoavatar_diffusion.motion:MoEEMotion", config=MoEEMotionConfig,
    consumes=("emotion",), optional=("features:*", "motion:landmarks68"), produces=(f"motion:{SPACE}",),
    summary="MoEE conditioning: expert gates (global + regional), emotion latent, wav2vec2 audio windows and "
            "(from a landmarks68 stage before it) the head's per-frame landmarks",
)
SPEC = ComponentSpec(
    name="moee-diffusion", kind="renderers", factory="emoavatar_diffusion.renderer:MoEEDiffusionRenderer",
    config=DiffusionConfig, consumes=(f"motion:{SPACE}",), produces=("frames",),
    summary="MoEE diffusion renderer: ReferenceNet + U-Net with motion, audio and emotion-expert attention "
            "(loads Hallo's net.pth)",
)

#: trainers, run as `emoavatar train NAME` (light: the target is imported only when it runs)
STAGE1_TRAINER = TrainerSpec(
    name="moee-stage1", target="emoavatar_diffusion.train:main_stage1",
    summary="MoEE stage 1: fine-tune ReferenceNet + denoising U-Net on talking video",
)
STAGE2_TRAINER = TrainerSpec(
    name="moee-stage2", target="emoavatar_diffusion.train:main_stage2",
    summary="MoEE stage 2: backbone frozen, train the emotion experts and gates",
)
