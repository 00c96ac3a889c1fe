"""Closed-form parts of the speech mode, fitted on training pairs (numpy):

- mouth subspace: PCA over the latents of talking frames (the paper's mouth-focused PCA components). Each clip's
  own mean latent is subtracted first, so what a clip holds constant (identity, emotion, its framing) does not
  enter; what varies within a talking clip is mostly the mouth. ``P`` = the top-K right singular vectors.
- emotion directions: ``d_e = (I - P^T P)(m_e - m_neutral)``, ``m_e`` the mean latent of the clips labelled e
  (each clip weighted once); without neutral clips the reference is the mean over the emotions present.
- normalisation of features and targets (per-dimension mean / std on the training frames).
"""

from __future__ import annotations

import numpy as np
from emoavatar.emotions import EMOTIONS

from .pairs import Pair


def fit_mouth_basis(pairs: list[Pair], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu [Z], P [K, Z] orthonormal rows, explained variance ratio [K])."""
    z = np.concatenate([p.z for p in pairs]).astype(np.float64)
    centred = np.concatenate([p.z - p.z.mean(0, keepdims=True) for p in pairs]).astype(np.float64)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(k, vt.shape[0])
    var = s ** 2
    return z.mean(0).astype(np.float32), vt[:k].astype(np.float32), (var[:k] / max(var.sum(), 1e-12)).astype(np.float32)


def emotion_directions(pairs: list[Pair], basis: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(d [E, Z] over :data:`EMOTIONS`, zero for emotions without clips and for neutral; the emotions seen)."""
    means: dict[str, list[np.ndarray]] = {}
    for p in pairs:
        means.setdefault(p.emotion, []).append(p.z.mean(0))
    m = {e: np.mean(v, 0) for e, v in means.items()}
    ref = m["neutral"] if "neutral" in m else np.mean(list(m.values()), 0)
    d = np.zeros((len(EMOTIONS), basis.shape[1]), np.float32)
    for e, v in m.items():
        if e in EMOTIONS and e != "neutral":
            diff = v - ref
            d[EMOTIONS.index(e)] = diff - (diff @ basis.T) @ basis
    return d, sorted(m)


def mean_std(rows: np.ndarray, floor: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    mean, std = rows.mean(0), rows.std(0)
    return mean.astype(np.float32), np.where(std < floor, 1.0, std).astype(np.float32)


def targets(pair: Pair, mu: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mouth coefficients c_t = P (z_t - mu) [T, K], pose relative to the clip's mean pose [T, 9])."""
    return (pair.z - mu) @ basis.T, pair.head_pose - pair.head_pose.mean(0, keepdims=True)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r of two series (0 when either is constant); also used by the bridge trainer."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    a, b = a - a.mean(), b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0
