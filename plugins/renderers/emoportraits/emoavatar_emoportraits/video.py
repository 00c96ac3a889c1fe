"""``emoportraits-video``: the driving video -> ``motion:emoportraits`` (reenactment, the way the released
model is used: every driving frame is cropped around its tracked face, then the head-pose regressor gives
its pose and the expression embedder its latent z, paper §3 "E_motion")."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from emoavatar.errors import FaceNotFoundError
from emoavatar.interfaces import MotionGenerator, RunContext
from emoavatar.types import AudioFeatures, EmotionState, Motion, Portrait

from .crop import portrait_crop
from .embed import embed_frames
from .loading import get_model
from .spec import MOTION_SPACE, EmoPortraitsVideoConfig


class EmoPortraitsVideo(MotionGenerator):
    def __init__(self, config: EmoPortraitsVideoConfig | None = None) -> None:
        super().__init__(config or EmoPortraitsVideoConfig())

    @torch.no_grad()
    def generate(self, features: Mapping[str, AudioFeatures], emotion: EmotionState, portrait: Portrait,
                 ctx: RunContext) -> Motion:
        c = self.config
        driving = ctx.ports["input:driving"]
        model = get_model(c.checkpoint, c.head_pose_checkpoint, c.architecture, c.device)
        emb = embed_frames(model, driving.frames_at(ctx.fps, ctx.n_frames, chunk=c.batch_size), ctx.face,
                           c.crop_scale, c.device)
        if emb.faces_found == 0 and ctx.face is not None:
            raise FaceNotFoundError(f"no face found in the driving video {driving.path}",
                                    fix="use a clip with one clearly visible face")
        z, srt, found = emb.z, emb.head_pose, emb.faces_found
        if c.pose_smoothing > 0:
            for t in range(1, len(srt)):
                srt[t] = c.pose_smoothing * srt[t - 1] + (1 - c.pose_smoothing) * srt[t]
        if c.relative_pose:
            own = self._portrait_pose(model, portrait)
            srt = own[None] + (srt - srt[:1])
        return Motion(MOTION_SPACE, {MOTION_SPACE: z, "head_pose": srt}, ctx.fps,
                      meta={"driving": str(driving.path), "faces_found": found})

    def _portrait_pose(self, model, portrait: Portrait) -> np.ndarray:
        img = portrait_crop(portrait, model.cfg.image_size, self.config.crop_scale).to(self.config.device)
        return model.head_pose(img)[0].cpu().numpy()

