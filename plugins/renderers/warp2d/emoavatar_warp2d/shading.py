"""AU-driven expression shading: the skin folds and furrows that facial actions make.

A landmark warp moves the portrait's own texture; it cannot make the creases a contracting
muscle piles up. This layer darkens thin, soft bands where FACS (Ekman, Friesen & Hager 2002,
*FACS Manual*, "appearance changes" of each AU) says an action deepens or creates a fold, with
strength proportional to how far the action goes beyond the portrait's own expression (the
motion's ``au_change`` track):

========  =================================================================================
AU1       with AU2: horizontal forehead lines over the centre of the brows (frontalis, medial part)
AU2       horizontal forehead lines over the outer brows (frontalis, lateral part)
AU4       vertical glabellar furrows between the brows and a horizontal fold at the nose root
          (corrugator, procerus), and the shadow of the lowered brow over the upper lid
AU6       crow's-feet at the outer eye corners and the infraorbital furrow under the lower lid
          (orbicularis oculi, orbital part)
AU7       the furrow under a tightened, raised lower lid (orbicularis oculi, palpebral part)
AU9       horizontal wrinkles across the nose root and bridge (levator labii alaeque nasi)
AU10      the upper nasolabial fold deepened by the raised upper lip
AU12      the nasolabial fold from the nose wing to beside the mouth corner (zygomaticus major)
AU17      the labiomental crease under the lower lip deepened by the raised chin (mentalis)
========  =================================================================================

Released actions (below the portrait's own, e.g. a smile asked ``sad``): AU12 and AU6 flatten
the portrait's nasolabial folds, crow's feet, infraorbital furrows and cheek bulge, AU1/AU2 its
forehead lines, AU4 its glabellar furrows; drawn as a blend towards a low-pass copy of the skin
around them.

Bands are anchored to landmarks with offsets in inter-ocular distances along the face's axes;
darkening is multiplicative (a shadow keeps the skin's own colour and texture). All bands are
drawn into one 8-bit mask at about :data:`MASK_IOD` px per inter-ocular distance, blurred once
and applied once. The renderer paints them on the *portrait* at its rest landmarks
(:meth:`ExpressionShader.shaded`), so the warp carries each fold with its skin, and caches the
result per quantised AU change: a held expression is painted once.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .mesh import face_frame

#: AUs this layer draws; the rest of ``au_change`` is ignored.
SHADED = ("AU1", "AU2", "AU4", "AU6", "AU7", "AU9", "AU10", "AU12", "AU17")
#: activation at which a band reaches its full darkness (the rig's targets are ~1 x expression_scale).
FULL = 1.5
FOREHEAD = 0.2  # darkness of the lowest forehead line (0.3 moved dlib's lip landmarks: see README)
SHIFT = 4  # sub-pixel bits for cv2 drawing
AREA = -1.0  # width marking a filled area instead of a line
MASK_IOD = 32.0  # masks are drawn and blurred at about this many pixels per inter-ocular distance
LEVELS = 16  # quantisation steps of an AU change up to FULL (cache key of the shaded portrait)
CACHED = 8  # shaded portraits kept


Anchor = "int | dict[int, float]"


@dataclass(frozen=True)
class Band:
    """A polyline (or, with ``width`` :data:`AREA`, a filled polygon) whose points are landmark
    anchors (an index or a weighted mean of landmarks) plus offsets ``(dx, dy)`` in inter-ocular
    distances along the face's right/up axes; its darkness ``dark`` times the combination
    (``max`` or ``min``) of ``coef x strength`` over its AUs."""

    points: tuple[tuple[Anchor, float, float], ...]
    width: float
    dark: float
    aus: tuple[tuple[str, float], ...]
    mode: str = "max"


def _side(sign: float, left, right):
    return left if sign < 0 else right


def _creases() -> list[Band]:
    """The folds an action deepens (module docstring's table). Image-left is the subject's right
    side (landmarks 17-21, 36-41, 48)."""
    out: list[Band] = []
    for k, h in enumerate((0.30, 0.44, 0.58)):  # AU1 / AU2: forehead lines following the brow line
        hh = h + 0.04 * k
        for j in range(9):  # brow segment 17+j -> 18+j; j == 4 crosses the glabella
            central = 2 <= j <= 6  # frontalis' medial part lines the centre only with AU2's lateral lines
            aus = (("AU1", 1.0), ("AU2", 1.0)) if central else (("AU2", 1.0),)
            out.append(Band(((17 + j, 0.0, hh), (18 + j, 0.0, hh)), 0.022, FOREHEAD * (1.0 - 0.2 * k), aus, "min"))
    g = {21: 0.5, 22: 0.5}
    for s in (-1.0, 1.0):  # AU4: glabellar furrows and the brow's shadow on the upper lid
        out.append(Band(((g, 0.05 * s, -0.02), (g, 0.07 * s, 0.18)), 0.05, 0.16, (("AU4", 1.0),)))
        ring = list(_side(s, range(17, 22), range(22, 27))) + list(_side(s, [39, 38, 37, 36], [45, 44, 43, 42]))
        for k, scale in enumerate((1.0, 0.8, 0.6)):  # a soft-edged area: nested, darker inwards
            pts = tuple(({r: (1.0 - scale) / len(ring) + (scale if r == i else 0.0) for r in ring}, 0.0, 0.0) for i in ring)
            out.append(Band(pts, AREA, 0.05 * (k + 1), (("AU4", 1.0),)))
    out.append(Band(((27, -0.10, 0.04), (27, 0.10, 0.04)), 0.025, 0.30, (("AU4", 1.0), ("AU9", 1.0))))
    for t in (0.25, 0.5):  # AU9: across the nose bridge
        c = {27: 1.0 - t, 29: t}
        out.append(Band(((c, -0.09, 0.0), (c, 0.09, 0.0)), 0.02, 0.35, (("AU9", 1.0),)))
    for s in (-1.0, 1.0):
        outer, inner = _side(s, 36, 45), _side(s, 39, 42)
        low0, low1 = _side(s, (41, 40), (47, 46))
        wing, corner = _side(s, 31, 35), _side(s, 48, 54)
        for ang in (-0.45, 0.0, 0.45):  # AU6: crow's feet
            out.append(Band(((outer, 0.08 * s, 0.0), (outer, (0.08 + 0.13 * np.cos(ang)) * s, 0.13 * np.sin(ang))),
                            0.018, 0.35, (("AU6", 1.0),)))
        out.append(Band(((inner, 0.0, -0.10), (low0, 0.0, -0.12), (low1, 0.0, -0.12), (outer, 0.04 * s, -0.08)),
                        0.03, 0.30, (("AU6", 1.0), ("AU7", 0.7))))  # infraorbital furrow (AU6), lid tightener (AU7)
        out.append(Band(((wing, 0.06 * s, 0.06), ({wing: 0.5, corner: 0.5}, 0.12 * s, 0.0), (corner, 0.10 * s, -0.06),
                         (corner, 0.09 * s, -0.16)), 0.035, 0.40, (("AU12", 1.0), ("AU10", 1.0))))  # nasolabial fold
    out.append(Band(((57, -0.18, -0.14), (57, 0.0, -0.17), (57, 0.18, -0.14)), 0.035, 0.35, (("AU17", 1.0),)))
    return out


def _released() -> list[Band]:
    """Folds that *flatten* when the portrait's own action is released (negative change): the
    nasolabial fold when a smile (AU12) is taken away, the crow's-feet, infraorbital furrow and
    cheek bulge when the cheek raise (AU6) is, the forehead lines of raised brows (AU1/AU2), the
    glabellar furrows of a frown (AU4); drawn as the weight of a blend towards a low-pass copy."""
    out: list[Band] = []
    brow = tuple((17 + j, 0.0, 0.42) for j in range(10))  # the forehead's lines (AU1/AU2 released)
    out.append(Band(brow, 0.36, 0.9, (("AU1", 1.0), ("AU2", 1.0))))
    g = {21: 0.5, 22: 0.5}  # the glabella's furrows (AU4 released)
    out.append(Band(((g, 0.0, -0.02), (g, 0.0, 0.22)), 0.22, 0.9, (("AU4", 1.0),)))
    for s in (-1.0, 1.0):
        outer, inner = _side(s, 36, 45), _side(s, 39, 42)
        low0, low1 = _side(s, (41, 40), (47, 46))
        wing, corner = _side(s, 31, 35), _side(s, 48, 54)
        out.append(Band(((wing, 0.08 * s, 0.06), ({wing: 0.5, corner: 0.5}, 0.14 * s, 0.0), (corner, 0.10 * s, -0.10)),
                        0.22, 1.0, (("AU12", 1.0),)))
        out.append(Band(((outer, 0.10 * s, 0.05), (outer, 0.14 * s, -0.08)), 0.18, 1.0, (("AU6", 1.0),)))
        out.append(Band(((inner, 0.0, -0.12), (low0, 0.0, -0.14), (low1, 0.0, -0.14), (outer, 0.04 * s, -0.10)),
                        0.14, 1.0, (("AU6", 1.0),)))
        out.append(Band((({low0: 0.5, wing: 0.5}, 0.05 * s, 0.0), ({low1: 0.5, corner: 0.5}, 0.18 * s, 0.05)),
                        0.20, 0.8, (("AU6", 1.0),)))  # the raised cheek's bulge
    return out


class BandSet:
    """Bands compiled to matrices, so one frame's points are one product with its landmarks."""

    def __init__(self, bands: list[Band]) -> None:
        rows, offs, self.spans = [], [], []
        for b in bands:
            start = len(rows)
            for anchor, dx, dy in b.points:
                w = np.zeros(68)
                for i, v in ({anchor: 1.0} if isinstance(anchor, int) else anchor).items():
                    w[i] += v
                rows.append(w)
                offs.append((dx, dy))
            self.spans.append((start, len(rows)))
        self.weights, self.offsets = np.array(rows), np.array(offs)
        self.bands = bands
        # per band: [B, A] coefficients on the AU strengths; max- or min-combined
        self.aus = sorted({n for b in bands for n, _ in b.aus})
        self.coef = np.zeros((len(bands), len(self.aus)))
        for k, b in enumerate(bands):
            for n, c in b.aus:
                self.coef[k, self.aus.index(n)] = c
        self.is_min = np.array([b.mode == "min" and len(b.aus) > 1 for b in bands])
        self.dark = np.array([b.dark for b in bands])
        self.width = np.array([b.width for b in bands])

    def amounts(self, strength: dict[str, float]) -> np.ndarray:
        """``[B]`` darkness (or blend weight) of each band for AU strengths in 0..1."""
        a = np.array([min(1.0, max(0.0, strength.get(n, 0.0))) for n in self.aus])
        x = self.coef * a[None]
        big = np.where(self.coef > 0, x, np.inf).min(1)
        return self.dark * np.where(self.is_min, big, x.max(1))

    def points(self, lm: np.ndarray) -> tuple[np.ndarray, float]:
        right, up, iod = face_frame(lm)
        return self.weights @ lm + (self.offsets[:, :1] * right + self.offsets[:, 1:] * up) * iod, iod


CREASES = _creases()
RELEASED = _released()


class ExpressionShader:
    """Draws the bands for one frame's landmarks and AU changes, multiplicatively, in place."""

    def __init__(self, names: tuple[str, ...] | list[str], strength: float = 1.0) -> None:
        self.strength = float(strength)
        self.names = tuple(names)
        self.columns = {n: i for i, n in enumerate(names) if n in SHADED}
        self.creases, self.released = BandSet(CREASES), BandSet(RELEASED)
        self._cache: dict[tuple, np.ndarray] = {}

    def strengths(self, change: np.ndarray) -> dict[str, float]:
        """Per shaded AU: 0..1 from its change over the portrait's own expression (``FULL`` = 1)."""
        return {n: float(change[i]) / FULL for n, i in self.columns.items() if change[i] > 0}

    def shaded(self, image: np.ndarray, lm: np.ndarray, change: np.ndarray) -> np.ndarray:
        """The portrait ``image`` (rest landmarks ``lm``) with the folds of ``change`` painted on
        its skin, for the warp to carry along with the skin. Changes are quantised to
        1/:data:`LEVELS` of ``FULL`` and the last few results kept, so a held expression costs one
        painting and frames only pay a dictionary look-up."""
        cols = list(self.columns.values())
        key = tuple(np.round(np.asarray(change, np.float64)[cols] / FULL * LEVELS).astype(int))
        got = self._cache.get(key)
        if got is None:
            if not any(key):
                got = image
            else:
                got = image.copy()
                q = np.zeros(len(change))
                q[cols] = np.asarray(key) * (FULL / LEVELS)
                self.paint(got, lm, q)
            if len(self._cache) >= CACHED:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = got
        return got

    def paint(self, frame: np.ndarray, lm: np.ndarray, change: np.ndarray) -> None:
        if self.strength <= 0 or not self.columns:
            return
        for bandset, sign, grow, sigma, apply in ((self.creases, 1.0, 0.1, 0.025, self._darken),
                                                  (self.released, -1.0, 0.12, 0.04, self._flatten)):
            amount = bandset.amounts(self.strengths(sign * change)) * self.strength
            if (amount > 0.01).any():
                got = self._mask(frame, bandset, amount, lm, grow, sigma)
                if got is not None:
                    apply(frame, *got)

    @staticmethod
    def _mask(frame: np.ndarray, bandset: BandSet, amount: np.ndarray, lm: np.ndarray, pad: float, sigma: float):
        """The bands drawn into an 8-bit mask over their bounding box (grown by ``pad`` iod) at
        about :data:`MASK_IOD` pixels per iod, blurred by ``sigma`` iod: ``(bbox, mask, scale, iod)``."""
        pts, iod = bandset.points(np.asarray(lm, np.float64))
        on = np.flatnonzero(amount > 0.01)
        used = np.concatenate([pts[slice(*bandset.spans[k])] for k in on])
        h, w = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(used.min(0) - pad * iod).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(used.max(0) + pad * iod).astype(int), [w, h])
        if x1 <= x0 + 1 or y1 <= y0 + 1:
            return None
        k = min(1.0, MASK_IOD / iod)  # mask pixels per image pixel
        mask = np.zeros((max(2, round((y1 - y0) * k)), max(2, round((x1 - x0) * k))), np.uint8)
        fixed = np.round((pts - [x0, y0]) * k * (1 << SHIFT)).astype(np.int32)
        areas_first = sorted(on, key=lambda b: (bandset.width[b] != AREA, amount[b]))  # then darkest last
        for b in areas_first:
            poly, value = fixed[slice(*bandset.spans[b])], int(round(255 * min(1.0, amount[b])))
            if bandset.width[b] == AREA:
                cv2.fillPoly(mask, [poly], value, cv2.LINE_AA, SHIFT)
            else:
                cv2.polylines(mask, [poly], False, value, max(1, int(round(bandset.width[b] * iod * k))), cv2.LINE_AA,
                              SHIFT)
        mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, sigma * iod * k))
        return (x0, y0, x1, y1), mask, k, iod

    @staticmethod
    def _darken(frame: np.ndarray, bbox, mask: np.ndarray, k: float, iod: float) -> None:
        """Multiplicative shadow: ``frame ·= 1 − mask``, in 8-bit (OpenCV's saturating multiply)."""
        x0, y0, x1, y1 = bbox
        region = frame[y0:y1, x0:x1]
        if k < 1.0:
            mask = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        keep = cv2.cvtColor(255 - mask, cv2.COLOR_GRAY2RGB)
        region[...] = cv2.multiply(region, keep, scale=1.0 / 255.0)

    @staticmethod
    def _flatten(frame: np.ndarray, bbox, mask: np.ndarray, k: float, iod: float) -> None:
        """Released folds: blend towards a low-pass copy of the skin around them (the fine crease
        goes, the broad shading stays)."""
        x0, y0, x1, y1 = bbox
        region = frame[y0:y1, x0:x1]
        size = (x1 - x0, y1 - y0)
        small = cv2.resize(region, mask.shape[::-1], interpolation=cv2.INTER_AREA)
        low = cv2.resize(cv2.GaussianBlur(small, (0, 0), max(0.8, 0.04 * iod * k)), size, interpolation=cv2.INTER_LINEAR)
        weight = cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR).astype(np.float32) * (1.0 / 255.0)
        region[...] = cv2.blendLinear(low, region, weight, 1.0 - weight)
