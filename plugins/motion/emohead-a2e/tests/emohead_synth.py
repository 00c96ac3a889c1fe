"""Synthetic faces, expressions and clips for the EmoHead tests (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from emoavatar_emohead.basis import apply_pose


def base_face() -> np.ndarray:
    """A plausible 68-point layout (unit scale, centred)."""
    lm = np.zeros((68, 2))
    t = np.linspace(-1, 1, 17)
    lm[0:17] = np.c_[t, 0.2 + 0.8 * (1 - t**2) ** 0.5 * 0.9]  # jaw
    lm[17:22] = np.c_[np.linspace(-0.8, -0.2, 5), -0.55 + 0.0 * t[:5]]
    lm[22:27] = np.c_[np.linspace(0.2, 0.8, 5), -0.55 + 0.0 * t[:5]]
    lm[27:31] = np.c_[np.zeros(4), np.linspace(-0.4, 0.05, 4)]
    lm[31:36] = np.c_[np.linspace(-0.2, 0.2, 5), np.full(5, 0.12)]
    ang = np.linspace(0, 2 * np.pi, 7)[:-1]
    lm[36:42] = np.c_[-0.45 + 0.15 * np.cos(ang), -0.35 + 0.05 * np.sin(ang)]
    lm[42:48] = np.c_[0.45 + 0.15 * np.cos(ang), -0.35 + 0.05 * np.sin(ang)]
    ang12 = np.linspace(0, 2 * np.pi, 13)[:-1]
    lm[48:60] = np.c_[0.35 * np.cos(ang12), 0.45 - 0.12 * np.sin(ang12)]
    ang8 = np.linspace(0, 2 * np.pi, 9)[:-1]
    lm[60:68] = np.c_[0.25 * np.cos(ang8), 0.45 - 0.05 * np.sin(ang8)]
    return lm


def expression_modes() -> np.ndarray:
    """[3, 68, 2]: mouth opening, smile (corners up/out), brow raise."""
    modes = np.zeros((3, 68, 2))
    modes[0, 8, 1] = 0.3
    modes[0, 5:12, 1] = 0.15
    modes[0, 56:59, 1] = 0.2
    modes[0, 65:68, 1] = 0.15
    modes[0, 50:53, 1] = -0.05
    modes[0, 61:64, 1] = -0.05
    modes[1, [48, 60], 0] = -0.08
    modes[1, [54, 64], 0] = 0.08
    modes[1, [48, 54, 60, 64], 1] = -0.08
    modes[2, 17:27, 1] = -0.12
    return modes


def synth_landmarks(coef: np.ndarray, rng: np.random.Generator, noise: float = 0.003,
                    pose_jitter: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """coef [T, 3] -> pixel landmarks [T, 68, 2] and the true pose [T, 6]."""
    t = len(coef)
    shapes = base_face()[None] + np.einsum("tm,mpd->tpd", coef, expression_modes())
    shapes += noise * rng.standard_normal(shapes.shape)
    pose = np.zeros((t, 6))
    if pose_jitter:
        pose[:, 2] = 0.1 * np.sin(np.linspace(0, 3, t))
        pose[:, 3] = 128 + 5 * np.sin(np.linspace(0, 5, t))
        pose[:, 4] = 120 + 3 * np.cos(np.linspace(0, 4, t))
        pose[:, 5] = 60 + 4 * np.sin(np.linspace(0, 2, t))
    else:
        pose[:, 3:] = (128, 120, 60)
    return apply_pose(shapes, pose), pose.astype(np.float32)


EMO_OFFSETS = {"neutral": (0.0, 0.0), "happy": (0.0, 0.8), "sad": (-0.1, -0.5), "angry": (0.05, -0.2)}


def write_clips(root: Path, identities=("A", "B", "C"), emotions=("neutral", "happy", "sad"), sentences=3,
                t: int = 60, dim: int = 16, seed: int = 0) -> dict:
    """Preprocessed-format clips whose α is a learnable (linear + windowed) function of feat_hubert."""
    from emoavatar_emohead.preprocess import Clip, save_clip

    rng = np.random.default_rng(seed)
    proj = rng.standard_normal((dim, 10)) / np.sqrt(dim)
    paths = []
    for s in range(sentences):
        base = np.cumsum(rng.standard_normal((t, dim)), 0) * 0.3  # the sentence's "audio"
        base = base - base.mean(0)
        for ident in identities:
            voice = 0.1 * rng.standard_normal(dim)  # identity-specific offset in audio features
            for emo in emotions:
                feat = base + voice + 0.05 * rng.standard_normal((t, dim))
                alpha = np.tanh(base @ proj)
                alpha[:, 1] += EMO_OFFSETS[emo][1]
                alpha[:, 0] += 0.5 * np.tanh(np.r_[base[:1, 0], base[:-1, 0]])  # depends on the previous frame
                mar = np.clip(alpha[:, 0] + 1.5, 0, None) / 5
                meta = {"emotion": emo, "identity": ident, "sentence": f"{s:03d}", "intensity": 1, "fps": 25,
                        "basis": "landmark-pca", "feature_kinds": ["hubert"]}
                clip = Clip({"alpha": alpha.astype(np.float32), "feat_hubert": feat.astype(np.float32),
                             "mar": mar.astype(np.float32), "landmarks": np.zeros((t, 68, 2), np.float32),
                             "face_found": np.ones(t, bool)}, meta)
                paths.append(save_clip(root / ident / f"{emo}_1_{s:03d}.npz", clip))
    return {"paths": paths, "dim": dim}
