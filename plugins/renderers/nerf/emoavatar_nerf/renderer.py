"""The ``nerf`` renderer: Motion ``exp3dmm10`` (α̂ [T,10], pose [T,6]) -> frames (EmoHead eq. 10–12)."""

from __future__ import annotations

import logging

import numpy as np
import torch
from emoavatar.errors import ConfigError, WeightsNotFoundError
from emoavatar.interfaces import Renderer, RunContext
from emoavatar.types import Motion, Portrait

from .checkpoint import NerfBundle, load_bundle
from .render import render_image, rescale_pose
from .spec import NerfRendererConfig

log = logging.getLogger(__name__)

SPACE = "exp3dmm10"


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resize_plate(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8/float ``[h, w, 3]`` -> float32 ``[height, width, 3]`` in [0, 1]."""
    import cv2

    img = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    if img.shape[:2] != (height, width):
        interp = cv2.INTER_AREA if img.shape[0] > height else cv2.INTER_LINEAR
        img = cv2.resize(img, (width, height), interpolation=interp)
    return np.clip(img, 0.0, 1.0)


class NerfRenderer(Renderer):
    """Expression-conditioned NeRF of one person (trained with ``emoavatar train nerf``).

    ``prepare`` loads ``config.checkpoint`` (once) and builds the torso/background plate;
    ``render`` marches every pixel ray that hits the head box and composites the head over
    the plate with its accumulated alpha.
    """

    def __init__(self, config: NerfRendererConfig | None = None) -> None:
        super().__init__(config or NerfRendererConfig())
        self._bundle: NerfBundle | None = None
        self._plate: torch.Tensor | None = None
        self._pose_hw: tuple[int, int] = (0, 0)
        self._warned = False

    @property
    def device(self) -> torch.device:
        return pick_device(self.config.device)

    def load(self) -> NerfBundle:
        if self._bundle is None:
            if not self.config.checkpoint:
                raise WeightsNotFoundError(
                    "the nerf renderer needs a trained checkpoint (option `checkpoint`)",
                    fix="train one with `emoavatar train nerf CONFIG.yaml` and set `checkpoint: OUTPUT_DIR`")
            self._bundle = load_bundle(self.config.checkpoint, self.device)
            self._bundle.model.eval()
        return self._bundle

    def output_size(self) -> tuple[int, int]:
        h, w = self.load().resolution
        if self.config.resolution is None:
            return h, w
        out_h = int(self.config.resolution)
        return out_h, max(1, round(w * out_h / h))

    def prepare(self, portrait: Portrait, ctx: RunContext) -> None:
        super().prepare(portrait, ctx)
        bundle = self.load()
        h, w = self.output_size()
        if self.config.background == "portrait":
            plate = resize_plate(portrait.image, h, w)
        else:
            plate = resize_plate(bundle.plate.cpu().numpy(), h, w)
        self._plate = torch.from_numpy(plate).to(self.device)
        # Motion poses are in portrait pixels; the checkpoint's default pose in training pixels.
        self._pose_hw = (portrait.height, portrait.width)

    def _poses(self, motion: Motion) -> tuple[torch.Tensor, tuple[int, int]]:
        bundle = self.load()
        n = len(motion)
        if self.config.pose_source == "motion" and "pose" in motion.tracks:
            pose = np.asarray(motion.tracks["pose"], np.float32).reshape(n, 6)
            if np.all(pose[:, 5] > 0):
                return torch.from_numpy(pose), self._pose_hw
            log.info("nerf: motion pose has no scale (all zeros?); using the checkpoint's pose")
        default = np.asarray(bundle.meta.get("default_pose", [0, 0, 0, 0, 0, 1]), np.float32)
        hw = tuple(bundle.meta.get("pose_resolution", bundle.resolution))
        return torch.from_numpy(np.repeat(default[None], n, 0)), (int(hw[0]), int(hw[1]))

    def render(self, motion: Motion, ctx: RunContext) -> np.ndarray:
        bundle = self.load()
        if self._plate is None:
            raise ConfigError("nerf renderer: render() called before prepare()", fix="call prepare(portrait, ctx)")
        alpha = motion.tracks.get(SPACE)
        if alpha is None:
            raise ConfigError(f"nerf renderer needs motion:{SPACE}, got motion:{motion.space}",
                              fix="use an EmoHead motion generator (emohead-a2e) before the nerf renderer")
        alpha = torch.from_numpy(np.asarray(alpha, np.float32).reshape(len(motion), -1))
        k = bundle.model.config.exp_dim_in
        if alpha.shape[1] != k:
            raise ConfigError(f"nerf renderer: α has {alpha.shape[1]} columns, the checkpoint expects {k}")
        want, got = bundle.meta.get("basis"), motion.meta.get("basis")
        if want and got and str(want) != str(got) and not self._warned:
            log.warning("nerf: motion α comes from basis %s but the NeRF was trained on %s", got, want)
            self._warned = True
        poses, pose_hw = self._poses(motion)
        h, w = self._plate.shape[:2]
        poses = rescale_pose(poses, pose_hw, (h, w))
        occ = bundle.occupancy if self.config.occupancy else None
        frames = np.empty((len(motion), h, w, 3), np.uint8)
        for i in range(len(motion)):
            img, _ = render_image(bundle.model, bundle.camera, poses[i], alpha[i], self._plate,
                                  self.config.n_samples, occ, self.config.chunk_rays)
            frames[i] = (img * 255.0 + 0.5).clamp(0, 255).to(torch.uint8).cpu().numpy()
        return frames
