"""Training losses of the expression rendering module (EmoHead eq. 15–16).

``L = λ_photo L_photo + [second half of training] (λ_cord L_cord + λ_shape L_shape)``:

* ``L_photo = ‖I_r - I_g‖²`` on the sampled rays (mean squared error).
* ``L_cord = -E_I(I_r)ᵀ E_T(emo)``: CLIP image embedding of a rendered face patch against the
  text embedding of the clip's emotion tag (both L2-normalised). CLIP is loaded with
  ``transformers.CLIPModel.from_pretrained`` from a user path; without one the term is skipped
  (logged once).
* ``L_shape = ‖β_id - β̂_id‖₂``: the paper compares the person's 3DMM identity geometry β_id with
  the one of the rendering. We have no 3DMM fitter, so the identity geometry is the canonical
  3-D position of the identity landmarks (nose, eyes, upper jaw: points that do not move with
  expression). For a frame, β̂_id is where the field puts them (the ray through each tracked
  landmark pixel, at its expected termination depth); β_id is the person's reference, a running
  average of those positions over training (kept in the checkpoint). The term keeps the head's
  identity geometry fixed while α̂ changes, i.e. expressions may not reshape the person.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from emoavatar.errors import WeightsNotFoundError
from torch import nn

from .render import CameraConfig, head_rays, render_rays

log = logging.getLogger(__name__)

#: 68-point indices of the identity landmarks: upper jaw (0-3, 13-16), nose (27-35), eyes (36-47).
IDENTITY_POINTS = np.r_[0:4, 13:17, 27:36, 36:48]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def photometric_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``L_photo = ‖I_r - I_g‖²`` averaged over rays and channels (eq. 15)."""
    return F.mse_loss(pred, target)


def refine_active(step: int, total: int) -> bool:
    """``L_refine`` is used in the second half of training (appendix V-C: after 100k of 200k)."""
    return step >= total // 2


class ClipEmotionLoss(nn.Module):
    """``L_cord = -E_I(I_r)ᵀ E_T(emo)`` with a frozen CLIP (eq. 16).

    ``ClipEmotionLoss(clip_model, tokenizer)``; ``forward(images [B, 3, h, w] in [0, 1], emotion)``.
    """

    def __init__(self, clip_model: nn.Module, tokenizer, prompt: str = "a photo of a {} face") -> None:
        super().__init__()
        self.clip = clip_model.eval()
        for p in self.clip.parameters():
            p.requires_grad_(False)
        self.tokenizer = tokenizer
        self.prompt = prompt
        self._text: dict[str, torch.Tensor] = {}
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: torch.device | str = "cpu") -> ClipEmotionLoss:
        """Load CLIP (model + tokenizer) from a local folder or hub id already in the cache."""
        from transformers import AutoTokenizer, CLIPModel

        try:
            model = CLIPModel.from_pretrained(str(path), local_files_only=True)
            tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except OSError as e:
            raise WeightsNotFoundError(f"CLIP weights not found at {path}: {e}".splitlines()[0],
                                       fix="download a CLIP checkpoint (e.g. openai/clip-vit-base-patch32) to a "
                                           "folder and set `clip: FOLDER`, or remove `clip` to skip L_cord") from e
        return cls(model, tok).to(device)

    def text_embedding(self, emotion: str) -> torch.Tensor:
        if emotion not in self._text:
            tokens = self.tokenizer([self.prompt.format(emotion)], padding=True, return_tensors="pt")
            tokens = {k: v.to(self.mean.device) for k, v in tokens.items()}
            with torch.no_grad():
                emb = self.clip.get_text_features(**tokens)
            emb = emb if isinstance(emb, torch.Tensor) else emb.pooler_output
            self._text[emotion] = F.normalize(emb, dim=-1)
        return self._text[emotion]

    def forward(self, images: torch.Tensor, emotion: str) -> torch.Tensor:
        size = self.clip.config.vision_config.image_size
        x = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        emb = self.clip.get_image_features(pixel_values=x)
        emb = emb if isinstance(emb, torch.Tensor) else emb.pooler_output
        emb = F.normalize(emb, dim=-1)
        return -(emb @ self.text_embedding(emotion).T).mean()


def load_clip_loss(path: str | None, device: torch.device | str = "cpu") -> ClipEmotionLoss | None:
    """The CLIP term, or None (with a logged note) when no CLIP path is configured."""
    if not path:
        log.info("nerf: no `clip` weights configured; the CLIP emotion term L_cord is skipped")
        return None
    return ClipEmotionLoss.from_pretrained(path, device)


def identity_points(model: nn.Module, cam: CameraConfig, pose: torch.Tensor, alpha: torch.Tensor,
                    landmarks: torch.Tensor, height: int, width: int, n_samples: int = 32) -> torch.Tensor:
    """β̂_id: canonical 3-D positions ``[P, 3]`` of the identity landmarks of one frame.

    ``landmarks [68, 2]`` in pixels of the ``height x width`` training frame; each is turned into
    the ray through it and located at the ray's expected termination depth.
    """
    lm = landmarks[torch.as_tensor(IDENTITY_POINTS)]
    xi = lm[:, 0].round().clamp(0, width - 1).long()
    yi = lm[:, 1].round().clamp(0, height - 1).long()
    pix = (yi * width + xi).to(pose.device)
    origins, dirs = head_rays(pix, pose, height, width, cam)
    out = render_rays(model, origins, dirs, alpha.reshape(1, -1).expand(pix.numel(), -1), n_samples)
    return origins + out["depth"][:, None] * dirs


class ShapeConsistency(nn.Module):
    """``L_shape = ‖β_id - β̂_id‖₂`` with β_id a running reference of the identity points (eq. 16)."""

    def __init__(self, momentum: float = 0.05) -> None:
        super().__init__()
        self.momentum = float(momentum)
        self.register_buffer("reference", torch.zeros(len(IDENTITY_POINTS), 3))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Distance to the reference so far; then the reference moves towards ``points``."""
        with torch.no_grad():
            p = points.detach()
            if int(self.count) == 0:
                self.reference.copy_(p)
            reference = self.reference.clone()
            self.reference.lerp_(p, self.momentum)
            self.count += 1
        return (points - reference).norm(dim=-1).mean()
