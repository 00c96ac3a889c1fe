"""The portrait's own expression, estimated from its 68 landmarks (and its pixels for teeth).

Expression-aware retargeting needs to know what the portrait already shows: a broad smile asked
for ``sad`` must *lose* the smile, an open mouth must close. Every rig AU field is linear in its
activation, so a face shape is ``S = N + Σ_k a_k F_k`` around the person's neutral face ``N``;
we estimate ``a`` (the *own* activations) from a few face-normalised measures whose neutral
values vary little between people, and the neutral face is then ``N = S − Σ_k a_k F_k``.

Measures (face units: inter-ocular distance 1, y down the face, see :mod:`.face_frame`):

* ``gap``: mean inner-lip gap (61–67, 62–66, 63–65); neutral ≈ 0 (lips together). A gap beyond
  the dead band counts in full (so retargeting closes the lips completely): lips apart (AU25)
  first, the rest is the jaw (AU26).
* ``lift``: lip centre height above the mouth corners (mid of 51/57 minus mean of 48/54);
  above neutral -> AU12 (smile), below -> AU15 (corners down).
* ``width``: mouth-corner distance; wider than neutral backs the AU12 estimate.
* brows, the whole brow's height first, then its *shape*: ``brow``, the mean brow height above the
  eye centres; below neutral -> AU4 (brows lowered: AU4 moves every brow point down, the inner end
  most). Then, on the face with that AU4 removed, per side and averaged (the rig's brow AUs are
  bilateral): ``inner``, the inner brow end's height above the inner eye corner (21 over 39, 22
  over 42); above neutral -> AU1 (inner raise: the oblique "sad" brow); ``outer``, the outer end's
  height above the outer eye corner (17 over 36, 26 over 45); above neutral -> AU2 (outer raise).
  The rig's AU1 field moves only ``inner``, AU2 only ``outer``, so each is estimated on its own;
  like the lip gap, a raise beyond the dead band counts in full (from the neutral value), reached
  over :data:`BROW_RAMP` beyond the band so that the estimate stays continuous. Retargeting then
  lowers raised brows for every request whose prototype does not raise them (issue 11).
* ``teeth``: fraction of bright, low-saturation pixels inside the inner-lip polygon.

Each estimate is ``(measure − neutral) / sensitivity`` where the sensitivity is the measure's
change per unit activation of that AU's own field, with a dead band for person-to-person
variation. Neutral values and dead bands are hand-set from dlib's 68 landmarks on neutral and
expressive portraits (the test portraits; for the brows also the two held-out faces of
``benchmarks/readability_search.py``); they are a heuristic, not a fit to data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INNER_GAP_PAIRS = ((61, 67), (62, 66), (63, 65))
#: neutral value and dead band (face units) of each measure.
#: Brows (dlib, 256² crops): inner / outer heights on faces with relaxed brows 0.26-0.28 / 0.07-0.15
#: (the kit's smile, both Obama portraits), Grace Hopper 0.31 / 0.19; raised: the neutral test face
#: (Biden) 0.33 / 0.19, Einstein 0.52 / 0.22 (one side 0.28). Mean brow: 0.23 (both Obama
#: portraits: lowered), 0.26 (smile), 0.31-0.32 (Biden, Hopper), 0.44 (Einstein).
NEUTRAL = {"gap": (0.0, 0.035), "lift": (0.0, 0.03), "width": (0.85, 0.07),
           "brow": (0.30, 0.05), "inner": (0.27, 0.04), "outer": (0.15, 0.05)}
#: Largest own brow activation (the rig's activation clip): Einstein's inner raise measures 3.5.
BROW_CLIP = 2.0
#: Face units beyond a brow raise's dead band over which its estimate grows to the whole raise.
BROW_RAMP = 0.01
INNER_BROW, OUTER_BROW = ((21, 39), (22, 42)), ((17, 36), (26, 45))  # (brow end, eye corner) per side


@dataclass(frozen=True)
class OwnExpression:
    """Estimated activations of rig channels on the portrait (``{AUn: a}``) plus mouth facts."""

    au: dict[str, float] = field(default_factory=dict)
    gap: float = 0.0  # inner-lip gap, face units
    teeth: float = 0.0  # 0..1 share of the inner-lip area that looks like teeth

    @property
    def mouth_open(self) -> bool:
        return self.gap > NEUTRAL["gap"][0] + NEUTRAL["gap"][1]


def measures(face: np.ndarray) -> dict[str, float]:
    """Face-normalised measures of a ``[68, 2]`` shape in face units."""
    gap = float(np.mean([face[lo, 1] - face[up, 1] for up, lo in INNER_GAP_PAIRS]))
    centre = 0.5 * (face[51, 1] + face[57, 1])
    lift = float(centre - 0.5 * (face[48, 1] + face[54, 1]))
    width = float(np.linalg.norm(face[54] - face[48]))
    eyes = face[36:48, 1].mean()
    brow = float(eyes - face[17:27, 1].mean())
    inner = float(np.mean([face[eye, 1] - face[b, 1] for b, eye in INNER_BROW]))
    outer = float(np.mean([face[eye, 1] - face[b, 1] for b, eye in OUTER_BROW]))
    return {"gap": gap, "lift": lift, "width": width, "brow": brow, "inner": inner, "outer": outer}


def _excess(value: float, key: str) -> float:
    """Signed deviation from the neutral value beyond the dead band."""
    mid, band = NEUTRAL[key]
    d = value - mid
    return float(np.sign(d) * max(abs(d) - band, 0.0))


def _response(fields: dict[str, np.ndarray], rest: np.ndarray, au: str, key: str) -> float:
    """Change of measure ``key`` per unit activation of ``au``'s field on this face."""
    return measures(rest + fields[au])[key] - measures(rest)[key]


