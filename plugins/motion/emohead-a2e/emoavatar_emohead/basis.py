"""The expression-parameter space α shared by every EmoHead part (audio-expression module,
hyperplanes, NeRF). EmoHead uses 3DDFA's 10 expression coefficients (paper §III-A, Table V,
m = 10); this module puts any such space behind one small interface.

API (all arrays numpy float32; T frames, k = ``basis.k`` expression parameters)::

    from emoavatar_emohead.basis import create_basis, load_basis

    basis = create_basis("landmark-pca", k=10)      # or create_basis("3ddfa", weights="mb1_120x120.pth")
    basis.fit(landmarks)                            # [N, 68, 2] pixel landmarks of ONE subject (pca only)
    code = basis.encode(landmarks, frames=None)     # -> BasisCode(alpha [T, k], pose [T, 6])
    lm = basis.decode(code.alpha, code.pose)        # -> [T, 68, 2] (pixels; normalised frame if pose is None)
    basis.save("subject.basis.npz")                 # arrays (.npz or .safetensors) + "subject.basis.json"
    basis = load_basis("subject.basis.npz")         # path (or a registered name for weight-free bases)

Pose ``[T, 6]`` = (pitch, yaw, roll) in radians, (tx, ty) in pixels, scale; image points are
``scale * R(pitch, yaw, roll)[:2] @ p + (tx, ty)`` for model points p. The 2-D landmark basis only
recovers roll, translation and scale (pitch = yaw = 0).

Bases:

- ``landmark-pca`` (weight-free): generalized-Procrustes alignment of the subject's landmarks on
  rigid points (nose and eyes) to their mean shape, then PCA of the aligned shapes; α is whitened
  (unit variance over the training frames), like a linear expression model. Fitted per subject.
- ``3ddfa``: 3DDFA_V2's MobileNet-v1 regressor (face crop 120x120 -> 62 params: 12 pose,
  40 shape, 10 expression). The user supplies 3DDFA_V2's published files: weights
  (``mb1_120x120.pth`` as published, or safetensors), the parameter mean/std pickle and, to decode,
  the BFM pickle (read without running pickled code); see :mod:`.tddfa`.

Motion space ``exp3dmm10``: ``Motion.tracks = {"exp3dmm10": alpha [T, k], "pose": [T, 6]}``,
``Motion.meta["basis"]`` = basis path or name. New bases: :func:`register_basis`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from emoavatar.errors import ConfigError, WeightsNotFoundError
from emoavatar.types import LEFT_EYE, NOSE, RIGHT_EYE

SPACE = "exp3dmm10"
#: Landmarks that move little with expression: nose bridge/tip and the eyes (pose is fitted on them).
RIGID_POINTS = np.r_[np.arange(68)[NOSE], np.arange(68)[RIGHT_EYE], np.arange(68)[LEFT_EYE]]


@dataclass
class BasisCode:
    """Expression parameters ``alpha [T, k]`` and rigid ``pose [T, 6]`` of T frames."""

    alpha: np.ndarray
    pose: np.ndarray


class ExpressionBasis(ABC):
    """Landmarks (and frames) <-> expression parameters α. Subclasses set ``name``."""

    name: ClassVar[str] = ""

    def __init__(self, k: int = 10) -> None:
        self.k = int(k)

    def fit(self, landmarks: np.ndarray) -> ExpressionBasis:
        """Fit subject-specific parts from ``[N, 68, 2]`` landmarks (no-op for pretrained bases)."""
        return self

    @abstractmethod
    def encode(self, landmarks: np.ndarray, frames: np.ndarray | None = None) -> BasisCode:
        """``[T, 68, 2]`` landmarks (and uint8 RGB ``[T, H, W, 3]`` frames if the basis needs them)."""

    @abstractmethod
    def decode(self, alpha: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        """``[T, k]`` -> ``[T, 68, 2]`` landmarks (image pixels when ``pose`` is given)."""

    # -- persistence: arrays in .npz/.safetensors, everything else in a JSON sidecar ---------
    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays to save and JSON-able config (``{"options": {...}}`` are constructor kwargs)."""
        return {}, {}

    def set_state(self, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> None:
        """Restore what :meth:`state` returned (default: nothing beyond the options)."""
        del arrays, config

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.npz or .safetensors) and ``<path stem>.json``; returns ``path``."""
        path = Path(path)
        arrays, config = self.state()
        path.parent.mkdir(parents=True, exist_ok=True)
        _save_arrays(path, {k: np.ascontiguousarray(v, np.float32) for k, v in arrays.items()})
        _sidecar(path).write_text(json.dumps({"basis": self.name, "k": self.k, **config}, indent=2))
        return path


_BASES: dict[str, type[ExpressionBasis]] = {}


def register_basis(cls: type[ExpressionBasis]) -> type[ExpressionBasis]:
    """Class decorator: make ``cls.name`` available to :func:`create_basis` / :func:`load_basis`."""
    _BASES[cls.name] = cls
    return cls


def available_bases() -> tuple[str, ...]:
    return tuple(sorted(_BASES))


def create_basis(name: str, **options: Any) -> ExpressionBasis:
    """A new, unfitted basis: ``create_basis("landmark-pca", k=10)``."""
    if name not in _BASES:
        raise ConfigError(f"unknown expression basis {name!r}", fix=f"use one of {', '.join(available_bases())}")
    return _BASES[name](**options)


def load_basis(path_or_name: str | Path) -> ExpressionBasis:
    """A saved basis (``.npz`` / ``.safetensors`` / its ``.json``), or a registered weight-free name."""
    if isinstance(path_or_name, str) and path_or_name in _BASES:
        return create_basis(path_or_name)
    path = Path(path_or_name)
    if path.suffix == ".json":
        config = json.loads(path.read_text())
        arrays_path = next((p for p in (path.with_suffix(".npz"), path.with_suffix(".safetensors")) if p.exists()), None)
    else:
        if not path.exists():
            raise WeightsNotFoundError(f"expression basis file {path} not found",
                                       fix="fit one with `emoavatar train emohead-a2e --fit-basis` or give its path")
        arrays_path = path
        side = _sidecar(path)
        if not side.exists():
            raise WeightsNotFoundError(f"expression basis {path} lacks its config {side}",
                                       fix="keep the .json written next to it by basis.save()")
        config = json.loads(side.read_text())
    arrays = _load_arrays(arrays_path) if arrays_path is not None else {}
    name = config.pop("basis")
    basis = _BASES[name](k=config.pop("k"), **config.pop("options", {}))
    basis.set_state(arrays, config)
    return basis


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    if path.suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file(arrays, str(path))
    elif path.suffix == ".npz":
        np.savez(path, **arrays)
    else:
        raise ConfigError(f"cannot save basis arrays as {path.suffix!r}", fix="use a .npz or .safetensors path")


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        return dict(load_file(str(path)))
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# -- 2-D similarity (Umeyama without reflection) --------------------------------------------
def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Scale s, angle θ and translation t minimising ‖s R(θ) src + t - dst‖ over ``[P, 2]`` points."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / len(src)
    u, sv, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ np.diag([1.0, d]) @ vt
    var = (a**2).sum() / len(src)
    s = float((sv[0] + d * sv[1]) / max(var, 1e-12))
    t = mu_d - s * rot @ mu_s
    return s, float(np.arctan2(rot[1, 0], rot[0, 0])), t


def _rot(theta: np.ndarray) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def apply_pose(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Model-frame ``[T, P, 2|3]`` points -> image pixels with ``pose [T, 6]``."""
    pitch, yaw, roll, tx, ty, scale = (pose[:, i] for i in range(6))
    if points.shape[-1] == 2:
        rot = _rot(roll)
    else:
        rot = _euler(pitch, yaw, roll)[:, :2, :]
    out = scale[:, None, None] * np.einsum("tij,tpj->tpi", rot, points)
    return (out + np.stack([tx, ty], -1)[:, None, :]).astype(np.float32)


