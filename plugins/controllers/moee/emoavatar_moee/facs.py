"""FACS facts the controller is initialised from (no torch): AU channels, the basic-emotion
prototypes and the face regions of the local gates.

The prototypes restate the design card (docs/architecture.md, "Default pipeline"; Ekman & Friesen's EMFACS-style patterns):
happy ≈ AU6+AU12, sad ≈ AU1+AU4+AU15, surprised ≈ AU1+AU2+AU5+AU26, angry ≈ AU4+AU5+AU7+AU23,
fearful ≈ AU1+AU2+AU4+AU5+AU20+AU26, disgusted ≈ AU9+AU15+AU16, contempt ≈ one-sided AU12+AU14.
They are data here (this plugin never imports a motion plugin); the values weight each AU
within its pattern.

Regions (the local gates' tokens) split the channels by the facial area they move, so that a
motion stage can apply each region's own emotion mixture to its own AUs:

- ``brows``: AU1, AU2, AU4 (inner/outer brow raiser, brow lowerer);
- ``eyes``: AU5, AU6, AU7, AU43, AU45 (lids, cheek raiser);
- ``mouth``: every lower-face AU (AU9 ... AU27, and the one-sided AU12R/AU14R).
"""

from __future__ import annotations

from emoavatar.emotions import ACTION_UNITS, EMOTIONS

#: AU channels: FACS's list plus one-sided AU12/AU14 (subject's right), used by contempt.
AU_CHANNELS: tuple[str, ...] = tuple(ACTION_UNITS) + ("AU12R", "AU14R")

PROTOTYPES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"AU6": 0.8, "AU12": 1.0, "AU25": 0.2},
    "sad": {"AU1": 1.0, "AU4": 0.6, "AU15": 0.9, "AU17": 0.3},
    "angry": {"AU4": 1.0, "AU5": 0.6, "AU7": 0.8, "AU23": 0.9},
    "fearful": {"AU1": 0.9, "AU2": 0.6, "AU4": 0.6, "AU5": 1.0, "AU20": 0.9, "AU26": 0.5},
    "disgusted": {"AU9": 1.0, "AU15": 0.6, "AU16": 0.6},
    "surprised": {"AU1": 1.0, "AU2": 1.0, "AU5": 0.9, "AU26": 0.8},
    "contempt": {"AU12R": 0.7, "AU14R": 0.8},
}

#: MoEE's six basic-emotion experts (the paper's), in this order.
BASIC_EXPERTS: tuple[str, ...] = ("happy", "sad", "angry", "fearful", "disgusted", "surprised")

_UPPER = {"brows": ("AU1", "AU2", "AU4"), "eyes": ("AU5", "AU6", "AU7", "AU43", "AU45")}
REGIONS: dict[str, tuple[str, ...]] = {
    **_UPPER,
    "mouth": tuple(c for c in AU_CHANNELS if c not in _UPPER["brows"] + _UPPER["eyes"]),
}
REGION_NAMES: tuple[str, ...] = tuple(REGIONS)


def prototype_vector(emotion: str) -> list[float]:
    """The emotion's AU pattern over :data:`AU_CHANNELS` (neutral: zeros)."""
    proto = PROTOTYPES.get(emotion, {})
    return [float(proto.get(c, 0.0)) for c in AU_CHANNELS]


def prototype_table(vocabulary: tuple[str, ...] = EMOTIONS) -> list[list[float]]:
    return [prototype_vector(e) for e in vocabulary]


def region_masks(regions: tuple[str, ...] = REGION_NAMES) -> list[list[float]]:
    """``[R, K]``: 1 where channel k belongs to region r."""
    return [[1.0 if c in REGIONS[r] else 0.0 for c in AU_CHANNELS] for r in regions]
