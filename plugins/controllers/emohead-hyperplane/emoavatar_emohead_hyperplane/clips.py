"""Reader of EmoHead's preprocessed clips, from their documented on-disk format (this package
does not import the preprocessor that writes them, ``emoavatar train emohead-preprocess`` of
``emoavatar-plugin-emohead-a2e``).

One ``.npz`` per clip (``allow_pickle=False``). The hyperplanes read ``alpha`` float32 ``[T, k]``
(motion space ``exp3dmm10``), ``mar`` float32 ``[T]`` (mouth aspect ratio) and ``meta``, a 0-d JSON
string with at least ``emotion`` (and ``identity``, ``basis``). A basis or hyperplanes file saved
among the clips has a ``.json`` sidecar and is not a clip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def is_clip_file(path: str | Path) -> bool:
    """A clip ``.npz``, not a basis/hyperplanes file (those have a ``.json`` beside them) nor a partial write."""
    path = Path(path)
    return (path.suffix == ".npz" and not path.name.endswith(".partial.npz")
            and not path.with_suffix(".json").is_file())


def load_clip(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` of one clip file."""
    with np.load(Path(path), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    return arrays, meta
