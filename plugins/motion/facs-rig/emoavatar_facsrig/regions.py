"""Region gates on the rig (MoEE's local gating): each face region mixes the experts with its own weights.

An :class:`~emoavatar.types.EmotionState` may carry ``region_weights [T, R, E]`` for named
``regions``. The rig then computes the expert mixture per region on that region's AU channels:

    a_c(t) = Σ_e π_{r(c), e}(t) P_{e, c}     for a channel c of a named region r(c),
    a_c(t) = Σ_e w_e(t) P_{e, c}             for every other channel (the global weights),

so happy on the mouth and surprised on the brows move the lip corners like ``happy`` and the
brows like ``surprised``. Regions the rig knows (the ``moee`` controller's):

- ``brows``: AU1, AU2, AU4;
- ``eyes``: AU5, AU6, AU7, AU43, AU45;
- ``mouth``: the lower face, AU9 to AU27 and the one-sided AU12R/AU14R.

An unknown region name is ignored with a warning (its channels follow the global weights).
"""

from __future__ import annotations

import warnings

import numpy as np
from emoavatar.types import EmotionState

UPPER_FACE = {"brows": ("AU1", "AU2", "AU4"), "eyes": ("AU5", "AU6", "AU7", "AU43", "AU45")}


def region_channels(region: str, channels: tuple[str, ...]) -> list[int]:
    """Indices into ``channels`` of the rig channels that ``region`` moves ([] if unknown)."""
    if region in UPPER_FACE:
        return [i for i, c in enumerate(channels) if c in UPPER_FACE[region]]
    if region == "mouth":
        upper = UPPER_FACE["brows"] + UPPER_FACE["eyes"]
        return [i for i, c in enumerate(channels) if c not in upper]
    return []


def expert_mixture(emotion: EmotionState, weights: np.ndarray, prototypes: np.ndarray,
                   channels: tuple[str, ...]) -> np.ndarray:
    """``[T, C]``: ``weights [T, E] @ prototypes [E, C]``, with each named region's channels mixed by
    its own row of ``emotion.region_weights`` (see module doc)."""
    mix = weights @ prototypes
    if emotion.region_weights is None:
        return mix
    n = len(weights)
    rw = np.asarray(emotion.region_weights, np.float64)
    rw = rw[:n] if len(rw) >= n else np.concatenate([rw, np.repeat(rw[-1:], n - len(rw), 0)])
    for r, name in enumerate(emotion.regions):
        cols = region_channels(name, channels)
        if not cols:
            warnings.warn(f"facs-rig: unknown face region {name!r}; it follows the global emotion", stacklevel=2)
            continue
        mix[:, cols] = rw[:, r] @ prototypes[:, cols]
    return mix
