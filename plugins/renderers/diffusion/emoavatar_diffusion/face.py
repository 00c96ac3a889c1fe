"""Portrait geometry for the renderer: the square head crop, region masks and the region-gate map.

Masks follow Hallo's audio attention: ``full`` (everything), ``face`` (the face box) and ``lip`` (the
mouth box). The region prior paints each of the controller's region gates onto its landmarks' box
(MoEE §3.3, local gating); elsewhere the global gates apply.
"""

from __future__ import annotations

import numpy as np
from emoavatar.types import JAW, LEFT_BROW, LEFT_EYE, MOUTH, NOSE, RIGHT_BROW, RIGHT_EYE

REGION_LANDMARKS = {
    "brows": [RIGHT_BROW, LEFT_BROW], "eyes": [RIGHT_EYE, LEFT_EYE], "nose": [NOSE], "mouth": [MOUTH],
    "jaw": [JAW], "lips": [MOUTH], "cheeks": [slice(1, 5), slice(12, 16), NOSE], "forehead": [RIGHT_BROW, LEFT_BROW],
}


def head_crop(landmarks: np.ndarray, height: int, width: int, scale: float = 2.2) -> tuple[int, int, int]:
    """Square crop (x0, y0, side) around the face, ``scale`` x the landmark box, kept inside the image."""
    lo, hi = landmarks.min(0), landmarks.max(0)
    c = (lo + hi) / 2
    side = int(min(max(hi - lo) * scale, height, width))
    x0 = int(np.clip(c[0] - side / 2, 0, width - side))
    y0 = int(np.clip(c[1] - side / 2 - 0.1 * side, 0, height - side))
    return x0, y0, side


def box_mask(points: np.ndarray, size: int, grow: float = 0.15) -> np.ndarray:
    """``[size, size]`` float mask of the (grown) bounding box of ``points`` (crop-normalised in [0, 1])."""
    lo, hi = points.min(0), points.max(0)
    pad = (hi - lo) * grow
    lo, hi = np.clip((lo - pad) * size, 0, size), np.clip((hi + pad) * size, 0, size)
    m = np.zeros((size, size), np.float32)
    m[int(lo[1]): int(np.ceil(hi[1])), int(lo[0]): int(np.ceil(hi[0]))] = 1.0
    return m


def region_points(name: str, lm: np.ndarray) -> np.ndarray | None:
    key = next((k for k in REGION_LANDMARKS if k in name.lower()), None)
    if key is None:
        return None
    pts = np.concatenate([lm[s] for s in REGION_LANDMARKS[key]])
    if key == "forehead":
        pts = np.concatenate([pts, pts - [0, 0.12]])
    return pts


def region_prior(lm: np.ndarray, size: int, names: tuple[str, ...], gates: np.ndarray, regions: np.ndarray | None) -> np.ndarray:
    """``[T, size, size, 6]``: global gates everywhere, a region's gates inside its box. ``lm`` crop-normalised."""
    t = len(gates)
    prior = np.broadcast_to(gates[:, None, None, :], (t, size, size, gates.shape[1])).copy()
    if regions is not None:
        for r, name in enumerate(names):
            pts = region_points(name, lm)
            if pts is None:
                continue
            m = box_mask(pts, size, 0.3)[None, :, :, None]
            prior = prior * (1 - m) + regions[:, r][:, None, None, :] * m
    return prior.astype(np.float32)


def frame_masks(lms: np.ndarray, size: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-frame region masks from per-frame landmarks ``lms [n, 68, 2]`` (crop-normalised): Hallo's audio-attention
    masks ``{full, face, lip}: [n, size, size]`` at latent size and the face locator's input ``[n, 3, 8 size, 8 size]``
    (the grown face box, Hallo's face-region mask image). Drawn from each frame's landmarks they tell the U-Net where
    the head is in every frame it generates; with one landmark set repeated they are Hallo's static masks."""
    n = len(lms)
    face = np.stack([box_mask(lm, size) for lm in lms])
    lip = np.stack([box_mask(lm[48:68], size, 0.3) for lm in lms])
    locator = np.stack([box_mask(lm, size * 8, 0.1) for lm in lms])
    return ({"full": np.ones((n, size, size), np.float32), "face": face, "lip": lip},
            np.ascontiguousarray(np.repeat(locator[:, None], 3, 1)))
