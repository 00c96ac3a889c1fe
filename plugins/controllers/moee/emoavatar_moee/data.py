"""Labelled clips for ``moee-latents``: the prepared-clip format and how to make it.

A prepared clip is one ``.npz`` file holding

- ``emotion``: the label (any name :func:`emoavatar.emotions.canonical_emotion` reads);
- ``feat_<kind>``: per-frame audio features ``[T, D]`` of an encoder (``prosody``, ``hubert``,
  ``audio_emotion``), at ``fps`` (default 25);
- optionally ``text`` (a sentence describing the emotion; without it a paraphrase of the label
  is drawn, as MoEE paraphrases its AU annotations into sentences) and ``au`` ``[K]`` over
  :data:`~emoavatar_moee.facs.AU_CHANNELS` (AU targets of the clip, e.g. measured; without it
  the label's FACS prototype, scaled by the clip's intensity level).

``emoavatar train moee-latents --prepare mead|crema-d|manifest ROOT --data OUT_DIR`` writes
them from a dataset, reading its file naming itself and running the pipeline's audio encoders
(built through the registry, ``--encoder prosody`` by default) on each clip's audio:

- MEAD: ``<root>/<id>/audio/<emotion>/level_<n>/<sentence>.(m4a|wav)`` (or the video under
  ``<id>/video/front/...`` when the audio folder is missing);
- CREMA-D: ``<root>/**/<actor>_<sentence>_<EMO>_<LEVEL>.(wav|flv|mp4)``;
- manifest: a CSV with columns ``audio,emotion[,text,intensity]`` (paths relative to the CSV).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from emoavatar.emotions import canonical_emotion
from emoavatar.errors import ConfigError, MediaError

MEDIA_EXTS = (".wav", ".m4a", ".mp3", ".flac", ".aac", ".mp4", ".flv", ".avi", ".mov", ".webm")
_CREMA = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$")
_LEVEL = re.compile(r"^level_?(\d+)$", re.IGNORECASE)
CREMA_LEVELS = {"LO": 1, "MD": 2, "HI": 3, "XX": 2, "X": 2}

#: Paraphrases used when a clip has no text (distinct from the text anchors).
PARAPHRASES: dict[str, tuple[str, ...]] = {
    "neutral": ("They speak in an even, ordinary way.", "An unremarkable, composed expression."),
    "happy": ("Their face lights up with a cheerful smile.", "They sound glad and pleased about it."),
    "sad": ("Their voice is low and full of sorrow.", "They look downcast, close to tears."),
    "angry": ("They glare and raise their voice in rage.", "Their brows pull down in fury."),
    "fearful": ("They look terrified and tense.", "Their voice shakes with fright."),
    "disgusted": ("They recoil as if something smells foul.", "Their face twists in revulsion."),
    "surprised": ("Their eyes go wide in astonishment.", "They gasp, caught completely off guard."),
    "contempt": ("They sneer with scorn.", "A dismissive, superior half-smile."),
}


@dataclass
class Clip:
    emotion: str
    feats: dict[str, np.ndarray]
    fps: float
    text: str | None = None
    au: np.ndarray | None = None
    level: int = 2


def load_clips(folder: str | Path) -> list[Clip]:
    folder = Path(folder)
    files = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    if not files:
        raise MediaError(f"no prepared clips (*.npz) in {folder}",
                         fix="prepare them with --prepare mead|crema-d|manifest ROOT, or see the format in the README")
    clips = []
    for f in files:
        with np.load(f, allow_pickle=False) as z:
            feats = {k[5:]: np.asarray(z[k], np.float32) for k in z.files if k.startswith("feat_")}
            if "emotion" not in z.files or not feats:
                raise ConfigError(f"{f}: a prepared clip needs 'emotion' and at least one 'feat_<kind>'")
            clips.append(Clip(canonical_emotion(str(z["emotion"])), feats, float(z["fps"]) if "fps" in z.files else 25.0,
                              str(z["text"]) if "text" in z.files else None,
                              np.asarray(z["au"], np.float32) if "au" in z.files else None,
                              int(z["level"]) if "level" in z.files else 2))
    return clips


def _first_media(base: Path) -> Path | None:
    for ext in MEDIA_EXTS:
        if base.with_suffix(ext).is_file():
            return base.with_suffix(ext)
    return None


def list_sources(kind: str, root: str | Path) -> list[tuple[Path, str, int, str | None]]:
    """``(media, emotion, level, text)`` per clip of a MEAD / CREMA-D tree or a CSV manifest."""
    root = Path(root)
    out: list[tuple[Path, str, int, str | None]] = []
    if kind == "manifest":
        if not root.is_file():
            raise MediaError(f"manifest not found: {root}")
        with root.open(newline="") as f:
            for i, row in enumerate(csv.DictReader(f), start=2):
                if not row.get("audio") or not row.get("emotion"):
                    raise ConfigError(f"{root}:{i}: each row needs 'audio' and 'emotion'")
                out.append(((root.parent / row["audio"]).resolve(), canonical_emotion(row["emotion"]),
                            int(row.get("intensity") or 2), row.get("text") or None))
        return out
    if not root.is_dir():
        raise MediaError(f"dataset folder not found: {root}")
    if kind == "mead":
        for level_dir in sorted(root.glob("*/audio/*/*")) or sorted(root.glob("*/video/front/*/*")):
            m = _LEVEL.match(level_dir.name)
            if not m:
                continue
            for media in sorted(p for p in level_dir.iterdir() if p.suffix.lower() in MEDIA_EXTS):
                out.append((media, canonical_emotion(level_dir.parent.name), int(m.group(1)), None))
    elif kind == "crema-d":
        seen = set()
        for media in sorted(p for p in root.rglob("*") if p.suffix.lower() in MEDIA_EXTS):
            m = _CREMA.match(media.stem)
            if m and media.stem not in seen:
                seen.add(media.stem)
                out.append((media, canonical_emotion(m.group(3)), CREMA_LEVELS.get(m.group(4), 2), None))
    else:
        raise ConfigError(f"unknown dataset layout {kind!r}", fix="use mead, crema-d or manifest")
    if not out:
        raise MediaError(f"no {kind} clips found under {root}")
    return out


def prepare(kind: str, root: str | Path, out_dir: str | Path, encoders: list[str], fps: float = 25.0) -> int:
    """Run the registry's ``encoders`` over every clip's audio and write prepared ``.npz`` clips."""
    from emoavatar.interfaces import RunContext
    from emoavatar.registry import get_registry
    from emoavatar.types import Audio

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    built = [get_registry().create("encoders", name) for name in encoders]
    sources = list_sources(kind, root)
    for i, (media, emotion, level, text) in enumerate(sources):
        audio = Audio.load(media)
        ctx = RunContext(fps=fps, n_frames=audio.n_frames(fps), seed=0, extras={"audio_path": media})
        arrays: dict[str, np.ndarray] = {"emotion": np.array(emotion), "fps": np.array(fps), "level": np.array(level)}
        for enc in built:
            feats = enc.encode(audio, ctx)
            arrays[f"feat_{feats.kind}"] = np.asarray(feats.values, np.float32)
        if text:
            arrays["text"] = np.array(text)
        np.savez(out_dir / f"{i:06d}_{emotion}.npz", **arrays)
    return len(sources)
