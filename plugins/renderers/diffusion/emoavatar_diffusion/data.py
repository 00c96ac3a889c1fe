"""Training clips: one ``.npz`` per talking clip, already head-cropped (square).

Keys: ``frames`` uint8 ``[N, S, S, 3]``, ``audio`` float ``[N, D]`` per-frame audio features
(wav2vec2 hidden states at the video fps; D = blocks x channels of the backbone), ``landmarks`` float
``[68, 2]`` of the first frame in crop coordinates normalised to [0, 1], ``gates`` float ``[N, 6]``
(expert gates over the six basic emotions; one-hot for a labelled clip, uniform for neutral), and
optionally ``reference`` uint8 ``[S, S, 3]``: the identity image (e.g. a neutral photo of the person;
default: the first frame), ``frame_landmarks`` float ``[N, 68, 2]``: every frame's landmarks (same
coordinates; e.g. tracked with :func:`emoavatar.tracking.track_faces`), from which the face-locator
input and the face / lip masks are drawn per frame so that the model is told where the head is (clips
without them use the first frame's ``landmarks`` for every frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from emoavatar.errors import ConfigError


@dataclass
class Clip:
    frames: np.ndarray
    audio: np.ndarray
    landmarks: np.ndarray
    gates: np.ndarray
    name: str = ""
    reference: np.ndarray | None = None
    frame_landmarks: np.ndarray | None = None

    @property
    def ref_image(self) -> np.ndarray:
        return self.frames[0] if self.reference is None else self.reference


def save_clip(path: str | Path, frames: np.ndarray, audio: np.ndarray, landmarks: np.ndarray, gates: np.ndarray,
              reference: np.ndarray | None = None, frame_landmarks: np.ndarray | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if len(frames) != len(audio) or len(frames) != len(gates):
        raise ValueError(f"clip lengths differ: frames {len(frames)}, audio {len(audio)}, gates {len(gates)}")
    if frame_landmarks is not None and np.shape(frame_landmarks) != (len(frames), 68, 2):
        raise ValueError(f"frame_landmarks must be [{len(frames)}, 68, 2], got {np.shape(frame_landmarks)}")
    extra = {} if reference is None else {"reference": np.asarray(reference, np.uint8)}
    if frame_landmarks is not None:
        extra["frame_landmarks"] = np.asarray(frame_landmarks, np.float32)
    np.savez_compressed(path, frames=np.asarray(frames, np.uint8), audio=np.asarray(audio, np.float32),
                        landmarks=np.asarray(landmarks, np.float32), gates=np.asarray(gates, np.float32), **extra)
    return path


def load_clips(paths: list[str]) -> list[Clip]:
    files: list[Path] = []
    for p in map(Path, paths):
        files += sorted(p.glob("*.npz")) if p.is_dir() else [p]
    if not files:
        raise ConfigError("no training clips found", fix="give .npz clip files or folders of them in `data:`")
    clips = []
    for f in files:
        if not f.is_file():
            raise ConfigError(f"training clip {f} not found", fix="check `data:` paths")
        z = np.load(f)
        missing = {"frames", "audio", "landmarks", "gates"} - set(z.files)
        if missing:
            raise ConfigError(f"{f}: clip lacks {sorted(missing)}", fix="write clips with emoavatar_diffusion.data.save_clip")
        ref = z["reference"] if "reference" in z.files else None
        per_frame = z["frame_landmarks"] if "frame_landmarks" in z.files else None
        if per_frame is not None and per_frame.shape != (len(z["frames"]), 68, 2):
            raise ConfigError(f"{f}: frame_landmarks {per_frame.shape} do not match {len(z['frames'])} frames",
                              fix="write clips with emoavatar_diffusion.data.save_clip")
        clips.append(Clip(z["frames"], z["audio"], z["landmarks"], z["gates"], f.stem, ref, per_frame))
    return clips
