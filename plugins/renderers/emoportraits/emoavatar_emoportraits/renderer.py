"""``emoportraits`` renderer: portrait + ``motion:emoportraits`` -> frames (the model's square face crop)."""

from __future__ import annotations

import numpy as np
import torch
from emoavatar.errors import ConfigError
from emoavatar.interfaces import Renderer, RunContext
from emoavatar.types import Motion, Portrait

from .crop import portrait_crop, to_uint8
from .loading import get_model, get_refiner
from .spec import MOTION_SPACE, EmoPortraitsConfig


class EmoPortraitsRenderer(Renderer):
    def __init__(self, config: EmoPortraitsConfig | None = None) -> None:
        super().__init__(config or EmoPortraitsConfig())
        self.model = None
        self.source = None
        self.refiner = None

    def _load(self):
        c = self.config
        if c.threads:
            torch.set_num_threads(c.threads)
        if self.model is None:
            self.model = get_model(c.checkpoint, c.head_pose_checkpoint, c.architecture, c.device)
        if c.refiner is not None and self.refiner is None:
            self.refiner = get_refiner(c.refiner, c.refiner_architecture, c.device)
        return self.model

    @torch.no_grad()
    def prepare(self, portrait: Portrait, ctx: RunContext) -> None:
        model = self._load()
        img = portrait_crop(portrait, model.cfg.image_size, self.config.crop_scale).to(self.config.device)
        self.source = model.prepare_source(img)

    @torch.no_grad()
    def render(self, motion: Motion, ctx: RunContext) -> np.ndarray:
        if self.source is None:
            raise RuntimeError("EmoPortraitsRenderer.render called before prepare")
        if motion.space != MOTION_SPACE or "head_pose" not in motion.tracks:
            raise ConfigError(f"emoportraits renders motion:{MOTION_SPACE} (tracks {MOTION_SPACE}, head_pose), "
                              f"got motion:{motion.space}")
        model = self.model
        z_all = torch.as_tensor(np.asarray(motion.tracks[MOTION_SPACE], dtype=np.float32))
        srt_all = torch.as_tensor(np.asarray(motion.tracks["head_pose"], dtype=np.float32))
        if z_all.shape[1:] != (model.cfg.expression_dim,) or srt_all.shape[1:] != (9,):
            raise ConfigError(f"motion:{MOTION_SPACE} must have [T, {model.cfg.expression_dim}] latents and [T, 9] poses, "
                              f"got {tuple(z_all.shape)} and {tuple(srt_all.shape)}")
        out = []
        bs = self.config.batch_size
        for i in range(0, len(z_all), bs):
            z = z_all[i:i + bs].to(self.config.device)
            srt = srt_all[i:i + bs].to(self.config.device)
            frames = model.drive(self.source, z, srt)
            if self.refiner is not None:  # stage 2, one frame at a time (its 512x512 features dominate memory)
                frames = torch.cat([self.refiner(f[None]) for f in frames])
            out.append(to_uint8(frames))
        size = self.refiner.cfg.image_size if self.refiner is not None else model.cfg.image_size
        return np.concatenate(out) if out else np.zeros((0, size, size, 3), np.uint8)
