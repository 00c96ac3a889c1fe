"""Visemes -> mouth shapes -> landmark displacements (lip-sync).

Each viseme is a point in a small space of mouth gestures (jaw opening, lip spread, lip
rounding, lip press, upper-lip raise, lower-lip tuck); each gesture is a displacement field
of the mouth and jaw points (face units). Per frame the field is ``Σ_v w_v(t) · D_v``, with
``w`` the encoder's viseme weights; ``sil`` is zero: the portrait's own mouth at rest.
The gesture values are hand-set from the visible articulation of each viseme class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from emoavatar.visemes import VISEMES

from .action_units import _field, close_lips, jaw_open

GESTURES = ("jaw", "spread", "round", "press", "upper_raise", "lower_tuck")

#: viseme -> gesture values (0..1).
SHAPES: dict[str, dict[str, float]] = {
    "sil": {},
    "PP": {"press": 1.0},
    "FF": {"jaw": 0.1, "lower_tuck": 1.0, "upper_raise": 0.3},
    "TH": {"jaw": 0.2, "spread": 0.15},
    "DD": {"jaw": 0.25, "spread": 0.25},
    "kk": {"jaw": 0.35, "spread": 0.15},
    "CH": {"jaw": 0.2, "round": 0.6, "upper_raise": 0.2},
    "SS": {"jaw": 0.1, "spread": 0.5},
    "nn": {"jaw": 0.2, "spread": 0.2},
    "RR": {"jaw": 0.2, "round": 0.5},
    "aa": {"jaw": 1.0, "spread": 0.15},
    "E": {"jaw": 0.55, "spread": 0.55},
    "ih": {"jaw": 0.3, "spread": 0.7},
    "oh": {"jaw": 0.7, "round": 0.8},
    "ou": {"jaw": 0.3, "round": 1.0},
}

JAW_DROP = 0.30  # face units of chin/lower-lip drop for a fully open 'aa'


def gesture_fields(rest: np.ndarray) -> dict[str, np.ndarray]:
    """One ``[68, 2]`` field per gesture at value 1, for a rest shape in face units."""
    return {
        "jaw": jaw_open(rest, JAW_DROP),
        "spread": _field([([48, 54], 0.055, -0.008), ([60, 64], 0.05, -0.006), ([49, 53, 55, 59], 0.025, 0.0),
                          ([61, 63, 65, 67], 0.015, 0.0)]),
        "round": _field([([48, 54], -0.09, 0.0), ([60, 64], -0.08, 0.0), ([49, 53, 55, 59], -0.05, 0.0),
                         ([50, 52, 56, 58], -0.02, 0.0), ([61, 63, 65, 67], -0.03, 0.0), ([50, 51, 52], 0.0, -0.02),
                         ([56, 57, 58], 0.0, 0.02), ([61, 62, 63], 0.0, -0.01), ([65, 66, 67], 0.0, 0.01)]),
        "press": close_lips(rest, squeeze=0.02),
        "upper_raise": _field([([49, 50, 51, 52, 53], 0.0, -0.03), ([61, 62, 63], 0.0, -0.03)]),
        "lower_tuck": close_lips(rest, squeeze=0.03, lower_only=True),
    }


def viseme_fields(rest: np.ndarray, names: Sequence[str] = VISEMES) -> np.ndarray:
    """``[V, 68, 2]``: the displacement of each viseme (``sil`` and unknown names: zero)."""
    g = gesture_fields(rest)
    out = np.zeros((len(names), 68, 2))
    for i, name in enumerate(names):
        for gesture, value in SHAPES.get(name, {}).items():
            out[i] += value * g[gesture]
    return out
