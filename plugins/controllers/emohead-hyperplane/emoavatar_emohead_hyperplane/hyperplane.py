"""Emotion hyperplanes in the expression space (EmoHead §III-B, Appendix B).

One linear SVM per emotion (one-vs-rest) on expression parameters α, trained on frames balanced
over five mouth-aspect-ratio groups (equal-width bins between the min and max MAR). Refinement
moves α along the unit normal of the requested emotion: α̂ = α̃ + τ ŵ_z (eq. 9), and switching
ŵ between emotions mid-utterance follows an EmotionState timeline (Fig. 4, Appendix B (3)).

Files (the documented format that ``emohead-a2e`` also reads, without importing this package):
``hyperplanes.npz`` (or ``.safetensors``) holds ``w [E, k]`` and ``b [E]`` (float32); the sidecar
``hyperplanes.json`` holds ``{"emotions": [...], "basis": ..., "k": k, "mar_groups": 5, ...}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from emoavatar.emotions import EMOTIONS, canonical_emotion
from emoavatar.errors import ConfigError, WeightsNotFoundError


def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    if path.suffix == ".safetensors":
        from safetensors.numpy import save_file

        save_file(arrays, str(path))
    elif path.suffix == ".npz":
        np.savez(path, **arrays)
    else:
        raise ConfigError(f"cannot save hyperplanes as {path.suffix!r}", fix="use a .npz or .safetensors path")


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        return dict(load_file(str(path)))
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@dataclass
class Hyperplanes:
    """``w [E, k]``, ``b [E]`` for ``emotions`` (canonical names) in the space of ``basis``."""

    emotions: tuple[str, ...]
    w: np.ndarray
    b: np.ndarray
    basis: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return int(self.w.shape[1])

    @property
    def unit(self) -> np.ndarray:
        """Unit normals ŵ_z ``[E, k]``."""
        return self.w / np.maximum(np.linalg.norm(self.w, axis=1, keepdims=True), 1e-12)

    def decision(self, alpha: np.ndarray) -> np.ndarray:
        """Signed SVM scores ``[T, E]`` (positive = on the emotion's side)."""
        return np.asarray(alpha, np.float32).reshape(-1, self.k) @ self.w.T + self.b

    def vocabulary_matrix(self, vocabulary: tuple[str, ...] = EMOTIONS) -> np.ndarray:
        """Unit normals laid out over ``vocabulary`` ``[len(vocabulary), k]`` (zeros where missing)."""
        out = np.zeros((len(vocabulary), self.k), np.float32)
        u = self.unit
        for i, name in enumerate(self.emotions):
            if name in vocabulary:
                out[vocabulary.index(name)] = u[i]
        return out

    def direction(self, weights: np.ndarray, vocabulary: tuple[str, ...] = EMOTIONS) -> np.ndarray:
        """Per-frame w_z ``[T, k]`` = Σ_e weights[t, e] ŵ_e, following an EmotionState's weights.

        A timeline that switches emotion switches ŵ at that frame (blended over the transition).
        """
        return np.asarray(weights, np.float32) @ self.vocabulary_matrix(vocabulary)

    def refine(self, alpha: np.ndarray, emotion: str | np.ndarray, strength: float | np.ndarray = 1.0,
               vocabulary: tuple[str, ...] = EMOTIONS) -> np.ndarray:
        """α + strength · w_z (eq. 9 with τ = strength). ``emotion``: a label or weights ``[T, E]``."""
        alpha = np.asarray(alpha, np.float32).reshape(-1, self.k)
        if isinstance(emotion, str):
            weights = np.zeros((len(alpha), len(vocabulary)), np.float32)
            weights[:, vocabulary.index(canonical_emotion(emotion))] = 1.0
        else:
            weights = np.asarray(emotion, np.float32)
        strength = np.asarray(strength, np.float32).reshape(-1, 1) if np.ndim(strength) else np.float32(strength)
        return alpha + strength * self.direction(weights, vocabulary)

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _save_arrays(path, {"w": np.ascontiguousarray(self.w, np.float32), "b": np.ascontiguousarray(self.b, np.float32)})
        meta = {"emotions": list(self.emotions), "basis": self.basis, "k": self.k, **self.info}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Hyperplanes:
        path = Path(path)
        side = path.with_suffix(".json")
        if not path.is_file() or not side.is_file():
            missing = path if not path.is_file() else side
            raise WeightsNotFoundError(f"emotion hyperplanes file {missing} not found",
                                       fix="train them with `emoavatar train emohead-hyperplane --data DIR --out FILE.npz`")
        arrays = _load_arrays(path)
        meta = json.loads(side.read_text())
        emotions = tuple(canonical_emotion(e) for e in meta.pop("emotions"))
        basis = meta.pop("basis", "")
        meta.pop("k", None)
        return cls(emotions, arrays["w"].astype(np.float32), arrays["b"].astype(np.float32), basis, meta)


def mar_groups(mar: np.ndarray, groups: int = 5) -> np.ndarray:
    """Group index 0..groups-1 of each frame: equal-width (arithmetic) bins from min to max MAR."""
    mar = np.asarray(mar, np.float64)
    lo, hi = float(mar.min()), float(mar.max())
    if hi <= lo:
        return np.zeros(len(mar), int)
    return np.clip(((mar - lo) / (hi - lo) * groups).astype(int), 0, groups - 1)


def balanced_indices(labels: np.ndarray, mar: np.ndarray, groups: int = 5, per_cell: int | None = None,
                     seed: int = 0) -> np.ndarray:
    """Indices with the same count in every (emotion, MAR group) cell (Appendix B).

    ``per_cell`` defaults to the median size of the non-empty cells; smaller cells are sampled
    with replacement, larger ones without.
    """
    rng = np.random.default_rng(seed)
    g = mar_groups(mar, groups)
    labels = np.asarray(labels)
    cells = [np.flatnonzero((labels == lab) & (g == gi)) for lab in np.unique(labels) for gi in range(groups)]
    cells = [c for c in cells if len(c)]
    n = per_cell or int(np.median([len(c) for c in cells]))
    picks = [rng.choice(c, n, replace=len(c) < n) for c in cells]
    return np.sort(np.concatenate(picks))


def fit_hyperplanes(alpha: np.ndarray, labels: list[str] | np.ndarray, mar: np.ndarray, *, groups: int = 5,
                    per_cell: int | None = None, c: float = 1.0, basis: str = "", seed: int = 0,
                    max_iter: int = 5000) -> Hyperplanes:
    """Train one LinearSVC per emotion (one-vs-rest) on MAR-balanced frames."""
    from sklearn.svm import LinearSVC

    alpha = np.asarray(alpha, np.float32)
    labels = np.array([canonical_emotion(x) for x in labels])
    emotions = tuple(e for e in EMOTIONS if e in set(labels))
    if len(emotions) < 2:
        raise ConfigError(f"hyperplanes need frames of at least two emotions, got {list(emotions)}")
    idx = balanced_indices(labels, mar, groups, per_cell, seed)
    x, y = alpha[idx], labels[idx]
    ws, bs = [], []
    for emo in emotions:
        svm = LinearSVC(C=c, class_weight="balanced", max_iter=max_iter, random_state=seed)
        svm.fit(x, (y == emo).astype(int))
        ws.append(svm.coef_[0])
        bs.append(svm.intercept_[0])
    info = {"mar_groups": groups, "samples": len(idx), "C": c}
    return Hyperplanes(emotions, np.array(ws, np.float32), np.array(bs, np.float32), basis, info)
