"""``landmarks-to-emoportraits``: ``motion:landmarks68`` -> ``motion:emoportraits`` (our bridge, not in the paper).

A later stage of a motion chain (``motion: [{use: facs-rig}, {use: landmarks-to-emoportraits}]``): it reads
the previous stage's landmarks from its declared port ``motion:landmarks68``. The portrait's own expression
latent z_s and pose p_s come from the stage-1 model's embedders (as the renderer's source); the learned
regressor (:mod:`.bridge_model`) predicts each frame's change from the portrait's landmarks to the frame's:

    z_t = z_s + gain_z * dz(L_s, L_t),    p_t = p_s + gain_p * dpose(L_s, L_t)

Landmarks equal to the portrait's own give z_s and p_s exactly: intensity 0 reproduces the portrait.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from emoavatar.errors import ConfigError, WeightsNotFoundError
from emoavatar.interfaces import MotionGenerator, RunContext
from emoavatar.types import AudioFeatures, EmotionState, Motion, Portrait

from .bridge_features import bridge_inputs
from .embed import embed_portrait
from .loading import get_model
from .spec import BRIDGE_TRAIN_COMMAND, MOTION_SPACE, LandmarksBridgeConfig

LANDMARKS_PORT = "motion:landmarks68"


def load_bridge(path: Path | None, device: str = "cpu"):
    """The trained bridge at ``path``; a missing file is a WeightsNotFoundError naming it and the train command."""
    from .bridge_model import read_bridge

    if path is None or not Path(path).is_file():
        what = f"not found: {path}" if path is not None else "not set (option bridge)"
        raise WeightsNotFoundError(f"landmarks-to-emoportraits bridge weights {what}",
                                   fix=f"train them (ours; no published weights exist): {BRIDGE_TRAIN_COMMAND}")
    return read_bridge(Path(path), device)


class LandmarksToEmoPortraits(MotionGenerator):
    def __init__(self, config: LandmarksBridgeConfig | None = None) -> None:
        super().__init__(config or LandmarksBridgeConfig())
        self._bridge = None

    @torch.no_grad()
    def generate(self, features: Mapping[str, AudioFeatures], emotion: EmotionState, portrait: Portrait,
                 ctx: RunContext) -> Motion:
        c = self.config
        landmarks = ctx.ports[LANDMARKS_PORT]
        if self._bridge is None:
            self._bridge = load_bridge(c.bridge, c.device)
        bridge, info = self._bridge
        model = get_model(c.checkpoint, c.head_pose_checkpoint, c.architecture, c.device)
        if bridge.z_dim != model.cfg.expression_dim:
            raise ConfigError(f"the bridge {c.bridge} predicts {bridge.z_dim}-d latents but the stage-1 model's are "
                              f"{model.cfg.expression_dim}-d", fix="train the bridge with this stage-1 checkpoint")
        z_s, pose_s = self.portrait_latent(model, portrait)
        lm = np.asarray(landmarks.tracks["landmarks68"], dtype=np.float64)
        x = torch.as_tensor(bridge_inputs(np.asarray(portrait.face.landmarks), lm), device=c.device)
        dz, dpose = bridge.split(bridge(x))
        z = z_s[None] + c.expression_gain * dz.cpu().numpy()
        pose = pose_s[None] + c.pose_gain * dpose.cpu().numpy()
        return Motion(MOTION_SPACE, {MOTION_SPACE: z.astype(np.float32), "head_pose": pose.astype(np.float32)},
                      ctx.fps, meta={"bridge": str(c.bridge), "bridge_info": info.get("metrics", {})})

    def portrait_latent(self, model, portrait: Portrait) -> tuple[np.ndarray, np.ndarray]:
        """The portrait's own (z [Z], pose [9]) from the model's embedders, cropped as the renderer crops it."""
        z, srt = embed_portrait(model, portrait, self.config.crop_scale, self.config.device)
        return z.cpu().numpy().astype(np.float64), srt.cpu().numpy().astype(np.float64)
