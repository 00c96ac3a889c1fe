"""``emoportraits-speech``: audio features + the pipeline's EmotionState -> ``motion:emoportraits``.

The paper's speech-driving mode (E_audio in Fig. 4: audio -> expression latent z and head rotation, lips through
mouth-focused PCA components of z). The authors never released it; this is ours (see the README):

    z_0   = z_s - P^T P (z_s - mu)                        the portrait's own latent, mouth coordinates at the mean
    c_t, dpose_t = f(a_{t-w..t+w})                         audio regressor (speech_model.SpeechRegressor)
    z_t   = z_0 + m P^T c_t + g i_t sum_e w_{t,e} d_e      mouth from audio, the rest steered by the emotion
    pose_t = pose_s + h dpose_t                            natural head motion around the portrait's own pose

with z_s, pose_s the portrait's latent and pose from the stage-1 model's own embedders, P [K, Z] the mouth basis,
mu the mean latent, d_e the emotion directions (mouth subspace projected out, d_neutral = 0), w_{t,e} and i_t the
controller's per-frame weights and intensity, and m, g, h the ``mouth_strength``, ``emotion_strength`` and
``pose_strength`` options. Intensity 0 leaves the non-mouth part of z at the portrait's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from emoavatar.errors import ConfigError
from emoavatar.interfaces import MotionGenerator, RunContext
from emoavatar.types import AudioFeatures, EmotionState, Motion, Portrait

from .embed import embed_portrait
from .loading import get_model
from .spec import MOTION_SPACE, EmoPortraitsSpeechConfig
from .speech_model import SpeechMode, load_speech_mode

_MODES: dict = {}


def get_speech_mode(path: Path | None, device: str = "cpu") -> SpeechMode:
    """One loaded file per (path, modification time, device): a retrained file is read again."""
    if path is None or not Path(path).is_file():
        return load_speech_mode(path, device)  # raises WeightsNotFoundError
    key = (str(Path(path).resolve()), Path(path).stat().st_mtime_ns, device)
    if key not in _MODES:
        _MODES[key] = load_speech_mode(path, device)
    return _MODES[key]


def stack_features(features: Mapping[str, AudioFeatures], wanted: list[tuple[str, int]], n: int) -> np.ndarray:
    """The checkpoint's feature kinds, in its order, as [n, D] (rows cut or the last one repeated to n)."""
    cols = []
    for kind, size in wanted:
        port = f"features:{kind}"
        if port not in features:
            raise ConfigError(f"emoportraits-speech: this speech checkpoint was trained on features:{kind}, "
                              "which the pipeline does not produce",
                              fix=f"add the encoder that produces features:{kind} (checkpoint features: "
                                  f"{', '.join(k for k, _ in wanted)})")
        v = np.asarray(features[port].values, np.float32)
        if v.shape[1] != size:
            raise ConfigError(f"emoportraits-speech: features:{kind} has {v.shape[1]} columns, the checkpoint "
                              f"expects {size}", fix="use the encoder options the checkpoint was trained with")
        if len(v) < n:
            v = np.concatenate([v, np.repeat(v[-1:], n - len(v), 0)]) if len(v) else np.zeros((n, size), np.float32)
        cols.append(v[:n])
    return np.concatenate(cols, 1)


def emotion_offset(mode: SpeechMode, emotion: EmotionState | None, n: int) -> torch.Tensor:
    """sum_e i_t w_{t,e} d_e, [n, Z] (zeros without an emotion state)."""
    d = mode.stats["directions"]
    if emotion is None:
        return torch.zeros(n, d.shape[1], device=d.device)
    names = list(mode.meta.get("emotions", []))
    w = np.zeros((n, len(names)), np.float32)
    ew = np.asarray(emotion.weights, np.float32)[:n]
    for j, name in enumerate(emotion.vocabulary):
        if name in names:
            w[:len(ew), names.index(name)] = ew[:, j]
    inten = np.zeros(n, np.float32)
    inten[:len(ew)] = np.asarray(emotion.intensity, np.float32)[:n]
    return torch.as_tensor(w * inten[:, None], device=d.device) @ d


def compose(mode: SpeechMode, z_s: torch.Tensor, pose_s: torch.Tensor, mouth: torch.Tensor, dpose: torch.Tensor,
            offset: torch.Tensor, mouth_strength: float = 1.0, emotion_strength: float = 1.0,
            pose_strength: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The equations of the module docstring: ([T, Z] latents, [T, 9] poses)."""
    P, mu = mode.stats["mouth_basis"], mode.stats["mu"]
    z0 = z_s - ((z_s - mu) @ P.T) @ P
    z = z0[None] + mouth_strength * (mouth @ P) + emotion_strength * offset
    return z, pose_s[None] + pose_strength * dpose


class EmoPortraitsSpeech(MotionGenerator):
    def __init__(self, config: EmoPortraitsSpeechConfig | None = None) -> None:
        super().__init__(config or EmoPortraitsSpeechConfig())

    @torch.no_grad()
    def generate(self, features: Mapping[str, AudioFeatures], emotion: EmotionState, portrait: Portrait,
                 ctx: RunContext) -> Motion:
        c = self.config
        mode = get_speech_mode(c.speech_checkpoint, c.device)
        model = get_model(c.checkpoint, c.head_pose_checkpoint, c.architecture, c.device)
        if model.cfg.expression_dim != mode.z_dim:
            raise ConfigError(f"emoportraits-speech: the speech checkpoint has z of size {mode.z_dim}, the stage-1 "
                              f"model {model.cfg.expression_dim}", fix="train the speech mode with this stage-1 model")
        n = ctx.n_frames
        feats = torch.as_tensor(stack_features(features, mode.features, n), device=c.device)
        mouth, dpose = mode.predict(feats[None])
        z_s, pose_s = self.portrait_latent(model, portrait)
        z, pose = compose(mode, z_s, pose_s, mouth[0], dpose[0], emotion_offset(mode, emotion, n),
                          c.mouth_strength, c.emotion_strength, c.pose_strength)
        return Motion(MOTION_SPACE, {MOTION_SPACE: z.cpu().numpy().astype(np.float32),
                                     "head_pose": pose.cpu().numpy().astype(np.float32),
                                     "mouth": mouth[0].cpu().numpy().astype(np.float32)}, ctx.fps,
                      meta={"speech_checkpoint": str(c.speech_checkpoint), "mouth_components": int(mouth.shape[-1])})

    def portrait_latent(self, model, portrait: Portrait) -> tuple[torch.Tensor, torch.Tensor]:
        """(z_s [Z], pose_s [9]) of the portrait from the model's own embedders."""
        return embed_portrait(model, portrait, self.config.crop_scale, self.config.device)