def _euler(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """R = Rz(roll) Ry(yaw) Rx(pitch), ``[T, 3, 3]``."""
    z, o = np.zeros_like(pitch), np.ones_like(pitch)
    cx, sx, cy, sy, cz, sz = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw), np.cos(roll), np.sin(roll)
    rx = np.stack([o, z, z, z, cx, -sx, z, sx, cx], -1).reshape(-1, 3, 3)
    ry = np.stack([cy, z, sy, z, o, z, -sy, z, cy], -1).reshape(-1, 3, 3)
    rz = np.stack([cz, -sz, z, sz, cz, z, z, z, o], -1).reshape(-1, 3, 3)
    return rz @ ry @ rx


@register_basis
class LandmarkPCABasis(ExpressionBasis):
    """Weight-free linear expression model from a subject's own 68-point landmark track."""

    name = "landmark-pca"

    def __init__(self, k: int = 10, iterations: int = 5) -> None:
        super().__init__(k)
        self.iterations = int(iterations)
        self.mean_shape: np.ndarray | None = None  # [68, 2], centred, unit RMS radius
        self.components: np.ndarray | None = None  # [k, 136], orthonormal rows
        self.std: np.ndarray | None = None  # [k], std of each component over the fit frames

    def _align(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rigidly align each frame onto the mean shape -> (aligned [T,68,2], pose [T,6])."""
        assert self.mean_shape is not None
        aligned = np.empty_like(landmarks, dtype=np.float64)
        pose = np.zeros((len(landmarks), 6), np.float64)
        ref = self.mean_shape[RIGID_POINTS]
        for i, lm in enumerate(landmarks.astype(np.float64)):
            s, th, t = similarity(ref, lm[RIGID_POINTS])  # model -> image
            pose[i] = (0.0, 0.0, th, t[0], t[1], s)
            aligned[i] = (_rot(np.array(-th)) @ (lm - t).T).T / s
        return aligned, pose

    def fit(self, landmarks: np.ndarray) -> LandmarkPCABasis:
        lm = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
        if len(lm) < 2:
            raise ValueError("landmark-pca needs at least 2 frames to fit")
        mean = lm[0] - lm[0].mean(0)
        for _ in range(self.iterations):  # generalized Procrustes
            self.mean_shape = mean / np.sqrt((mean**2).sum(1).mean())
            aligned, _ = self._align(lm)
            mean = aligned.mean(0)
            mean = mean - mean.mean(0)
        self.mean_shape = mean / np.sqrt((mean**2).sum(1).mean())
        aligned, _ = self._align(lm)
        x = aligned.reshape(len(lm), -1) - self.mean_shape.reshape(1, -1)
        _, sv, vt = np.linalg.svd(x, full_matrices=False)
        k = min(self.k, vt.shape[0])
        comps = vt[:k]
        flip = np.sign(comps[np.arange(k), np.abs(comps).argmax(1)])  # deterministic sign
        self.components = comps * flip[:, None]
        self.std = np.maximum(sv[:k] / np.sqrt(max(len(lm) - 1, 1)), 1e-8)
        if k < self.k:  # fewer frames than k: pad with zero components
            self.components = np.vstack([self.components, np.zeros((self.k - k, x.shape[1]))])
            self.std = np.r_[self.std, np.ones(self.k - k)]
        return self

    def _check(self) -> None:
        if self.components is None:
            raise ValueError("landmark-pca basis is not fitted: call fit(landmarks) or load a saved basis")

    def encode(self, landmarks: np.ndarray, frames: np.ndarray | None = None) -> BasisCode:
        self._check()
        lm = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
        aligned, pose = self._align(lm)
        x = aligned.reshape(len(lm), -1) - self.mean_shape.reshape(1, -1)
        alpha = (x @ self.components.T) / self.std
        return BasisCode(alpha.astype(np.float32), pose.astype(np.float32))

    def decode(self, alpha: np.ndarray, pose: np.ndarray | None = None) -> np.ndarray:
        self._check()
        a = np.asarray(alpha, np.float64).reshape(-1, self.k)
        shapes = self.mean_shape[None] + ((a * self.std) @ self.components).reshape(-1, 68, 2)
        if pose is None:
            return shapes.astype(np.float32)
        return apply_pose(shapes, np.asarray(pose, np.float64).reshape(-1, 6))

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self._check()
        return ({"mean_shape": self.mean_shape, "components": self.components, "std": self.std},
                {"options": {"iterations": self.iterations}})

    def set_state(self, arrays: dict[str, np.ndarray], config: dict[str, Any]) -> None:
        self.mean_shape = arrays["mean_shape"].astype(np.float64)
        self.components = arrays["components"].astype(np.float64)
        self.std = arrays["std"].astype(np.float64)


# 3DDFA basis lives in its own module (torch); registered here so load_basis finds it lazily.
class _LazyTDDFA:
    name = "3ddfa"

    def __new__(cls, **options: Any) -> ExpressionBasis:  # type: ignore[misc]
        from .tddfa import TDDFABasis

        return TDDFABasis(**options)


_BASES["3ddfa"] = _LazyTDDFA  # type: ignore[assignment]


def mouth_aspect_ratio(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip opening / mouth width per frame (``[T, 68, 2]`` -> ``[T]``), Appendix B's MAR."""
    lm = np.asarray(landmarks, np.float64).reshape(-1, 68, 2)
    vertical = (np.linalg.norm(lm[:, 61] - lm[:, 67], axis=1) + np.linalg.norm(lm[:, 62] - lm[:, 66], axis=1)
                + np.linalg.norm(lm[:, 63] - lm[:, 65], axis=1)) / 3.0
    width = np.linalg.norm(lm[:, 60] - lm[:, 64], axis=1)
    return (vertical / np.maximum(width, 1e-6)).astype(np.float32)


def weights_missing(path: str | Path | None, what: str, fix: str) -> WeightsNotFoundError:
    """A :class:`WeightsNotFoundError` naming the missing file."""
    return WeightsNotFoundError(f"{what} not found: {path}", fix=fix)
