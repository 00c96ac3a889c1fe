"""Training data for the NeRF: preprocessed clips (the documented clip format, :mod:`.clips`) or
videos, resized to the training resolution, plus a synthetic talking clip for tests and benchmarks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from emoavatar.errors import ConfigError, MediaError

from .clips import is_clip_file, load_clip, preprocess_videos

log = logging.getLogger(__name__)

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".flv", ".webm")


@dataclass
class TrainData:
    """Frames uint8 ``[T, H, W, 3]``, α ``[T, k]``, pose ``[T, 6]`` (pixels of these frames),
    optional landmarks ``[T, 68, 2]``, per-frame emotion tags, face/mouth boxes ``[T, 4]``."""

    frames: np.ndarray
    alpha: np.ndarray
    pose: np.ndarray
    landmarks: np.ndarray | None = None
    emotions: list[str] = field(default_factory=list)
    fps: float = 25.0
    face_box: np.ndarray | None = None
    mouth_box: np.ndarray | None = None
    basis: str | None = None  # the expression basis the α came from (clip meta "basis")

    def __post_init__(self) -> None:
        t = len(self.frames)
        if len(self.alpha) != t or len(self.pose) != t:
            raise ConfigError(f"nerf data: {t} frames but {len(self.alpha)} α rows and {len(self.pose)} poses")
        if not self.emotions:
            self.emotions = ["neutral"] * t
        if self.face_box is None or self.mouth_box is None:
            face, mouth = landmark_boxes(self.landmarks, *self.frames.shape[1:3], n=t)
            self.face_box = face if self.face_box is None else self.face_box
            self.mouth_box = mouth if self.mouth_box is None else self.mouth_box

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    def subset(self, idx: np.ndarray) -> TrainData:
        return TrainData(self.frames[idx], self.alpha[idx], self.pose[idx],
                         None if self.landmarks is None else self.landmarks[idx],
                         [self.emotions[i] for i in idx], self.fps, self.face_box[idx], self.mouth_box[idx],
                         self.basis)


def landmark_boxes(landmarks: np.ndarray | None, height: int, width: int, n: int = 1
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Face and mouth boxes ``[T, 4]`` (x0, y0, x1, y1, inclusive pixels) from landmarks.

    The face box spans the landmarks plus the forehead; the mouth box is the lips, enlarged.
    Without landmarks both are the whole image.
    """
    if landmarks is None:
        full = np.repeat(np.array([[0, 0, width - 1, height - 1]]), n, 0)
        return full, full.copy()

    def box(pts: np.ndarray, grow_x: float, grow_top: float, grow_bottom: float) -> np.ndarray:
        lo, hi = pts.min(1), pts.max(1)
        size = hi - lo
        b = np.stack([lo[:, 0] - grow_x * size[:, 0], lo[:, 1] - grow_top * size[:, 1],
                      hi[:, 0] + grow_x * size[:, 0], hi[:, 1] + grow_bottom * size[:, 1]], 1)
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, width - 1)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, height - 1)
        return np.round(b).astype(np.int64)

    return box(landmarks, 0.1, 0.35, 0.1), box(landmarks[:, 48:68], 0.3, 0.4, 0.6)


def pose_from_landmarks(landmarks: np.ndarray) -> np.ndarray:
    """Fallback pose ``[T, 6]`` when a clip has none: no rotation, centroid and RMS radius."""
    c = landmarks.mean(1)
    r = np.sqrt(((landmarks - c[:, None]) ** 2).sum(-1).mean(1))
    z = np.zeros(len(landmarks))
    return np.stack([z, z, z, c[:, 0], c[:, 1], r], 1).astype(np.float32)


