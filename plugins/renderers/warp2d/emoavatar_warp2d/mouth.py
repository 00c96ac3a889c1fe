"""Mouth interior for lips opened wider than in the portrait: a dark cavity and a hint of teeth.

The warp alone would stretch whatever the portrait shows between its lips (a thin line, or a
smile's teeth) over the whole opening. Where the target inner-lip polygon (60-67) is opened
beyond the portrait's, it is painted over with

* a near-black cavity (a dark red-brown at the lips, tinted by the portrait's lip colour, darker
  with distance from them), bounded by a smooth curve through the inner-lip landmarks (a spline,
  not the 8-point polygon): dlib's lip landmarks, which the lip/speech measure of issue 11 fits,
  follow that opening further than a lighter red-brown hexagon (``benchmarks/mouth_probe.py``,
  with facs-rig's own brow shape: ``aa`` followed to an inner-lip gap of 0.53 / 0.56 instead of
  0.46 / 0.56 inter-ocular distances on the smile / grey-scale face, 0.37 either way on the
  neutral face; the surprise jaw at ~0.45 read within 0.01 instead of 0.05-0.10);
* a light band just below the upper inner lip (upper teeth), as tall as a fraction of the
  opening and fading towards the mouth corners;

all with anti-aliased, feathered edges, faded in with how far the mouth opens beyond the portrait.
"""

from __future__ import annotations

import cv2
import numpy as np
from emoavatar.types import INNER_LIPS, OUTER_LIPS

from .eyes import polygon_pixels

UPPER_INNER = [60, 61, 62, 63, 64]
GAP_PAIRS = ((61, 67), (62, 66), (63, 65))
_GAP_UP, _GAP_LO = np.array(GAP_PAIRS).T
EDGE = np.array([35.0, 14.0, 14.0])  # cavity colour near the lips (RGB)
DEEP = np.array([12.0, 4.0, 4.0])    # deep inside
EDGE_CLASSIC = np.array([100.0, 40.0, 38.0])  # the earlier red-brown cavity (option cavity: classic)
DEEP_CLASSIC = np.array([30.0, 9.0, 10.0])
TEETH = np.array([214.0, 206.0, 190.0])
FULL_AT = 0.08  # extra opening (in inter-ocular distances) at which the fill is fully opaque
SUB = 2         # fixed-point bits for sub-pixel polygons


def _spline_weights(n: int = 4) -> np.ndarray:
    """``[8 n, 8]`` weights: the inner-lip polygon (60-67) with each lip's curve, corner to corner,
    resampled by a uniform Catmull-Rom spline through its 5 points (``n`` samples per edge; the
    ends extended linearly), a fixed linear map of the 8 landmarks."""
    t = np.linspace(0, 1, n, endpoint=False)[:, None]
    basis = 0.5 * np.hstack([-t + 2 * t ** 2 - t ** 3, 2 - 5 * t ** 2 + 3 * t ** 3,
                             t + 4 * t ** 2 - 3 * t ** 3, -t ** 2 + t ** 3])  # [n, 4] for p0..p3
    rows = []
    for lip in ((0, 1, 2, 3, 4), (4, 5, 6, 7, 0)):
        sel = np.eye(8)[list(lip)]                               # [5, 8]
        ext = np.vstack([2 * sel[0] - sel[1], sel, 2 * sel[-1] - sel[-2]])  # [7, 8]
        rows += [basis @ ext[i - 1:i + 3] for i in range(1, 5)]
    return np.vstack(rows)


SPLINE = _spline_weights()


def smooth_contour(inner: np.ndarray) -> np.ndarray:
    """The inner-lip polygon ``[8, 2]`` as a smooth closed curve ``[32, 2]`` through its points
    (sharp only at the mouth corners): the painted cavity has no straight-edged hexagon."""
    return SPLINE @ inner


def lip_gap(lm: np.ndarray) -> float:
    """Mean distance between the upper and lower inner lip (px)."""
    d = lm[_GAP_UP] - lm[_GAP_LO]
    return float(np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]).mean())  # one vectorised op, not 3 norms


