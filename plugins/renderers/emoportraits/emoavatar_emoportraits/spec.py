"""Light specs of the EMOPortraits components and the ``motion:emoportraits`` space (no torch import)."""

from __future__ import annotations

from emoavatar.spaces import MotionSpace, Track
from emoavatar.spec import ComponentSpec, PathOption, TrainerSpec
from pydantic import BaseModel, ConfigDict, Field

#: The motion space the renderer consumes: per frame the stage-1 model's expression latent z and its head pose.
MOTION_SPACE = "emoportraits"
MOTION_PORT = f"motion:{MOTION_SPACE}"
MOTION_TRACKS = {
    MOTION_SPACE: "[T, 128] expression latent z (the output of the model's expression embedder)",
    "head_pose": "[T, 9] scale x/y/z, yaw/pitch/roll (radians), translation x/y/z: theta = S R T of the "
                 "model's head-pose regressor, applied to the canonical volume",
}

#: the published definition (entry point ``emoavatar.spaces``); Z = 128 for the released model
EMOPORTRAITS_SPACE = MotionSpace(MOTION_SPACE, (
    Track(MOTION_SPACE, ("T", "Z"), description=MOTION_TRACKS[MOTION_SPACE]),
    Track("head_pose", ("T", 9), description=MOTION_TRACKS["head_pose"]),
), summary="EMOPortraits stage-1 expression latent z and head pose (scale, yaw/pitch/roll, translation)")


class EmoPortraitsConfig(BaseModel):
    """Options of the ``emoportraits`` renderer."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: PathOption | None = Field(None, description="the released stage-1 model file (logs/<experiment>/checkpoints/"
                                    "<epoch>_model.pth from the authors' logs.zip); a plain state_dict")
    head_pose_checkpoint: PathOption | None = Field(None, description="head_pose_regressor.pth (repos.zip of the release); "
                                              "needed to pose the source portrait")
    architecture: dict = Field(default_factory=dict, description="overrides of the stage-1 hyper-parameters "
                               "(Stage1Config); empty = the released model")
    crop_scale: float = Field(1.0, gt=0.3, le=3.0, description="crop side = crop_scale x (face box width + height), "
                              "as the authors' preprocessing crops around the face detector's box")
    batch_size: int = Field(4, ge=1, le=64, description="frames decoded per forward pass")
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?)$")
    threads: int = Field(0, ge=0, le=256, description="torch CPU threads (0: leave torch's default)")
    refiner: PathOption | None = Field(None, description="the stage-2 refiner file (logs_s2/<experiment>/checkpoints/"
                                       "<epoch>_model.pth from the authors' logs_s2.zip); when set, frames go through "
                                       "stage 1 then the refiner")
    refiner_architecture: dict = Field(default_factory=dict, description="overrides of the refiner's hyper-parameters "
                                       "(RefinerConfig); empty = the released sizes, norm read from the file")


RENDERER_SPEC = ComponentSpec(
    name="emoportraits",
    kind="renderers",
    factory="emoavatar_emoportraits.renderer:EmoPortraitsRenderer",
    config=EmoPortraitsConfig,
    consumes=(MOTION_PORT,),
    produces=("frames",),
    summary="EMOPortraits stage-1 one-shot volumetric avatar (loads the released checkpoint); "
            "frames are the model's square face crop",
    extras={"motion_tracks": MOTION_TRACKS},
)


class EmoPortraitsVideoConfig(BaseModel):
    """Options of ``emoportraits-video``: the driving clip's per-frame z and pose from the model's own embedders."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: PathOption | None = Field(None, description="the released stage-1 model file (as for the renderer)")
    head_pose_checkpoint: PathOption | None = Field(None, description="head_pose_regressor.pth of the release")
    architecture: dict = Field(default_factory=dict, description="Stage1Config overrides; empty = the released model")
    crop_scale: float = Field(1.0, gt=0.3, le=3.0, description="driver crop side = crop_scale x (box width + height)")
    pose_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="exponential smoothing of the driver's pose "
                                  "(0: none; the authors' inference offers a pose momentum)")
    relative_pose: bool = Field(False, description="drive with the driver's pose change since its first frame applied "
                                "to the portrait's own pose (keeps the portrait's framing) instead of the absolute pose")
    batch_size: int = Field(8, ge=1, le=64)
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?)$")


VIDEO_SPEC = ComponentSpec(
    name="emoportraits-video",
    kind="motion",
    factory="emoavatar_emoportraits.video:EmoPortraitsVideo",
    config=EmoPortraitsVideoConfig,
    consumes=("input:driving",),
    produces=(MOTION_PORT,),
    summary="reenactment: a driving video's expression latents and head poses from EMOPortraits' own embedders",
)


