"""Training-clip preprocessing shared by the audio-expression module, the hyperplanes and the NeRF.

One ``.npz`` per clip (``np.load(path, allow_pickle=False)`` reads it; no pickles). Keys:

==================  ==========================  ================================================
key                 dtype / shape               meaning
==================  ==========================  ================================================
``landmarks``       float32 [T, 68, 2]          dlib 68 points, pixels of the stored frames (x, y)
``face_found``      bool [T]                    False where detection failed (landmarks there are
                                                linearly interpolated from neighbouring frames)
``boxes``           float32 [T, 4]              face box x0, y0, x1, y1 (pixels)
``alpha``           float32 [T, k]              expression parameters α (``exp3dmm10``, k = 10)
``pose``            float32 [T, 6]              pitch, yaw, roll (rad), tx, ty (px), scale —
                                                see :mod:`emoavatar_emohead.basis`
``mar``             float32 [T]                 mouth aspect ratio (Appendix B)
``frames``          uint8 [T, H, W, 3]          RGB frames (only with ``store_frames``; resized so
                                                the longer side <= ``max_side`` when set)
``feat_<kind>``     float32 [T, D]              audio features per encoder kind (``feat_hubert``…)
``meta``            0-d str (JSON)              {"video", "audio", "fps", "size": [H, W],
                                                "emotion", "intensity", "identity", "sentence",
                                                "basis": basis path or name, "feature_kinds": [...],
                                                "scale": frames/source pixel ratio}
==================  ==========================  ================================================

``alpha``/``pose`` are absent until a basis is applied (:func:`apply_basis`): the weight-free
``landmark-pca`` basis is fitted per subject on all of that subject's clips, so a subject is done
in two passes (:func:`preprocess_subject` does both). Read clips back with :func:`load_clip`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .basis import ExpressionBasis, create_basis, load_basis, mouth_aspect_ratio


@dataclass
class Clip:
    """A preprocessed clip as arrays (see the module table) plus its ``meta`` dict."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def features(self) -> dict[str, np.ndarray]:
        return {k[5:]: v for k, v in self.arrays.items() if k.startswith("feat_")}


def is_clip_file(path: str | Path) -> bool:
    """A clip ``.npz`` — not a basis/hyperplanes file (those have a ``.json`` beside them) nor a partial write."""
    path = Path(path)
    return (path.suffix == ".npz" and not path.name.endswith(".partial.npz")
            and not path.with_suffix(".json").is_file())


def load_clip(path: str | Path) -> Clip:
    with np.load(Path(path), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"])) if "meta" in z.files else {}
    return Clip(arrays, meta)


def save_clip(path: str | Path, clip: Clip, compress: bool = True) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.npz")
    (np.savez_compressed if compress else np.savez)(tmp, meta=np.array(json.dumps(clip.meta)), **clip.arrays)
    tmp.replace(path)
    return path


def _interpolate_missing(landmarks: np.ndarray, found: np.ndarray) -> np.ndarray:
    if found.all() or not found.any():
        return landmarks
    idx = np.arange(len(found))
    flat = landmarks.reshape(len(found), -1)
    out = np.stack([np.interp(idx, idx[found], flat[found, j]) for j in range(flat.shape[1])], 1)
    return out.reshape(landmarks.shape).astype(np.float32)


def _resize(frames: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    h, w = frames.shape[1:3]
    if not max_side or max(h, w) <= max_side:
        return frames, 1.0
    import cv2

    s = max_side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]), s


