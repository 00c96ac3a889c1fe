"""Which videos to evaluate, with what: one video, a folder of videos, or a CSV / YAML manifest.

Manifest columns (CSV header or YAML list-of-mappings keys): ``generated`` (required),
``reference``, ``audio``, ``portrait``, ``emotion``, ``fps``. Relative paths are relative to the
manifest's folder; empty cells mean "not given". ``emotion`` is any request
:func:`~emoavatar.emotions.parse_emotion` accepts (a label, ``happy:0.6,surprised:0.4``, YAML text).

For a folder, ``--reference`` / ``--audio`` / ``--portrait`` may be folders too: the file with
the same stem as the generated video is used (any extension).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..emotions import parse_emotion
from ..errors import ConfigError, MediaError
from ..interfaces import EvalSample

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
COLUMNS = ("generated", "reference", "audio", "portrait", "emotion", "fps")


def _match(spec: str | Path | None, stem: str, what: str) -> Path | None:
    if spec is None:
        return None
    p = Path(spec)
    if not p.is_dir():
        return p
    hits = sorted(q for q in p.iterdir() if q.is_file() and q.stem == stem)
    if not hits:
        raise MediaError(f"no {what} named {stem}.* in {p}", fix=f"name {what} files like the generated videos")
    return hits[0]


def samples_from_args(target: str | Path, reference: str | Path | None = None, audio: str | Path | None = None,
                      portrait: str | Path | None = None, emotion: Any = None, fps: float | None = None
                      ) -> list[EvalSample]:
    """One EvalSample per video: ``target`` is a video file or a folder of videos."""
    target = Path(target)
    if target.is_dir():
        videos = sorted(p for p in target.iterdir()
                        if p.suffix.lower() in VIDEO_SUFFIXES and ".partial" not in p.name)
        if not videos:
            raise MediaError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {target}")
    elif target.exists():
        videos = [target]
    else:
        raise MediaError(f"video not found: {target}", fix="check the path")
    request = parse_emotion(emotion) if emotion is not None else None
    return [EvalSample(video=v, reference=_match(reference, v.stem, "reference"),
                       audio=_match(audio, v.stem, "audio"), portrait=_match(portrait, v.stem, "portrait"),
                       emotion=request, fps=fps) for v in videos]


def _rows_from_file(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"manifest not found: {path}")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: invalid YAML: {str(e).splitlines()[0]}") from None
        if isinstance(data, dict) and "samples" in data:
            data = data["samples"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ConfigError(f"{path}: a YAML manifest is a list of {{generated: ..., reference: ...}} mappings")
        return data
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


def read_manifest(path: str | Path) -> list[EvalSample]:
    """Samples listed in a CSV or YAML manifest (see module doc)."""
    path = Path(path)
    rows = _rows_from_file(path)
    if not rows:
        raise ConfigError(f"{path}: the manifest lists no samples")
    base = path.parent
    out = []
    for i, row in enumerate(rows):
        where = f"{path.name} row {i + 1}"
        unknown = set(row) - set(COLUMNS) - {None}
        if unknown:
            raise ConfigError(f"{where}: unknown column(s) {sorted(unknown)}", fix=f"use {', '.join(COLUMNS)}")
        cell = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
        cell = {k: v for k, v in cell.items() if v not in (None, "")}
        if "generated" not in cell:
            raise ConfigError(f"{where}: `generated` is required")

        def resolve(key: str, cell: dict = cell) -> Path | None:
            v = cell.get(key)
            return None if v is None else (Path(v) if Path(v).is_absolute() else base / v)

        try:
            fps = float(cell["fps"]) if "fps" in cell else None
        except ValueError:
            raise ConfigError(f"{where}: fps must be a number, got {cell['fps']!r}") from None
        emotion = parse_emotion(cell["emotion"]) if "emotion" in cell else None
        out.append(EvalSample(video=resolve("generated"), reference=resolve("reference"), audio=resolve("audio"),
                              portrait=resolve("portrait"), emotion=emotion, fps=fps))
    return out


def unique_names(samples: Iterable[EvalSample]) -> list[str]:
    """Video stems, de-duplicated with their parent folder when two stems clash."""
    samples = list(samples)
    stems = [Path(s.video).stem for s in samples]
    return [st if stems.count(st) == 1 else f"{Path(s.video).parent.name}/{st}" for s, st in zip(samples, stems)]
