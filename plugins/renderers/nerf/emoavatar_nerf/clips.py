"""Preprocessed training clips, read from their documented on-disk format (no import of the
plugin that writes them).

A clip is one ``.npz`` written by ``emoavatar train emohead-preprocess`` (distribution
``emoavatar-plugin-emohead-a2e``; the format is documented in its README): ``frames`` uint8
``[T, H, W, 3]``, ``alpha`` float32 ``[T, k]`` (motion space ``exp3dmm10``), ``pose`` ``[T, 6]``,
``landmarks`` ``[T, 68, 2]``, ... and ``meta``, a 0-d JSON string (``fps``, ``emotion``, ``basis``,
...). A basis or hyperplanes file saved beside the clips has a ``.json`` sidecar and is no clip.

Videos are turned into clips by running that trainer through the ``emoavatar.trainers`` entry
point (the same as ``emoavatar train emohead-preprocess``); without it installed, the NeRF
trains from clips only and says so.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
from emoavatar.errors import PluginError

PREPROCESS_TRAINER = "emohead-preprocess"


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


def save_clip(path: str | Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
    """Write a clip in the same format (used for synthetic clips and tests)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.npz")
    np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
    tmp.replace(path)
    return path


def _trainer(name: str):
    from importlib import metadata

    found = {ep.name: ep for ep in metadata.entry_points().select(group="emoavatar.trainers")}
    if name not in found:
        raise PluginError(f"nerf data: videos must be preprocessed into clips by the `{name}` trainer, "
                          "which is not installed",
                          fix="pip install emoavatar-plugin-emohead-a2e, or give `data:` preprocessed .npz clips")
    return found[name].load()


def preprocess_videos(videos: list[Path], out_dir: Path, face: str, basis: str, emotion: str | None,
                      max_side: int | None) -> list[Path]:
    """Videos of ONE person (identity ``subject``) -> clips under ``out_dir/subject/`` via the
    ``emohead-preprocess`` trainer (landmarks from ``face``, α/pose from ``basis``, fitted here)."""
    main = _trainer(PREPROCESS_TRAINER)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / "videos.csv"
    with manifest.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["video", "emotion", "intensity", "identity", "sentence"])
        for v in videos:
            w.writerow([str(Path(v).resolve()), emotion or "neutral", 0, "subject", Path(v).stem])
    argv = ["--root", str(manifest), "--dataset", "manifest", "--out", str(out_dir), "--face", face,
            "--basis", basis]
    if max_side:
        argv += ["--max-side", str(max_side)]
    rc = main(argv)
    if rc:
        raise PluginError(f"nerf data: `emoavatar train {PREPROCESS_TRAINER}` failed (exit {rc})")
    return sorted(p for p in (out_dir / "subject").glob("*.npz") if is_clip_file(p))
