"""``moee-diffusion``: render ``motion:moee-cond`` with the ReferenceNet diffusion backbone.

Per portrait: a square head crop at ``resolution`` is the reference image; face / lip masks and the
face-locator input come from its landmarks, or per frame from the ``landmarks`` track when the motion
carries one (the head pose of every frame, in portrait pixels, mapped into the crop). Per chunk: frames are generated in clips of
``clip_frames`` by DDIM (:mod:`.sampling`), each clip seeded with the previous clip's last
``motion_frames`` frames (the reference image for the first), then pasted back into the portrait.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from emoavatar.errors import FaceNotFoundError, PortError, WeightsNotFoundError
from emoavatar.interfaces import Renderer, RunContext
from emoavatar.types import Motion, Portrait

from .checkpoint import load_checkpoint, load_published
from .face import frame_masks, head_crop, region_prior
from .sampling import ClipCondition, sample_clip, to_tensor, to_uint8
from .spec import SPACE, DiffusionConfig


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class MoEEDiffusionRenderer(Renderer):
    def __init__(self, config: DiffusionConfig | None = None) -> None:
        super().__init__(config if config is not None else DiffusionConfig())
        self._loaded = None

    def _load(self):
        if self._loaded is None:
            cfg = self.config
            if cfg.checkpoint:
                net, vae, meta = load_checkpoint(cfg.checkpoint)
            elif cfg.size == "tiny":
                raise WeightsNotFoundError("moee-diffusion size: tiny has no published weights",
                                           fix="set `checkpoint:` to a folder written by `emoavatar train moee-stage1/2`")
            else:
                net, vae, meta = load_published(cfg.backbone, cfg.vae, cfg.local_files_only)
            self._device = pick_device(cfg.device)
            self._dtype = torch.float16 if self._device.type == "cuda" else torch.float32
            net.eval().requires_grad_(False).to(self._device, self._dtype)
            vae.eval().requires_grad_(False).to(self._device, self._dtype)
            self._loaded = (net, vae, meta)
        return self._loaded

    def prepare(self, portrait: Portrait, ctx: RunContext | None = None) -> None:
        net, vae, meta = self._load()
        lm = None if portrait.face is None else np.asarray(portrait.face.landmarks, np.float64)
        if lm is None or lm.shape != (68, 2):
            raise FaceNotFoundError("moee-diffusion needs the portrait's 68 face landmarks",
                                    fix="analyze the portrait with a FaceAnalyzer (e.g. dlib) first")
        res = int(meta.get("resolution") or self.config.resolution)
        self._portrait, self._res = portrait, res
        scale = self.config.crop_scale or float(meta.get("crop_scale") or 2.2)  # the crop the model was trained on
        self._crop = head_crop(lm, portrait.height, portrait.width, scale)
        x0, y0, side = self._crop
        crop = cv2.resize(portrait.image[y0:y0 + side, x0:x0 + side], (res, res), interpolation=cv2.INTER_AREA)
        self._lm = (lm - [x0, y0]) / side  # crop-normalised landmarks
        self._ref = to_tensor(crop[None])
        self._prev: torch.Tensor | None = None
        self._gen = torch.Generator().manual_seed(self.config.seed)
        self._latent_size = vae_latent_size(vae, res)

    def condition(self, motion: Motion) -> ClipCondition:
        """The clip's conditioning tensors from the ``moee-cond`` tracks and the portrait geometry."""
        net = self._load()[0]
        bc, n, ls = net.config, len(motion), self._latent_size
        tr = motion.tracks
        audio = torch.from_numpy(np.asarray(tr["audio"], np.float32))
        want = bc.audio_window * bc.audio_blocks * bc.audio_channels
        if audio[0].numel() != want:
            raise PortError(f"moee-diffusion: audio windows of {tuple(audio.shape[1:])} do not fit the backbone "
                            f"({bc.audio_window} x {bc.audio_blocks * bc.audio_channels})",
                            fix="give moee-motion wav2vec2 features of that width and window, or use a matching checkpoint")
        layers = motion.meta.get("audio_layers")
        if layers is not None and layers != bc.audio_blocks:
            raise PortError(f"moee-diffusion: the audio features carry {layers} wav2vec2 layer(s), the backbone's audio "
                            f"projection takes {bc.audio_blocks}",
                            fix="set `layers: all` on the hf-speech encoder (Hallo: all 12 layers of wav2vec2-base)")
        audio = audio.reshape(n, bc.audio_window, bc.audio_blocks, bc.audio_channels)  # Hallo: [f, 5, 12, 768]
        gates = np.asarray(tr[SPACE], np.float32)
        regions = tr.get("regions")
        names = tuple(motion.meta.get("regions", ()))
        prior = region_prior(self._lm, ls, names, gates, regions) if regions is not None else None
        if "landmarks" in tr:  # the head's pose per frame, portrait pixels -> crop-normalised
            x0, y0, side = self._crop
            lms = (np.asarray(tr["landmarks"], np.float64) - [x0, y0]) / side
        else:
            lms = np.broadcast_to(self._lm, (n, *self._lm.shape))
        masks, face_mask = frame_masks(lms, ls)
        masks = {k: torch.from_numpy(v) for k, v in masks.items()}
        face_mask = torch.from_numpy(face_mask)
        latent = torch.from_numpy(np.asarray(tr["latent"], np.float32)) if "latent" in tr and bc.latent_dim else None
        return ClipCondition(audio=audio, gates=torch.from_numpy(gates),
                             intensity=torch.from_numpy(np.asarray(tr.get("intensity", np.ones(n)), np.float32)),
                             region=None if prior is None else torch.from_numpy(prior), masks=masks,
                             face_mask=face_mask, identity=torch.zeros(1, bc.face_embedding_dim), latent=latent)

    def render(self, motion: Motion, ctx: RunContext | None = None) -> np.ndarray:
        if motion.space != SPACE:
            raise PortError(f"moee-diffusion renders motion:{SPACE}, got motion:{motion.space}",
                            fix="put moee-motion before moee-diffusion")
        net, vae, meta = self._load()
        cfg, out = self.config, []
        scale = net.config.vae_scale
        for start in range(0, len(motion), cfg.clip_frames):
            clip = motion.slice(start, min(start + cfg.clip_frames, len(motion)))
            n = len(clip)
            if n < cfg.clip_frames:  # pad the last clip with its last row, crop after
                clip = Motion(clip.space, {k: np.concatenate([v, np.repeat(v[-1:], cfg.clip_frames - n, 0)])
                                           for k, v in clip.tracks.items()}, clip.fps, clip.meta)
            m = max(cfg.motion_frames, 1)
            prev = self._ref.repeat(m, 1, 1, 1) if self._prev is None else self._prev[-m:]
            dev = {"device": self._device, "dtype": self._dtype}
            frames = sample_clip(net, vae, self.condition(clip), self._ref.to(**dev), prev.to(**dev), cfg.steps, self._gen,
                                 scale, cfg.guidance)[:n]
            self._prev = frames[-m:] if self._prev is None else torch.cat([self._prev, frames])[-m:]  # motion frames
            out.append(self._paste(to_uint8(frames)))
        return np.concatenate(out)

    def _paste(self, crops: np.ndarray) -> np.ndarray:
        x0, y0, side = self._crop
        frames = np.repeat(self._portrait.image[None], len(crops), 0)
        for i, c in enumerate(crops):
            frames[i, y0:y0 + side, x0:x0 + side] = cv2.resize(c, (side, side), interpolation=cv2.INTER_LINEAR)
        return frames


def vae_latent_size(vae, resolution: int) -> int:
    return resolution // (2 ** (len(vae.config.block_out_channels) - 1))