def track_landmarks(video: str | Path, face: Any, *, max_side: int | None = None,
                    store_frames: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Run the FaceAnalyzer on every frame -> arrays (landmarks, boxes, face_found, frames) + meta."""
    from emoavatar.errors import FaceNotFoundError
    from emoavatar.media import read_video, video_info

    info = video_info(video)
    lms, boxes, found, kept = [], [], [], []
    scale = 1.0
    for chunk in read_video(video):
        small, scale = _resize(chunk, max_side)
        for img in small:
            faces = face.detect(img)
            if faces:
                f = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
                lms.append(np.asarray(f.landmarks, np.float32))
                boxes.append(np.asarray(f.box, np.float32))
                found.append(True)
            else:
                lms.append(np.zeros((68, 2), np.float32))
                boxes.append(np.zeros(4, np.float32))
                found.append(False)
        if store_frames:
            kept.append(small)
    found_a = np.asarray(found, bool)
    if not found_a.any():
        raise FaceNotFoundError(f"no face found in any frame of {video}", fix="use clips of one visible face")
    landmarks = _interpolate_missing(np.stack(lms), found_a)
    arrays = {"landmarks": landmarks, "boxes": np.stack(boxes), "face_found": found_a,
              "mar": mouth_aspect_ratio(landmarks)}
    if store_frames:
        arrays["frames"] = np.concatenate(kept).astype(np.uint8)
    h, w = (arrays["frames"].shape[1:3] if store_frames else (round(info.height * scale), round(info.width * scale)))
    meta = {"video": str(video), "fps": info.fps, "size": [int(h), int(w)], "scale": scale}
    return arrays, meta


def encode_audio(audio_path: str | Path, encoders: Sequence[Any], n_frames: int, fps: float) -> dict[str, np.ndarray]:
    """Run each AudioEncoder on the clip's audio -> ``{"feat_<kind>": [n_frames, D]}``."""
    from emoavatar.interfaces import RunContext
    from emoavatar.types import Audio

    audio = Audio.load(audio_path)
    out = {}
    for enc in encoders:
        feats = enc.encode(audio, RunContext(fps=fps, n_frames=n_frames, seed=0))
        out[f"feat_{feats.kind}"] = feats.values.astype(np.float32)
    return out


def preprocess_clip(record: Any, face: Any, encoders: Sequence[Any] = (), *, fps: float | None = None,
                    max_side: int | None = None, store_frames: bool = True) -> Clip:
    """A dataset record (see :mod:`.datasets`) -> :class:`Clip` without α/pose (see :func:`apply_basis`)."""
    arrays, meta = track_landmarks(record.video, face, max_side=max_side, store_frames=store_frames)
    fps = fps or meta["fps"]
    audio = record.audio or record.video
    if encoders:
        arrays.update(encode_audio(audio, encoders, len(arrays["landmarks"]), fps))
    meta.update(audio=str(audio), fps=fps, emotion=record.emotion, intensity=record.intensity,
                identity=record.identity, sentence=record.sentence,
                feature_kinds=sorted(k[5:] for k in arrays if k.startswith("feat_")))
    return Clip(arrays, meta)


def apply_basis(clip: Clip, basis: ExpressionBasis, basis_ref: str) -> Clip:
    """Add ``alpha``/``pose`` to a clip (``basis_ref`` = the basis path or name kept in meta)."""
    frames = clip.arrays.get("frames")
    code = basis.encode(clip["landmarks"], frames)
    clip.arrays["alpha"], clip.arrays["pose"] = code.alpha, code.pose
    clip.meta["basis"] = basis_ref
    return clip


def preprocess_subject(records: Iterable[Any], out_dir: str | Path, face: Any, encoders: Sequence[Any] = (), *,
                       basis: str | ExpressionBasis = "landmark-pca", basis_options: dict | None = None,
                       fps: float | None = None, max_side: int | None = None, store_frames: bool = True,
                       progress: Any = None) -> list[Path]:
    """All clips of one identity: landmarks + features, fit the basis (if unfitted), then α and pose.

    Writes ``out_dir/<identity>/<emotion>_<intensity>_<sentence>.npz`` and the fitted basis as
    ``out_dir/<identity>/basis.npz`` (+ ``.json``) when it was fitted here.
    """
    out_dir = Path(out_dir)
    clips = []
    for rec in records:
        clips.append(preprocess_clip(rec, face, encoders, fps=fps, max_side=max_side, store_frames=store_frames))
        if progress:
            progress(f"tracked {rec.video} ({len(clips[-1]['landmarks'])} frames)")
    if not clips:
        return []
    identity = str(clips[0].meta["identity"])
    if isinstance(basis, str):
        basis_obj = load_basis(basis) if Path(basis).exists() else create_basis(basis, **(basis_options or {}))
        ref = basis
    else:
        basis_obj, ref = basis, basis.name
    if basis_obj.name == "landmark-pca" and getattr(basis_obj, "components", None) is None:
        basis_obj.fit(np.concatenate([c["landmarks"][c["face_found"]] for c in clips]))
        ref = str(basis_obj.save(out_dir / identity / "basis.npz"))
    paths = []
    for clip in clips:
        apply_basis(clip, basis_obj, ref)
        m = clip.meta
        paths.append(save_clip(out_dir / identity / f"{m['emotion']}_{m['intensity']}_{m['sentence']}.npz", clip))
    return paths


def _parse_component(text: str) -> tuple[str, dict]:
    """``NAME`` or ``NAME={"json": "options"}``."""
    name, _, opts = text.partition("=")
    return name.strip(), (json.loads(opts) if opts.strip() else {})


def main(argv: list[str] | None = None) -> int:
    """``emoavatar train emohead-preprocess --root DATA --out CLIPS [--dataset mead] [--encoder hf-speech=...]``"""
    import sys

    from emoavatar.registry import get_registry
    from emoavatar.training import trainer_parser

    from .datasets import read_dataset

    p = trainer_parser("emohead-preprocess", __doc__, out="output folder: OUT/<identity>/<emotion>_<level>_<sentence>.npz")
    p.add_argument("--root", required=True, help="dataset folder (or a CSV manifest)")
    p.add_argument("--dataset", default="auto", help="auto | mead | crema-d | folder | manifest")
    p.add_argument("--identity", action="append", help="only these identities (repeatable)")
    p.add_argument("--emotion", action="append", help="only these emotions (repeatable)")
    p.add_argument("--encoder", action="append", default=[],
                   help='audio encoder, NAME or NAME={"json": "options"} (repeatable), e.g. hf-speech')
    p.add_argument("--face", default="dlib", help="FaceAnalyzer plugin (default dlib)")
    p.add_argument("--basis", default="landmark-pca", help="basis name (fitted per identity) or a saved basis path")
    p.add_argument("--basis-options", default="{}", help="JSON options of a new basis (e.g. 3ddfa weights)")
    p.add_argument("--fps", type=float, default=None, help="feature frame rate (default: the video's)")
    p.add_argument("--max-side", type=int, default=None, help="downscale frames so the longer side fits")
    p.add_argument("--no-frames", action="store_true", help="do not store frames (the NeRF needs them)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    kw = {"emotions": set(args.emotion)} if args.emotion and args.dataset != "manifest" else {}
    records = [r for r in read_dataset(args.dataset, args.root, **kw)
               if not args.identity or r.identity in args.identity]
    reg = get_registry()
    face = reg.create("faces", args.face)
    encoders = [reg.create("encoders", *_parse_component(e)) for e in args.encoder]
    by_identity: dict[str, list] = {}
    for r in records:
        by_identity.setdefault(r.identity, []).append(r)
    total = 0
    for identity, recs in sorted(by_identity.items()):
        paths = preprocess_subject(recs, args.out, face, encoders, basis=args.basis,
                                   basis_options=json.loads(args.basis_options), fps=args.fps,
                                   max_side=args.max_side, store_frames=not args.no_frames, progress=print)
        total += len(paths)
        print(f"{identity}: {len(paths)} clips -> {Path(args.out) / identity}")
    print(f"preprocessed {total} clips")
    return 0
