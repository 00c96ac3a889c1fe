"""Blinks: lower the upper eyelids, keep the eyeball from squashing, paint the closed lid.

* :func:`close_lids` moves the upper-lid landmarks (37, 38 / 43, 44) towards a closed line just
  above the lower lid, by the ``blink`` amount (0 open .. 1 closed). The warp then stretches the
  eyelid skin down over the eye.
* :meth:`EyePainter.eyeball_affine` gives, for an eye that is closing, the similarity that maps the
  still-visible opening to the portrait's eye *without* squashing it (fixed by the two eye
  corners, i.e. the eyeball moves with the head, not with the lids), so the lids slide over the
  iris instead of flattening it.
* :meth:`EyePainter.paint` tints the part of the eye the lid now covers with the skin colour
  sampled above the portrait's eye and draws a soft lash line along the closed lid.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from emoavatar.types import LEFT_EYE, RIGHT_EYE

from .mesh import similarity

#: (upper lid, lower lid partner) landmark pairs per eye, and the eye's fixed points.
LIDS = (((37, 41), (38, 40)), ((43, 47), (44, 46)))
EYES = (RIGHT_EYE, LEFT_EYE)
CORNERS = ((36, 39), (42, 45))
CLOSED_AT = 0.15  # closed lid line: this fraction of the way from the lower to the upper lid
SUB = 2


def close_lids(lm: np.ndarray, blink: float) -> np.ndarray:
    """Landmarks with the upper lids lowered by ``blink`` in [0, 1]."""
    b = float(np.clip(blink, 0.0, 1.0))
    if b <= 0.0:
        return lm
    out = lm.copy()
    for eye in LIDS:
        for up, lo in eye:
            closed = lm[lo] + CLOSED_AT * (lm[up] - lm[lo])
            out[up] = lm[up] + b * (closed - lm[up])
    return out


def polygon_pixels(image: np.ndarray, poly: np.ndarray, holes: tuple[np.ndarray, ...] = ()) -> np.ndarray:
    """``image[mask > 0]`` for the mask ``cv2.fillPoly`` draws from ``poly`` rounded to whole pixels
    (minus the ``holes``, filled with 0 after it), rasterised over the polygon's box only: the same
    pixels in the same order as a mask of the whole image, without drawing and scanning all of it."""
    pts = np.round(poly).astype(np.int32)
    h, w = image.shape[:2]
    x0, y0 = np.maximum(pts.min(0), 0)
    x1, y1 = np.minimum(pts.max(0) + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return image[:0, 0]
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [pts - [x0, y0]], 255)
    for hole in holes:
        cv2.fillPoly(mask, [np.round(hole).astype(np.int32) - [x0, y0]], 0)
    return image[y0:y1, x0:x1][mask > 0]


def openness(lm: np.ndarray, eye: int) -> float:
    (a, b), (c, d) = LIDS[eye]
    return math.hypot(*(lm[a] - lm[b])) + math.hypot(*(lm[c] - lm[d]))


class EyePainter:
    """Per-portrait eye data: open-eye sizes, skin colour above each eye, lash colour."""

    def __init__(self, image: np.ndarray, lm: np.ndarray, iod: float, feather: float) -> None:
        self.src = lm
        self.open = [openness(lm, e) for e in range(2)]
        self.feather = feather
        self.skin, self.lash = [], []
        for eye in EYES:
            pts = lm[eye]
            upper = pts[[0, 1, 2, 3]]  # corner, 2 upper lid points, corner
            # lid skin: a band above the lashes and the crease, below the brow; the brighter half
            lo, hi = np.array([0.0, -0.1 * iod]), np.array([0.0, -0.3 * iod])
            band = np.vstack([upper + lo, (upper + hi)[::-1]])
            px = polygon_pixels(image, band).astype(np.float64)
            self.skin.append(np.percentile(px, 60, axis=0) if len(px) else np.array([200.0, 160.0, 140.0]))
            epx = polygon_pixels(image, pts).astype(np.float64)
            dark = np.percentile(epx, 10, axis=0) if len(epx) else np.array([40.0, 30.0, 30.0])
            self.lash.append(0.3 * dark + 0.7 * self.skin[-1] * 0.55)

    def eyeball_affine(self, lm: np.ndarray, eye: int) -> np.ndarray | None:
        """Backward affine (target -> portrait) for the visible eye opening, or None when the eye
        is not closer than in the portrait (then the plain warp is right)."""
        if openness(lm, eye) >= 0.97 * self.open[eye]:
            return None
        idx = list(CORNERS[eye])
        return similarity(lm[idx], self.src[idx])

    def paint(self, frame: np.ndarray, lm_open: np.ndarray, lm_closed: np.ndarray, blink: float,
              iod: float) -> None:
        """Tint the covered part of each eye and draw the lash line, in place."""
        b = float(np.clip(blink, 0.0, 1.0))
        if b <= 0.05:
            return
        h, w = frame.shape[:2]
        sigma = max(0.4, self.feather * iod / 90.0)
        for e, eye in enumerate(EYES):
            top = lm_open[eye][[0, 1, 2, 3]]
            lid = lm_closed[eye][[0, 1, 2, 3]]
            pad = int(np.ceil(3 * sigma)) + 2
            allp = np.vstack([top, lid])
            x0, y0 = np.maximum(np.floor(allp.min(0)).astype(int) - pad, 0)
            x1, y1 = np.minimum(np.ceil(allp.max(0)).astype(int) + pad + 1, [w, h])
            if x1 <= x0 or y1 <= y0:
                continue
            org = np.array([x0, y0], np.float64)
            s = float(1 << SUB)
            cover = np.zeros((y1 - y0, x1 - x0), np.uint8)
            poly = np.vstack([top, lid[::-1]]) - org
            cv2.fillPoly(cover, [np.round(poly * s).astype(np.int32)], 255, cv2.LINE_AA, shift=SUB)
            a_cover = cv2.GaussianBlur(cover.astype(np.float32) / 255.0, (0, 0), sigma) * (0.85 * b)
            lash = np.zeros_like(cover)
            thick = max(1, round(iod * 0.02))
            line = np.vstack([0.5 * (lid[0] + lid[1]), lid[1], lid[2], 0.5 * (lid[2] + lid[3])])  # not the corners
            cv2.polylines(lash, [np.round((line - org) * s).astype(np.int32)], False, 255, thick, cv2.LINE_AA,
                          shift=SUB)
            a_lash = cv2.GaussianBlur(lash.astype(np.float32) / 255.0, (0, 0), 0.5 * sigma) * (0.45 * b * b)
            region = frame[y0:y1, x0:x1].astype(np.float32)
            region = region * (1 - a_cover[..., None]) + self.skin[e] * a_cover[..., None]
            region = region * (1 - a_lash[..., None]) + self.lash[e] * a_lash[..., None]
            frame[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)
