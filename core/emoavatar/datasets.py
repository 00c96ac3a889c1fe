"""Dataset readers shared by trainers: MEAD, CREMA-D (EmoHead §IV-A), a generic folder and a CSV manifest.

Each yields :class:`ClipRecord` (video path, audio path or None = audio from the video, canonical
emotion, intensity level, identity, sentence id), sorted for reproducibility.

- MEAD: ``<root>/M003/video/front/angry/level_1/001.mp4`` (audio, when present, from
  ``<root>/M003/audio/angry/level_1/001.m4a``); intensity = the level number (1-3).
- CREMA-D: ``<root>/**/1001_DFA_ANG_XX.flv`` (``VideoFlash/``; also .mp4), audio from
  ``<root>/AudioWAV/1001_DFA_ANG_XX.wav`` when present; intensity LO/MD/HI = 1/2/3, XX = 0 (unspecified).
- folder: ``<root>/<identity>/<emotion>/[level_<n>/]<sentence>.<mp4|avi|mov|mkv|flv|webm>``.
- manifest: a CSV with a header ``video,emotion[,audio,intensity,identity,sentence]``; relative
  paths are resolved against the CSV's folder.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from emoavatar.emotions import canonical_emotion
from emoavatar.errors import ConfigError, MediaError

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".flv", ".webm")
AUDIO_EXTS = (".wav", ".m4a", ".mp3", ".flac", ".aac")
CREMA_LEVELS = {"LO": 1, "MD": 2, "HI": 3, "XX": 0, "X": 0}
_CREMA = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$")
_LEVEL = re.compile(r"^level_?(\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class ClipRecord:
    video: Path
    audio: Path | None
    emotion: str
    intensity: int
    identity: str
    sentence: str


def _require_dir(root: Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise MediaError(f"dataset folder not found: {root}", fix="give the folder that holds the dataset")
    return root


def _find_audio(base: Path) -> Path | None:
    for ext in AUDIO_EXTS:
        if base.with_suffix(ext).is_file():
            return base.with_suffix(ext)
    return None


def read_mead(root: str | Path, view: str = "front", emotions: set[str] | None = None) -> Iterator[ClipRecord]:
    """MEAD: identity/video/<view>/<emotion>/level_<n>/<sentence>.mp4."""
    root = _require_dir(Path(root))
    for video in sorted(root.glob(f"*/video/{view}/*/*/*")):
        if video.suffix.lower() not in VIDEO_EXTS:
            continue
        level_dir, emo_dir, identity = video.parent, video.parent.parent, video.parents[4].name
        m = _LEVEL.match(level_dir.name)
        if not m:
            continue
        emotion = canonical_emotion(emo_dir.name)
        if emotions and emotion not in emotions:
            continue
        audio = _find_audio(root / identity / "audio" / emo_dir.name / level_dir.name / video.stem)
        yield ClipRecord(video, audio, emotion, int(m.group(1)), identity, video.stem)


def read_crema_d(root: str | Path, emotions: set[str] | None = None) -> Iterator[ClipRecord]:
    """CREMA-D: <actor>_<sentence>_<EMO>_<level>.flv anywhere under root (VideoFlash/)."""
    root = _require_dir(Path(root))
    audio_dir = root / "AudioWAV"
    for video in sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXTS):
        m = _CREMA.match(video.stem)
        if not m:
            continue
        actor, sentence, emo, level = m.groups()
        emotion = canonical_emotion(emo)
        if emotions and emotion not in emotions:
            continue
        audio = _find_audio(audio_dir / video.stem) if audio_dir.is_dir() else None
        yield ClipRecord(video, audio, emotion, CREMA_LEVELS.get(level, 0), actor, sentence)


def read_folder(root: str | Path, emotions: set[str] | None = None) -> Iterator[ClipRecord]:
    """Generic: <identity>/<emotion>/[level_<n>/]<sentence>.<video ext>."""
    root = _require_dir(Path(root))
    for video in sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXTS):
        parts = video.relative_to(root).parts
        level = 1
        if len(parts) == 4 and _LEVEL.match(parts[2]):
            level = int(_LEVEL.match(parts[2]).group(1))
        elif len(parts) != 3:
            continue
        emotion = canonical_emotion(parts[1])
        if emotions and emotion not in emotions:
            continue
        yield ClipRecord(video, _find_audio(video), emotion, level, parts[0], video.stem)


def read_manifest(path: str | Path) -> Iterator[ClipRecord]:
    """CSV manifest with columns video, emotion and optionally audio, intensity, identity, sentence."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"manifest not found: {path}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows, start=2):
        if not row.get("video") or not row.get("emotion"):
            raise ConfigError(f"{path}:{i}: each row needs 'video' and 'emotion'")
        video = (path.parent / row["video"]).resolve()
        audio = (path.parent / row["audio"]).resolve() if row.get("audio") else None
        yield ClipRecord(video, audio, canonical_emotion(row["emotion"]), int(row.get("intensity") or 1),
                         row.get("identity") or video.parent.name, row.get("sentence") or video.stem)


READERS = {"mead": read_mead, "crema-d": read_crema_d, "folder": read_folder, "manifest": read_manifest}


def read_dataset(kind: str, root: str | Path, **kw) -> list[ClipRecord]:
    """``read_dataset("mead", "/data/MEAD")``; ``kind="auto"`` picks by layout."""
    if kind == "auto":
        root_p = Path(root)
        if root_p.suffix.lower() == ".csv":
            kind = "manifest"
        elif any(root_p.glob("*/video/*/*/*/*")):
            kind = "mead"
        elif any(_CREMA.match(p.stem) for p in root_p.rglob("*") if p.suffix.lower() in VIDEO_EXTS):
            kind = "crema-d"
        else:
            kind = "folder"
    if kind not in READERS:
        raise ConfigError(f"unknown dataset layout {kind!r}", fix=f"use one of {', '.join(READERS)} or auto")
    return list(READERS[kind](root, **kw))