def inside_polygon(poly: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Even-odd rule: which points ``(xs, ys)`` lie inside the closed polygon ``poly [K, 2]``."""
    inside = np.zeros(xs.shape, bool)
    x0, y0 = poly[-1]
    for x1, y1 in poly:
        crosses = (y1 > ys) != (y0 > ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x1 + (ys - y1) * (x0 - x1) / (y0 - y1)
        inside ^= crosses & (xs < xc)
        x0, y0 = x1, y1
    return inside


def teeth_share(image: np.ndarray | None, lm_px: np.ndarray) -> float:
    """Share of the inner-lip polygon's pixels that are bright and unsaturated (teeth)."""
    if image is None:
        return 0.0
    poly = np.asarray(lm_px, np.float64)[60:68]
    h, w = image.shape[:2]
    x0, y0 = np.clip(np.floor(poly.min(0)).astype(int), 0, [w - 1, h - 1])
    x1, y1 = np.clip(np.ceil(poly.max(0)).astype(int) + 1, 1, [w, h])
    ys, xs = np.mgrid[y0:y1, x0:x1]
    mask = inside_polygon(poly, xs + 0.5, ys + 0.5)
    if mask.sum() < 6:
        return 0.0
    px = np.asarray(image[y0:y1, x0:x1], np.float64)[mask]
    value, low = px.max(1), px.min(1)
    sat = (value - low) / np.maximum(value, 1.0)
    lo, hi = np.floor(np.asarray(lm_px).min(0)).astype(int), np.ceil(np.asarray(lm_px).max(0)).astype(int)
    skin = np.asarray(image[max(lo[1], 0):hi[1], max(lo[0], 0):hi[0]], np.float64)
    face_value = float(np.median(skin.max(2))) if skin.size else 128.0
    bright = (value > max(0.8 * face_value, 90.0)) & (sat < 0.45)
    return float(bright.mean())


def brow_activations(fields: dict[str, np.ndarray], rest: np.ndarray) -> dict[str, float]:
    """Own AU4 (whole brow lowered), then AU1 (inner raise) and AU2 (outer raise) from the brow shape."""
    au: dict[str, float] = {}
    lowered = _excess(measures(rest)["brow"], "brow")
    if lowered < 0:
        au["AU4"] = min(lowered / _response(fields, rest, "AU4", "brow"), BROW_CLIP)
    face = rest - au.get("AU4", 0.0) * fields["AU4"]
    m = measures(face)
    for key, name in (("inner", "AU1"), ("outer", "AU2")):
        if _excess(m[key], key) > 0:  # beyond the dead band: the whole raise from the neutral value
            full = np.clip(_excess(m[key], key) / BROW_RAMP, 0.0, 1.0)  # reached over BROW_RAMP (continuous)
            au[name] = full * (m[key] - NEUTRAL[key][0]) / _response(fields, face, name, key)
    return {k: float(np.clip(v, 0.0, BROW_CLIP)) for k, v in au.items()}


def estimate(rest: np.ndarray, fields: dict[str, np.ndarray], image: np.ndarray | None = None,
             lm_px: np.ndarray | None = None) -> OwnExpression:
    """Own AU activations of the rest shape ``rest [68, 2]`` (face units), with the rig's fields."""
    m = measures(rest)
    au: dict[str, float] = {}
    # mouth opening: lips apart (AU25) first, the rest is the jaw (AU26)
    gap = m["gap"] - NEUTRAL["gap"][0] if _excess(m["gap"], "gap") > 0 else 0.0
    if gap > 0:
        r25 = _response(fields, rest, "AU25", "gap")
        a25 = min(gap / r25, 1.0)
        au["AU25"] = a25
        rest_gap = gap - a25 * r25
        if rest_gap > 0:
            au["AU26"] = min(rest_gap / _response(fields, rest, "AU26", "gap"), 2.0)
    # smile / corners down (measured after the jaw: the jaw field moves the corners too)
    opened = rest - sum(au.get(k, 0.0) * fields[k] for k in ("AU25", "AU26"))
    m2 = measures(opened)
    lift, width = _excess(m2["lift"], "lift"), _excess(m2["width"], "width")
    if lift > 0:  # corners up; a wide mouth backs it (a wide mouth alone may be the person's)
        by_lift = lift / _response(fields, rest, "AU12", "lift")
        by_width = max(width, 0.0) / _response(fields, rest, "AU12", "width")
        au["AU12"] = float(np.clip(max(by_lift, 0.5 * (by_lift + by_width)), 0.0, 1.2))
        au["AU6"] = min(0.6 * au["AU12"], 1.0)  # a broad smile raises the cheeks (Duchenne): not measurable here
    elif lift < 0:
        au["AU15"] = float(np.clip(lift / _response(fields, rest, "AU15", "lift"), 0.0, 1.2))
    au.update(brow_activations(fields, rest))
    teeth = teeth_share(image, lm_px) if lm_px is not None else 0.0
    return OwnExpression({k: float(v) for k, v in au.items() if v > 1e-3}, float(m["gap"]), teeth)
