"""Reader of emotion-hyperplane files, from their documented on-disk format (written by
``emoavatar train emohead-hyperplane``, distribution ``emoavatar-plugin-emohead-hyperplane``; this
package does not import it).

``NAME.npz`` (or ``.safetensors``) holds ``w [E, k]`` and ``b [E]`` float32; ``NAME.json`` holds
``{"emotions": [E names], "basis": ..., "k": k, ...}``. The a2e module needs only the unit normals
ŵ_e = w_e / ‖w_e‖ laid out over the emotion vocabulary (eq. 9's w_z directions).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from emoavatar.emotions import EMOTIONS, canonical_emotion
from emoavatar.errors import ConfigError, WeightsNotFoundError


def read_normals(path: str | Path, vocabulary: tuple[str, ...] = EMOTIONS) -> np.ndarray:
    """Unit hyperplane normals ``[len(vocabulary), k]`` (zero rows for emotions without a hyperplane)."""
    path = Path(path)
    side = path.with_suffix(".json")
    for p in (path, side):
        if not p.is_file():
            raise WeightsNotFoundError(f"emotion hyperplanes file {p} not found",
                                       fix="train them with `emoavatar train emohead-hyperplane --data DIR --out FILE.npz`")
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        w = load_file(str(path))["w"]
    else:
        with np.load(path, allow_pickle=False) as z:
            w = z["w"]
    emotions = [canonical_emotion(e) for e in json.loads(side.read_text())["emotions"]]
    w = np.asarray(w, np.float32)
    if w.ndim != 2 or len(w) != len(emotions):
        raise ConfigError(f"{path}: w has shape {w.shape} for {len(emotions)} emotions",
                          fix="use a file written by `emoavatar train emohead-hyperplane`")
    unit = w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)
    out = np.zeros((len(vocabulary), w.shape[1]), np.float32)
    for i, name in enumerate(emotions):
        if name in vocabulary:
            out[vocabulary.index(name)] = unit[i]
    return out
