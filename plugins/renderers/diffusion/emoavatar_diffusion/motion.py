"""``moee-motion``: EmotionState (+ wav2vec2 features) -> the ``moee-cond`` conditioning space.

Global gates are ``EmotionState.weights`` restricted to the six basic emotions and renormalised
(neutral/contempt weight is left out: the backbone alone is the neutral face); they are scaled by
the intensity in the emotion token, not here. Region gates come from the controller's optional
``region_weights [T, R, E]`` (restricted the same way). Audio windows stack ``window`` neighbouring
frames of features (edge-padded), as Hallo's audio projection expects; with hf-speech's ``layers: all``
each frame carries all L transformer layers layer-major (``meta['audio_layers'] = L``), so a window
reshapes to Hallo's ``[window, L, channels]``. Placed after a ``motion:landmarks68`` stage in a motion chain
(e.g. ``motion: [{use: facs-rig}, {use: moee-motion}]``), it passes that stage's per-frame landmarks on as the
``landmarks`` track: the head pose the renderer draws its face-locator input and masks from.
"""

from __future__ import annotations

import numpy as np
from emoavatar.errors import ConfigError
from emoavatar.interfaces import MotionGenerator
from emoavatar.types import Motion

from .spec import SPACE

LANDMARKS_PORT = "motion:landmarks68"
EXPERTS = ("happy", "sad", "angry", "fearful", "disgusted", "surprised")


def expert_gates(weights: np.ndarray, vocabulary: tuple[str, ...]) -> np.ndarray:
    """``[..., E]`` over the vocabulary -> ``[..., 6]`` over EXPERTS, rows summing to 1 (uniform if all zero)."""
    idx = [vocabulary.index(e) for e in EXPERTS]
    g = np.asarray(weights, np.float32)[..., idx]
    s = g.sum(-1, keepdims=True)
    return np.where(s > 1e-6, g / np.maximum(s, 1e-6), 1.0 / len(EXPERTS)).astype(np.float32)


def audio_windows(values: np.ndarray, window: int) -> np.ndarray:
    """``[T, D]`` -> ``[T, window, D]``: frames t-w//2 .. t+w//2, edge-padded."""
    half = window // 2
    padded = np.concatenate([np.repeat(values[:1], half, 0), values, np.repeat(values[-1:], window - 1 - half, 0)])
    return np.stack([padded[i: i + len(values)] for i in range(window)], axis=1)


class MoEEMotion(MotionGenerator):
    def generate(self, features, emotion, portrait, ctx) -> Motion:
        cfg = self.config
        t = ctx.n_frames or len(emotion)
        gates = expert_gates(emotion.weights[:t], emotion.vocabulary)
        tracks = {SPACE: gates, "intensity": emotion.intensity[:t].astype(np.float32)}
        meta: dict = {"experts": EXPERTS}
        if cfg.audio:
            feats = features.get(cfg.audio) if features is not None else None
            if feats is None:
                raise ConfigError(f"moee-motion: no features:{cfg.audio} in the pipeline",
                                  fix=f"add an hf-speech encoder with kind: {cfg.audio}, or set audio: null")
            tracks["audio"] = audio_windows(feats.values[:t], cfg.window)
            # hf-speech `layers: all` stacks L wav2vec2 layers layer-major (Hallo's [window, 12, 768] layout)
            meta["audio_layers"] = int(feats.meta.get("layers", 1)) if feats.meta.get("layer") == "all" else 1
        else:
            tracks["audio"] = np.zeros((t, cfg.window, 1), np.float32)
        region_weights = getattr(emotion, "region_weights", None)  # optional field (controller `moee`)
        if region_weights is not None:
            tracks["regions"] = expert_gates(np.asarray(region_weights)[:t], emotion.vocabulary)
            meta["regions"] = tuple(getattr(emotion, "regions", ()))
        if cfg.latent_dim:
            lat = np.zeros((t, cfg.latent_dim), np.float32)
            if emotion.latent is not None:
                n = min(cfg.latent_dim, emotion.latent.shape[1])
                lat[:, :n] = emotion.latent[:t, :n]
            tracks["latent"] = lat
        head = ctx.ports.get(LANDMARKS_PORT)
        if head is not None:
            lm = np.asarray(head.tracks["landmarks68"], np.float32)
            if len(lm) < t:
                raise ConfigError(f"moee-motion: {LANDMARKS_PORT} has {len(lm)} frames for {t}",
                                  fix="put a landmarks68 motion stage covering the whole audio before moee-motion")
            tracks["landmarks"] = lm[:t]
        return Motion(space=SPACE, tracks=tracks, fps=ctx.fps, meta=meta)
