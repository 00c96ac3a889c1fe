"""``emohead-a2e``: features -> refined expression parameters α̂ (EmoHead eq. 1–9), motion space
``exp3dmm10``.

Checkpoint = ``NAME.safetensors`` (model tensors, plus ``hyperplanes`` ``[8, k]``: the unit normals
over :data:`emoavatar.emotions.EMOTIONS` used in training, zeros where none) and ``NAME.json``
(architecture, feature kinds/widths/roles, basis, training state). Written by ``train_a2e``.

w_z per frame (eq. 9) comes from, in order: ``EmotionState.latent`` when it is ``[T, k]`` (the
``emohead-hyperplane`` controller puts its hyperplane normals there), else the checkpoint's (or
``hyperplanes:``) normals weighted by the EmotionState weights × intensity, else zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from emoavatar.emotions import EMOTIONS
from emoavatar.errors import ConfigError, PortError, WeightsNotFoundError
from emoavatar.interfaces import MotionGenerator, RunContext
from emoavatar.types import AudioFeatures, EmotionState, Motion, Portrait

from .basis import SPACE

FORMAT = "emohead-a2e/1"
EMOTION_KINDS = ("audio_emotion", "emotion2vec", "emotion")
TEXT_KINDS = ("text",)


def default_role(kind: str) -> str:
    """υ / e / γ role of a feature kind: emotion-audio kinds -> emotion, text -> text, else audio."""
    if kind in EMOTION_KINDS or kind.endswith("_emotion"):
        return "emotion"
    if kind in TEXT_KINDS or kind.startswith("text"):
        return "text"
    return "audio"


def build_model(arch: dict[str, Any]):
    from .fusedattn import AudioExpressionModel

    return AudioExpressionModel(arch["feature_dims"], arch["roles"], d=arch["d"], dh=arch["dh"],
                                window=arch["window"], k=arch["k"], ffn_hidden=tuple(arch["ffn_hidden"]))


def default_arch(feature_dims: dict[str, int], roles: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    """Architecture dict with Table V defaults (d = d_h = 512, n = 5, k = 10)."""
    arch = {"feature_dims": dict(feature_dims), "roles": {k: default_role(k) for k in feature_dims},
            "d": 512, "dh": 512, "window": 5, "k": 10, "ffn_hidden": [512, 256, 256, 128]}
    arch["roles"].update(roles or {})
    arch.update(kw)
    return arch


def save_checkpoint(path: str | Path, model, arch: dict[str, Any], hyperplanes: np.ndarray | None = None,
                    **info: Any) -> Path:
    """Write ``path`` (.safetensors) and its ``.json``; atomic (temporary names, then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    import torch

    hp = hyperplanes if hyperplanes is not None else np.zeros((len(EMOTIONS), arch["k"]), np.float32)
    tensors["hyperplanes"] = torch.as_tensor(np.asarray(hp, np.float32))
    tmp = path.with_name(path.stem + ".partial.safetensors")
    save_file(tensors, str(tmp))
    side = path.with_suffix(".json")
    tmp_side = side.with_name(side.stem + ".partial.json")
    tmp_side.write_text(json.dumps({"format": FORMAT, "arch": arch, "emotions": list(EMOTIONS), **info}, indent=2))
    tmp.replace(path)
    tmp_side.replace(side)
    return path


def load_checkpoint(path: str | Path, device: str = "cpu"):
    """-> (model in eval mode, meta dict, hyperplane normals ``[8, k]``)."""
    from safetensors.torch import load_file

    path = Path(path)
    side = path.with_suffix(".json")
    for p in (path, side):
        if not p.is_file():
            raise WeightsNotFoundError(f"emohead-a2e checkpoint file {p} not found",
                                       fix="train one with `emoavatar train emohead-a2e --data DIR --out FILE.safetensors`")
    meta = json.loads(side.read_text())
    if meta.get("format") != FORMAT:
        raise WeightsNotFoundError(f"{side} is not an emohead-a2e checkpoint (format {meta.get('format')!r})")
    tensors = load_file(str(path), device=device)
    hyper = tensors.pop("hyperplanes").cpu().numpy()
    model = build_model(meta["arch"]).to(device)
    model.load_state_dict(tensors)
    model.eval()
    return model, meta, hyper


class EmoHeadA2E(MotionGenerator):
    """Audio-expression module as a MotionGenerator (port ``motion:exp3dmm10``)."""

    def __init__(self, config: Any = None) -> None:
        from .spec import A2EConfig

        super().__init__(config or A2EConfig())
        self._model = None
        self._meta: dict[str, Any] = {}
        self._hyper: np.ndarray | None = None
        self._basis = None

    def _load(self) -> None:
        if self._model is not None:
            return
        if not self.config.checkpoint:
            raise WeightsNotFoundError("emohead-a2e has no checkpoint configured",
                                       fix="train one (`emoavatar train emohead-a2e ...`) and set with: {checkpoint: PATH}")
        self._model, self._meta, self._hyper = load_checkpoint(self.config.checkpoint, self.config.device)
        if self.config.hyperplanes:
            from .hyperplanes_file import read_normals

            normals = read_normals(self.config.hyperplanes)
            if normals.shape[1] != self._model.k:
                raise ConfigError(f"hyperplanes {self.config.hyperplanes} have k={normals.shape[1]}, "
                                  f"the checkpoint k={self._model.k}")
            self._hyper = normals

    def _inputs(self, features: Mapping[str, AudioFeatures], n: int) -> dict[str, np.ndarray]:
        out = {}
        for kind, width in self._model.feature_dims.items():
            key = f"features:{kind}"
            feat = features.get(key, features.get(kind))
            if feat is None:
                raise PortError(f"emohead-a2e was trained on features:{kind} but the pipeline provides "
                                f"{sorted(features)}", fix=f"add an encoder producing features:{kind}")
            v = np.asarray(feat.values if isinstance(feat, AudioFeatures) else feat, np.float32)
            if v.shape[1] != width:
                raise ConfigError(f"features:{kind} has width {v.shape[1]}, the checkpoint expects {width}",
                                  fix="use the encoder (model, layer) the checkpoint was trained with")
            if len(v) < n:
                v = np.concatenate([v, np.repeat(v[-1:], n - len(v), 0)])
            out[kind] = v[:n]
        return out

    def predict(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """α̃ ``[T, k]`` and τ ``[T]`` (eq. 8), chunked over time with a window-sized overlap."""
        import torch

        self._load()
        n = len(next(iter(inputs.values())))
        win, step = self._model.window, self.config.chunk
        alphas, taus = [], []
        dev = self.config.device
        with torch.no_grad():
            for s in range(0, n, step):
                lo = max(0, s - win)  # context frames so the window never sees a chunk border as silence
                batch = {k: torch.as_tensor(v[lo:s + step], device=dev)[None] for k, v in inputs.items()}
                a, t = self._model(batch)
                alphas.append(a[0, s - lo:].cpu().numpy())
                taus.append(t[0, s - lo:, 0].cpu().numpy())
        return np.concatenate(alphas), np.concatenate(taus)

    def direction(self, emotion: EmotionState, n: int) -> tuple[np.ndarray, str]:
        """w_z per frame ``[T, k]`` and where it came from."""
        k = self._model.k
        lat = emotion.latent
        if self.config.use_latent and lat is not None and lat.ndim == 2 and lat.shape == (n, k):
            return np.asarray(lat, np.float32), "emotion.latent"
        if self._hyper is not None and np.abs(self._hyper).sum() > 0:
            idx = [EMOTIONS.index(e) for e in emotion.vocabulary]
            hyper = self._hyper[idx] if tuple(emotion.vocabulary) != EMOTIONS else self._hyper
            return (emotion.weights @ hyper) * emotion.intensity[:, None], "hyperplanes"
        return np.zeros((n, k), np.float32), "none"

    def _pose(self, portrait: Portrait, n: int) -> tuple[np.ndarray, str | None]:
        ref = self.config.basis or self._meta.get("basis")
        pose = np.zeros((n, 6), np.float32)  # unknown (scale 0): the nerf renderer uses its checkpoint pose
        if not ref or portrait is None:
            return pose, ref
        try:
            if self._basis is None:
                from .basis import load_basis

                self._basis = load_basis(ref)
            code = self._basis.encode(portrait.face.landmarks[None], portrait.image[None])
            return np.repeat(code.pose, n, 0), ref
        except (ValueError, WeightsNotFoundError, ConfigError):
            return pose, ref

    def generate(self, features: Mapping[str, AudioFeatures], emotion: EmotionState, portrait: Portrait,
                 ctx: RunContext) -> Motion:
        self._load()
        n = ctx.n_frames
        alpha_t, tau = self.predict(self._inputs(features, n))
        w_z, source = self.direction(emotion, n)
        alpha_hat = alpha_t + self.config.strength * tau[:, None] * w_z  # eq. 9
        pose, basis = self._pose(portrait, n)
        tracks = {SPACE: alpha_hat.astype(np.float32), "pose": pose, "tau": tau.astype(np.float32)}
        return Motion(SPACE, tracks, ctx.fps, meta={"basis": basis, "w_z": source, "k": self._model.k})
