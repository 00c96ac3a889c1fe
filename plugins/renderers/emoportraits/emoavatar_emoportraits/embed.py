"""A sequence of frames -> per-frame (z, head pose) with the stage-1 model's own embedders (paper §3,
"E_motion"). Used by reenactment (``emoportraits-video``) and to build training pairs for the speech mode
and the landmark bridge: each frame is cropped around its tracked face (our FaceAnalyzer), as the
authors crop their driving frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import torch
from emoavatar.tracking import track_faces

from .crop import crop_tensor, portrait_crop, square_crop


@dataclass
class Embedded:
    z: np.ndarray            # [T, Z] expression latents
    head_pose: np.ndarray    # [T, 9] scale, yaw/pitch/roll, translation
    faces_found: int         # frames in which the analyzer found a face (others reuse the last crop)
    faces: list | None = None  # the tracked Face (68 landmarks) or None, per frame (training pairs use them)


@torch.no_grad()
def embed_frames(model, chunks: Iterable[np.ndarray], face=None, crop_scale: float = 1.0,
                 device: str = "cpu") -> Embedded:
    """``chunks``: uint8 RGB arrays [N, H, W, 3]; ``face``: a FaceAnalyzer or None (centre crop)."""
    size = model.cfg.image_size
    zs, srts, found, last, tracked = [], [], 0, None, []
    for chunk in chunks:
        faces = track_faces(face, chunk) if face is not None else [None] * len(chunk)
        tracked += faces
        crops = []
        for img, f in zip(chunk, faces):
            if f is not None:
                last = square_crop(f.box, img.shape[1], img.shape[0], crop_scale)
                found += 1
            crops.append(crop_tensor(img, last or centre_crop(img), size))
        z, srt = model.encode_driver(torch.cat(crops).to(device))
        zs.append(z.cpu().numpy())
        srts.append(srt.cpu().numpy())
    if not zs:
        raise ValueError("no frames to embed")
    return Embedded(np.concatenate(zs).astype(np.float32), np.concatenate(srts).astype(np.float32), found, tracked)


@torch.no_grad()
def embed_portrait(model, portrait, crop_scale: float = 1.0, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The portrait's own (z [Z], pose [9]) from the model's embedders, cropped as the renderer crops its source."""
    z, srt = model.encode_driver(portrait_crop(portrait, model.cfg.image_size, crop_scale).to(device))
    return z[0], srt[0]


def centre_crop(img: np.ndarray) -> tuple[int, int, int]:
    side = min(img.shape[:2])
    return (img.shape[1] - side) // 2, (img.shape[0] - side) // 2, side
