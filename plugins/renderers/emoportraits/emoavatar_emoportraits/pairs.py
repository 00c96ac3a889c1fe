"""Training pairs from talking clips: per frame the clip's audio features (the pipeline's own encoders, run on
its audio) beside the stage-1 model's latent z and head pose of the video frame (:func:`.embed.embed_frames`).

Shared by the trainers of this distribution. A pair is cached as one ``.npz`` (keys ``feat_<kind>``, ``z``,
``head_pose``, ``emotion``, ``identity``, ``sentence``, ``video``, ``fps``), so retraining or resuming never
re-embeds a clip.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from emoavatar.datasets import ClipRecord
from emoavatar.errors import FaceNotFoundError, MediaError


@dataclass
class Pair:
    features: dict[str, np.ndarray]   # kind -> [T, D]
    z: np.ndarray                     # [T, Z]
    head_pose: np.ndarray             # [T, 9]
    emotion: str
    identity: str
    sentence: str
    video: str

    def __len__(self) -> int:
        return len(self.z)


def clip_pair(record: ClipRecord, model, encoders: list, face=None, fps: float = 25.0, crop_scale: float = 1.0,
              device: str = "cpu", batch: int = 8, crop: str = "track") -> Pair:
    """Encode ``record``'s audio with ``encoders`` (built AudioEncoders) and embed its frames with ``model``.

    ``crop``: ``track`` = around the face tracked in every frame; ``fixed`` = around the face found in the first
    frame, for the whole clip (a steady camera and head: no crop jitter in the latents); ``centre`` = the
    centre square (``face`` unused)."""
    from emoavatar.inputs import DrivingVideo
    from emoavatar.interfaces import RunContext
    from emoavatar.types import Audio

    from .embed import embed_frames

    video = DrivingVideo.open(record.video)
    audio_path = record.audio or record.video
    audio = Audio.load(audio_path)
    n = min(audio.n_frames(fps), max(1, int(round(video.info.duration * fps))))
    ctx = RunContext(fps=fps, n_frames=n, seed=0, face=face, extras={"audio_path": audio_path})
    feats = {}
    for enc in encoders:
        f = enc.encode(audio, ctx)
        feats[f.kind] = np.asarray(f.values, np.float32)[:n]
    frames = video.frames_at(fps, n, chunk=batch)
    if crop == "fixed" and face is not None:
        frames, face = _fixed_crop(frames, face, crop_scale, record), None
    elif crop == "centre":
        face = None
    emb = embed_frames(model, frames, face, crop_scale, device)
    if face is not None and emb.faces_found == 0:
        raise FaceNotFoundError(f"no face found in {record.video}", fix="leave clips without a visible face out")
    n = min(n, len(emb.z), *(len(v) for v in feats.values()))
    return Pair({k: v[:n] for k, v in feats.items()}, emb.z[:n], emb.head_pose[:n], record.emotion,
                record.identity, record.sentence, str(record.video))


def _fixed_crop(chunks, face, scale: float, record: ClipRecord):
    """The chunks cropped to the square around the first frame's face (then centre-cropped as they are)."""
    from emoavatar.geometry import main_face

    from .crop import square_crop

    box = None
    for chunk in chunks:
        if box is None:
            found = face.detect(chunk[0])
            if not found:
                raise FaceNotFoundError(f"no face in the first frame of {record.video}", fix="use --crop track or centre")
            f = main_face(found)
            box = square_crop(f.box, chunk.shape[2], chunk.shape[1], scale)
        x0, y0, side = box
        yield chunk[:, y0:y0 + side, x0:x0 + side]


def save_pair(path: Path, pair: Pair, fps: float) -> None:
    arrays = {f"feat_{k}": v for k, v in pair.features.items()}
    np.savez(path, z=pair.z, head_pose=pair.head_pose, emotion=np.array(pair.emotion), identity=np.array(pair.identity),
             sentence=np.array(pair.sentence), video=np.array(pair.video), fps=np.array(fps), **arrays)


def load_pair(path: Path) -> Pair:
    with np.load(path, allow_pickle=False) as d:
        feats = {k[5:]: np.asarray(d[k], np.float32) for k in d.files if k.startswith("feat_")}
        return Pair(feats, np.asarray(d["z"], np.float32), np.asarray(d["head_pose"], np.float32), str(d["emotion"]),
                    str(d["identity"]), str(d["sentence"]), str(d["video"]))


def cache_key(record: ClipRecord, encoder_names: list[str], extra: str = "") -> str:
    """A name for the cached pair: the clip's path, size and mtime, the encoders and the embedding setup."""
    st = Path(record.video).stat()
    text = f"{Path(record.video).resolve()}|{st.st_size}|{st.st_mtime_ns}|{record.audio}|{','.join(encoder_names)}|{extra}"
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def build_pairs(records: list[ClipRecord], make: Callable[[ClipRecord], Pair], cache: Path | None, fps: float,
                encoder_names: list[str], extra: str = "", log: Callable[[str], None] = print) -> list[Pair]:
    """``make`` each record's pair, or read it from ``cache``."""
    if not records:
        raise MediaError("no clips to train on", fix="check the dataset folder and its layout (mead, crema-d, folder, manifest)")
    if cache is not None:
        Path(cache).mkdir(parents=True, exist_ok=True)
    pairs = []
    for i, rec in enumerate(records):
        path = Path(cache) / f"{cache_key(rec, encoder_names, extra)}.npz" if cache is not None else None
        if path is not None and path.is_file():
            pairs.append(load_pair(path))
            continue
        pair = make(rec)
        if path is not None:
            save_pair(path, pair, fps)
        pairs.append(pair)
        log(f"clip {i + 1}/{len(records)}: {rec.video} ({len(pair)} frames, {rec.emotion})")
    return pairs