class PortraitLatentOptions(BaseModel):
    """The stage-1 model that gives the portrait's own z and pose: options shared by the generators that drive
    the renderer relative to the portrait (``emoportraits-speech``, ``landmarks-to-emoportraits``)."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: PathOption | None = Field(None, description="the released stage-1 model file (as for the renderer): "
                                          "the portrait's own z and pose come from its embedders")
    head_pose_checkpoint: PathOption | None = Field(None, description="head_pose_regressor.pth of the release")
    architecture: dict = Field(default_factory=dict, description="Stage1Config overrides; empty = the released model")
    crop_scale: float = Field(1.0, gt=0.3, le=3.0, description="portrait crop side = crop_scale x (box width + height)")
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?)$")


class EmoPortraitsSpeechConfig(PortraitLatentOptions):
    """Options of ``emoportraits-speech``: audio features + the emotion state -> z and head pose (speech mode)."""

    speech_checkpoint: PathOption | None = Field(None, description="the speech-mode file (.safetensors: mouth PCA basis, "
                                                 "mean latent, emotion directions, audio regressor) written by "
                                                 "`emoavatar train emoportraits-speech`")
    mouth_strength: float = Field(1.0, ge=0.0, le=3.0, description="gain on the predicted mouth PCA coefficients")
    emotion_strength: float = Field(1.0, ge=0.0, le=5.0, description="gain on the emotion directions (times intensity)")
    pose_strength: float = Field(1.0, ge=0.0, le=3.0, description="gain on the predicted head motion (0: the "
                                 "portrait's own pose throughout)")


SPEECH_SPEC = ComponentSpec(
    name="emoportraits-speech",
    kind="motion",
    factory="emoavatar_emoportraits.speech:EmoPortraitsSpeech",
    config=EmoPortraitsSpeechConfig,
    consumes=("features:visemes", "emotion"),
    optional=("features:prosody", "features:hubert"),
    produces=(MOTION_PORT,),
    summary="speech mode (ours; the authors never released theirs): audio -> mouth PCA coefficients of z + head "
            "motion, emotion directions steer the rest of z",
)

#: ``emoavatar train emoportraits-speech`` (the target is imported only when it runs)
SPEECH_TRAINER = TrainerSpec(
    name="emoportraits-speech",
    target="emoavatar_emoportraits.speech_train:main",
    summary="talking clips (MEAD / CREMA-D / folder) -> stage-1 latents + audio features -> mouth PCA, emotion "
            "directions, audio regressor",
)


# -- landmarks-to-emoportraits: our learned bridge from motion:landmarks68 (not part of the paper) -------------
BRIDGE_TRAIN_COMMAND = ("emoavatar train landmarks-to-emoportraits --data CLIPS/ --checkpoint MODEL.pth "
                        "--head-pose-checkpoint head_pose_regressor.pth --out bridge.safetensors")


class LandmarksBridgeConfig(PortraitLatentOptions):
    """Options of ``landmarks-to-emoportraits``: per-frame landmarks -> z and head pose, relative to the portrait's."""

    bridge: PathOption | None = Field(None, description="the trained bridge (.safetensors) written by "
                                      "`emoavatar train landmarks-to-emoportraits`")
    expression_gain: float = Field(1.0, ge=0.0, le=4.0, description="scale of the predicted change of z")
    pose_gain: float = Field(1.0, ge=0.0, le=4.0, description="scale of the predicted change of the head pose "
                             "(0 holds the portrait's pose)")


BRIDGE_SPEC = ComponentSpec(
    name="landmarks-to-emoportraits",
    kind="motion",
    factory="emoavatar_emoportraits.bridge:LandmarksToEmoPortraits",
    config=LandmarksBridgeConfig,
    consumes=("motion:landmarks68",),
    produces=(MOTION_PORT,),
    summary="learned bridge (ours): motion:landmarks68 -> EMOPortraits z + head pose relative to the portrait's, "
            "so landmark motion generators (facs-rig) drive the emoportraits renderer in a motion chain",
)

BRIDGE_TRAINER = TrainerSpec(
    name="landmarks-to-emoportraits",
    target="emoavatar_emoportraits.bridge_train:main",
    summary="train the landmarks -> EMOPortraits latent bridge on talking videos (landmarks by our FaceAnalyzer, "
            "z and pose by the model's own embedders)",
    consumes=("motion:landmarks68",),
    produces=(MOTION_PORT,),
)
