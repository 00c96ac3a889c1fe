"""FACS action units as displacement fields over the 68 landmarks, in face units.

Each linear AU is a ``[68, 2]`` field: the displacement (face units, +y down the face) that AU
at activation 1 applies. ``outward`` moves a point away from the face's midline (mirrored per
side), so one table serves both halves. Amplitudes are hand-set from FACS descriptions
(Ekman & Friesen's appearance changes) at roughly a clear, not extreme, expression; they
are a heuristic, not a fit to data. Jaw and lip-closure fields depend on the portrait's rest
shape (e.g. pressing the lips closes *this* mouth's gap). Eye closure (AU43/AU45) is not
linear and is applied by :func:`close_eyelids`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: -1 subject's right (image left), +1 subject's left, 0 on the midline.
SIDE = np.zeros(68)
SIDE[0:8], SIDE[9:17] = -1, 1
SIDE[17:22], SIDE[22:27] = -1, 1
SIDE[31:33], SIDE[34:36] = -1, 1
SIDE[36:42], SIDE[42:48] = -1, 1
SIDE[[48, 49, 50, 58, 59, 60, 61, 67]] = -1
SIDE[[52, 53, 54, 55, 56, 63, 64, 65]] = 1

#: (upper lid, lower lid) landmark pairs.
EYELID_PAIRS = ((37, 41), (38, 40), (43, 47), (44, 46))
#: (upper inner lip, lower inner lip) pairs.
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))

CLOSURE_AUS = ("AU43", "AU45")


def _field(rows: Iterable[tuple[Iterable[int], float, float]]) -> np.ndarray:
    """``[(indices, outward, dy), ...]`` -> ``[68, 2]`` displacement field."""
    f = np.zeros((68, 2))
    for idx, outward, dy in rows:
        idx = list(idx)
        f[idx, 0] += outward * SIDE[idx]
        f[idx, 1] += dy
    return f


def jaw_open(rest: np.ndarray, drop: float) -> np.ndarray:
    """Mandible rotation seen from the front: the chin and lower lip drop by ``drop`` face
    units, the jaw contour by less towards the ears, the lip corners by about half."""
    f = np.zeros((68, 2))
    contour = {8: 1.0, 7: 0.95, 9: 0.95, 6: 0.8, 10: 0.8, 5: 0.6, 11: 0.6, 4: 0.38, 12: 0.38,
               3: 0.18, 13: 0.18, 2: 0.06, 14: 0.06}
    for i, w in contour.items():
        f[i, 1] = w * drop
        f[i, 0] = -0.08 * w * drop * SIDE[i]  # the lower face narrows slightly as it lengthens
    f[[55, 56, 57, 58, 59, 65, 66, 67], 1] = drop
    f[[48, 54, 60, 64], 1] = 0.45 * drop
    f[[48, 54, 60, 64], 0] = -0.12 * drop * SIDE[[48, 54, 60, 64]]
    f[[61, 62, 63], 1] = -0.03 * drop  # upper lip lifts off the teeth a little
    return f


def close_lips(rest: np.ndarray, squeeze: float = 0.02, lower_only: bool = False) -> np.ndarray:
    """Bring the inner lips of *this* rest shape together (plus a squeeze of the outer lips)."""
    f = np.zeros((68, 2))
    for up, low in INNER_LIP_PAIRS:
        if lower_only:
            f[low, 1] = rest[up, 1] - rest[low, 1]
        else:
            mid = 0.5 * (rest[up, 1] + rest[low, 1])
            f[up, 1] = mid - rest[up, 1]
            f[low, 1] = mid - rest[low, 1]
    if not lower_only:
        f[[49, 50, 51, 52, 53], 1] += squeeze
    f[[55, 56, 57, 58, 59], 1] -= squeeze
    return f


def _unilateral(f: np.ndarray) -> np.ndarray:
    g = f.copy()
    g[SIDE > 0] = 0.0
    g[SIDE == 0] *= 0.5
    return g


def au_fields(rest: np.ndarray) -> dict[str, np.ndarray]:
    """Linear AU fields (face units at activation 1) for a rest shape in face units."""
    lids_up, lids_low = [37, 38, 43, 44], [40, 41, 46, 47]
    upper_outer, lower_outer = [49, 50, 51, 52, 53], [55, 56, 57, 58, 59]
    upper_inner, lower_inner = [61, 62, 63], [65, 66, 67]
    au12 = _field([
        ([48, 54], 0.07, -0.085), ([60, 64], 0.06, -0.075), ([49, 53], 0.04, -0.045), ([55, 59], 0.04, -0.035),
        ([50, 52], 0.015, -0.015), ([56, 58], 0.015, -0.01), ([61, 63], 0.02, -0.025), ([65, 67], 0.02, -0.02),
        ([3, 13], 0.01, -0.01), (lids_low, 0.0, -0.008),
    ])
    au14 = _field([([48, 54], -0.015, -0.02), ([60, 64], -0.02, -0.015), ([49, 53, 55, 59], 0.0, -0.01)])
    fields = {
        "AU1": _field([([21, 22], 0.0, -0.07), ([20, 23], 0.0, -0.05), ([19, 24], 0.0, -0.025)]),
        "AU2": _field([([17, 26], 0.0, -0.07), ([18, 25], 0.0, -0.065), ([19, 24], 0.0, -0.045),
                       ([20, 23], 0.0, -0.02)]),
        "AU4": _field([([21, 22], -0.035, 0.05), ([20, 23], -0.02, 0.045), ([19, 24], 0.0, 0.035),
                       ([18, 25], 0.0, 0.025), ([17, 26], 0.0, 0.015), (lids_up, 0.0, 0.012)]),
        "AU5": _field([(lids_up, 0.0, -0.035), ([36, 39, 42, 45], 0.0, -0.005)]),
        "AU6": _field([(lids_low, 0.0, -0.025), ([36, 45], 0.0, -0.008), ([1, 2, 14, 15], 0.0, -0.02),
                       ([3, 13], 0.0, -0.012), ([48, 54], 0.0, -0.01)]),
        "AU7": _field([(lids_low, 0.0, -0.03), (lids_up, 0.0, 0.012)]),
        "AU9": _field([([31, 35], 0.01, -0.035), ([32, 33, 34], 0.0, -0.035), ([29, 30], 0.0, -0.02),
                       ([21, 22], 0.0, 0.025), ([20, 23], 0.0, 0.015), ([49, 53], 0.0, -0.03),
                       ([50, 51, 52], 0.0, -0.035), (upper_inner, 0.0, -0.03), (lids_low, 0.0, -0.01)]),
        "AU10": _field([([50, 51, 52], 0.0, -0.055), ([49, 53], 0.0, -0.045), (upper_inner, 0.0, -0.05),
                        ([48, 54, 60, 64], 0.0, -0.012), ([31, 35], 0.01, -0.01)]),
        "AU12": au12,
        "AU14": au14,
        "AU15": _field([([48, 54], 0.015, 0.07), ([60, 64], 0.0, 0.06), ([49, 53], 0.0, 0.03), ([55, 59], 0.0, 0.035),
                        ([56, 58], 0.0, 0.012), ([61, 63, 65, 67], 0.0, 0.02)]),
        "AU16": _field([([57], 0.0, 0.06), ([56, 58], 0.01, 0.055), ([55, 59], 0.0, 0.035), ([66], 0.0, 0.05),
                        ([65, 67], 0.0, 0.045), ([48, 54], 0.0, 0.01)]),
        "AU17": _field([(lower_outer, 0.0, -0.035), ([57], 0.0, -0.005), (lower_inner, 0.0, -0.025),
                        ([7, 8, 9], 0.0, -0.03), ([6, 10], 0.0, -0.015)]),
        "AU20": _field([([48, 54], 0.07, 0.015), ([60, 64], 0.06, 0.01), ([49, 53, 55, 59], 0.035, 0.0),
                        ([50, 52, 56, 58], 0.012, 0.0), ([61, 63, 65, 67], 0.02, 0.0), ([50, 51, 52], 0.0, 0.008),
                        ([56, 57, 58], 0.0, -0.008), ([4, 5, 11, 12], 0.01, 0.0)]),
        "AU23": _field([([48, 54], -0.035, 0.0), ([60, 64], -0.03, 0.0), ([49, 53, 55, 59], -0.015, 0.0),
                        (upper_outer, 0.0, 0.015), (lower_outer, 0.0, -0.015), (upper_inner, 0.0, 0.005),
                        (lower_inner, 0.0, -0.005)]),
        "AU24": close_lips(rest, squeeze=0.025) + _field([([48, 54, 60, 64], -0.01, 0.0)]),
        "AU25": _field([(lower_inner, 0.0, 0.05), (lower_outer, 0.0, 0.04), (upper_inner, 0.0, -0.012),
                        ([50, 51, 52], 0.0, -0.008)]),
        "AU26": jaw_open(rest, 0.22),
        "AU27": jaw_open(rest, 0.45) + _field([([48, 54, 60, 64], -0.04, 0.0)]),
        "AU12R": _unilateral(au12),
        "AU14R": _unilateral(au14),
    }
    return fields


def close_eyelids(shape: np.ndarray, closure: np.ndarray) -> np.ndarray:
    """Move each upper lid (and a little of the lower lid) towards their meeting line.

    ``shape [T, 68, 2]`` in face units, ``closure [T]`` in [0, 1]; the lids meet at 80 % of the
    way from the current upper to the current lower lid, so a raised (AU5) lid also closes fully.
    """
    out = shape.copy()
    c = np.clip(closure, 0.0, 1.0)[:, None]
    for up, low in EYELID_PAIRS:
        meet = shape[:, up] + 0.8 * (shape[:, low] - shape[:, up])
        out[:, up] = shape[:, up] + c * (meet - shape[:, up])
        out[:, low] = shape[:, low] + c * (meet - shape[:, low])
    return out


def keep_order(shape: np.ndarray) -> np.ndarray:
    """No lower lid above its upper lid, no lower inner lip above the upper one (face units)."""
    out = shape.copy()
    for up, low in EYELID_PAIRS + INNER_LIP_PAIRS:
        crossed = out[:, low, 1] < out[:, up, 1]
        mid = 0.5 * (out[:, low, 1] + out[:, up, 1])
        out[crossed, up, 1] = mid[crossed]
        out[crossed, low, 1] = mid[crossed]
    return out