def lip_colour(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Median RGB of the lips (between outer and inner lip contours) in the portrait."""
    px = polygon_pixels(image, lm[OUTER_LIPS], holes=(lm[INNER_LIPS],))
    return np.median(px, axis=0).astype(np.float64) if len(px) else np.array([150.0, 80.0, 80.0])


class MouthPainter:
    """Paints the cavity for one portrait (source gap and lip colour measured once)."""

    def __init__(self, image: np.ndarray, lm: np.ndarray, iod: float, teeth: float, feather: float,
                 cavity: str = "dark") -> None:
        self.src_gap = lip_gap(lm) / iod
        tint = lip_colour(image, lm) / 255.0
        self.classic = cavity == "classic"  # the earlier red-brown polygon (data other tests were measured on)
        edge, self.deep = (EDGE_CLASSIC, DEEP_CLASSIC) if self.classic else (EDGE, DEEP)
        self.edge = edge * (0.6 + 0.4 * tint / max(tint.max(), 1e-3))
        self.teeth = teeth
        self.feather = feather

    def strength(self, lm: np.ndarray, iod: float, own_mouth: float = 1.0, gap: float | None = None) -> float:
        """0 (opened no wider than the kept share ``own_mouth`` of the portrait's gap) .. 1 (opened
        FULL_AT iod wider or more); ``gap``: ``lip_gap(lm)`` when the caller has it."""
        x = ((lip_gap(lm) if gap is None else gap) / iod - own_mouth * self.src_gap) / FULL_AT
        return min(1.0, max(0.0, float(x)))

    def paint(self, frame: np.ndarray, lm: np.ndarray, iod: float, teeth: float | None = None,
              own_mouth: float = 1.0) -> None:
        """Paint in place onto uint8 RGB ``frame`` for target landmarks ``lm``; ``teeth`` (0..1,
        None: the configured band) bares more upper teeth, e.g. in a smile."""
        gap = lip_gap(lm)
        k = self.strength(lm, iod, own_mouth, gap)
        if k <= 0.0:
            return
        h, w = frame.shape[:2]
        inner = lm[INNER_LIPS]
        sigma = self.feather * max(iod, 1.0) / 45.0
        pad = int(np.ceil(3 * sigma)) + 2
        x0, y0 = np.maximum(np.floor(inner.min(0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(inner.max(0)).astype(int) + pad + 1, [w, h])
        if x1 <= x0 or y1 <= y0:
            return
        org = np.array([x0, y0], np.float64)
        scale = float(1 << SUB)
        poly = np.round(((inner if self.classic else smooth_contour(inner)) - org) * scale).astype(np.int32)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_AA, shift=SUB)
        hard = cv2.threshold(mask, 127, 1, cv2.THRESH_BINARY)[1]  # = (mask > 127) as uint8
        alpha = mask.astype(np.float32) / 255.0
        if sigma > 0.3:
            alpha = cv2.GaussianBlur(alpha, (0, 0), sigma * 0.5) * (alpha > 0)  # soften, stay inside the lips
        gap_px = max(gap, 1.0)
        depth = cv2.distanceTransform(hard, cv2.DIST_L2, 3) / (0.45 * gap_px)
        depth = np.clip(depth, 0, 1)[..., None] ** 0.7
        colour = self.edge * (1 - depth) + self.deep * depth
        if self.teeth > 0:
            colour, _alpha_t = self._teeth(colour, lm, org, gap_px, scale, mask.shape, teeth)
        a = (alpha * k)[..., None]
        region = frame[y0:y1, x0:x1].astype(np.float32)
        region = region * (1 - a) + colour * a
        frame[y0:y1, x0:x1] = np.clip(region + 0.5, 0, 255).astype(np.uint8)

    def _teeth(self, colour: np.ndarray, lm: np.ndarray, org: np.ndarray, gap_px: float, scale: float,
               shape: tuple[int, int], bared: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        upper = lm[UPPER_INNER] - org
        mid = (lm[61] + lm[62] + lm[63]) / 3 - (lm[67] + lm[66] + lm[65]) / 3  # = the two rows' mean(0)
        down = -mid / (float(np.sqrt(mid @ mid)) or 1.0)  # from upper towards lower lip
        band = self.teeth * (0.35 if bared is None else 0.25 + 0.4 * bared) * gap_px
        if band < 0.5:
            return colour, np.zeros(shape, np.float32)
        # band shrinks towards the corners (teeth are narrower than the mouth opening)
        taper = np.array([0.2, 0.8, 1.0, 0.8, 0.2])[:, None]
        lower = upper + taper * band * down
        poly = np.round(np.vstack([upper, lower[::-1]]) * scale).astype(np.int32)
        t = np.zeros(shape, np.uint8)
        cv2.fillPoly(t, [poly], 255, lineType=cv2.LINE_AA, shift=SUB)
        alpha_t = cv2.GaussianBlur(t.astype(np.float32) / 255.0, (0, 0), max(0.4, 0.12 * band))
        # shade: darker towards the mouth corners (teeth curve away) and the soft lower edge
        xs = np.arange(shape[1], dtype=np.float32)[None, :]
        cx, half = 0.5 * (upper[0, 0] + upper[-1, 0]), max(0.5 * abs(upper[-1, 0] - upper[0, 0]), 1.0)
        shade = (0.75 + 0.25 * alpha_t) * (1.0 - 0.45 * np.clip(np.abs(xs - cx) / half, 0, 1) ** 2)
        tooth = TEETH * shade[..., None]
        a = (alpha_t * min(1.0, 0.5 + self.teeth))[..., None]
        return colour * (1 - a) + tooth * a, alpha_t