def resize_clip(frames: np.ndarray, landmarks: np.ndarray | None, pose: np.ndarray, height: int
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Resize frames to ``height`` (aspect kept) and move landmarks/pose to the new pixels."""
    import cv2

    h, w = frames.shape[1:3]
    if h == height:
        return frames, landmarks, pose
    width = max(1, round(w * height / h))
    k = np.array([width / w, height / h], np.float32)
    interp = cv2.INTER_AREA if height < h else cv2.INTER_LINEAR
    frames = np.stack([cv2.resize(f, (width, height), interpolation=interp) for f in frames])
    if landmarks is not None:
        landmarks = (landmarks + 0.5) * k - 0.5
    pose = pose.copy()
    pose[:, 3:5] = (pose[:, 3:5] + 0.5) * k - 0.5
    pose[:, 5] *= k[0]
    return frames, landmarks, pose


def _npz_paths(items: list[str]) -> tuple[list[Path], list[Path]]:
    npz, videos = [], []
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            npz += sorted(q for q in p.rglob("*.npz") if is_clip_file(q))
        elif p.suffix == ".npz" and p.is_file():
            npz.append(p)
        elif p.suffix.lower() in VIDEO_EXTS and p.is_file():
            videos.append(p)
        else:
            raise MediaError(f"nerf data: {p} is not a preprocessed .npz, a folder of them, or a video",
                             fix="give `data:` a preprocessed clip .npz, a folder of them or a video")
    return npz, videos


def load_training_data(items: list[str], height: int, *, work_dir: Path | None = None, face: str = "dlib",
                       basis: str = "landmark-pca", emotion: str | None = None) -> TrainData:
    """Concatenate clips (npz, folders of npz, or videos) of one person at ``height`` pixels."""
    npz, videos = _npz_paths(items)
    if videos:
        npz += preprocess_videos(videos, (work_dir or Path(".")) / "preprocessed", face, basis, emotion,
                                 max_side=max(height * 2, 256))
    if not npz:
        raise MediaError("nerf data: no clips found", fix="point `data:` at preprocessed .npz clips or videos")
    parts: dict[str, list] = {"frames": [], "alpha": [], "pose": [], "landmarks": [], "emotions": []}
    fps, basis = 25.0, None
    for path in npz:
        arrays, meta = load_clip(path)
        if "frames" not in arrays or "alpha" not in arrays:
            raise MediaError(f"nerf data: {path} lacks frames or alpha",
                             fix="preprocess with store_frames=True and apply an expression basis")
        lm = arrays.get("landmarks")
        pose = arrays.get("pose")
        pose = pose_from_landmarks(lm) if pose is None else pose.astype(np.float32)
        frames, lm, pose = resize_clip(arrays["frames"], lm, pose, height)
        parts["frames"].append(frames)
        parts["alpha"].append(arrays["alpha"].astype(np.float32))
        parts["pose"].append(pose)
        parts["landmarks"].append(lm)
        parts["emotions"] += [emotion or meta.get("emotion") or "neutral"] * len(frames)
        fps = float(meta.get("fps", fps))
        basis = basis or meta.get("basis")
    sizes = {f.shape[1:3] for f in parts["frames"]}
    if len(sizes) > 1:
        raise ConfigError(f"nerf data: clips have different frame sizes {sorted(sizes)}",
                          fix="train on clips of one camera setup (same aspect ratio)")
    lms = None if any(x is None for x in parts["landmarks"]) else np.concatenate(parts["landmarks"])
    return TrainData(np.concatenate(parts["frames"]), np.concatenate(parts["alpha"]), np.concatenate(parts["pose"]),
                     lms, parts["emotions"], fps, basis=basis)


def synthetic_clip(image: np.ndarray, landmarks: np.ndarray, n_frames: int = 40, size: int = 64,
                   seed: int = 0, jaw: float = 0.14, smile: float = 0.08) -> TrainData:
    """A talking clip with known α from one portrait: the jaw drops by ``α0`` and the mouth
    widens by ``α1`` (smooth warps around the mouth, in units of the face size); α2..9 = 0.

    Frames are ``size x size``; landmarks and pose follow the warp.
    """
    import cv2

    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)
    open_ = np.clip(0.5 + 0.5 * np.sin(t * 0.9 + rng.uniform(0, 6)) + rng.normal(0, 0.1, n_frames), 0, 1)
    wide = np.clip(0.5 + 0.5 * np.sin(t * 0.37 + rng.uniform(0, 6)), 0, 1)
    alpha = np.zeros((n_frames, 10), np.float32)
    alpha[:, 0], alpha[:, 1] = open_, wide
    h, w = image.shape[:2]
    mouth = landmarks[48:68]
    mc = mouth.mean(0)
    face = float(landmarks[:, 1].max() - landmarks[:, 1].min())
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    def displacement(px: np.ndarray, py: np.ndarray, a0: float, a1: float) -> tuple[np.ndarray, np.ndarray]:
        below = np.clip((py - mc[1] + 0.05 * face) / (0.1 * face), 0, 1)  # 0 above the lips, 1 below
        fall = np.exp(-(((px - mc[0]) / (0.45 * face)) ** 2 + ((py - mc[1] - 0.2 * face) / (0.5 * face)) ** 2))
        dy = a0 * jaw * face * below * fall
        near = np.exp(-(((px - mc[0]) / (0.35 * face)) ** 2 + ((py - mc[1]) / (0.15 * face)) ** 2))
        dx = a1 * smile * (px - mc[0]) * near
        return dx, dy

    frames, lms = [], []
    for a0, a1 in alpha[:, :2]:
        dx, dy = displacement(xx, yy, float(a0), float(a1))
        warped = cv2.remap(image, xx - dx, yy - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        frames.append(cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA))
        ldx, ldy = displacement(landmarks[:, 0], landmarks[:, 1], float(a0), float(a1))
        lms.append(landmarks + np.stack([ldx, ldy], 1))
    k = np.float32(size / w)
    lm = (np.stack(lms).astype(np.float32) + 0.5) * k - 0.5
    pose = np.repeat(pose_from_landmarks(lm[:1]), n_frames, 0)  # the rigid head does not move
    return TrainData(np.stack(frames), alpha, pose, lm, ["neutral"] * n_frames, 25.0)
