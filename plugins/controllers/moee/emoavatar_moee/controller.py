"""The ``moee`` EmotionController: a request -> shared emotion latent -> gated emotion experts.

Per frame t (equations in :mod:`.latents` and :mod:`.gating`):

1. latent ``z(t)``: label / mix / timeline -> eq. E; text prompt -> eq. T; ``from_audio`` ->
   eq. U; AU targets of the request (an AU prompt such as ``"AU6+AU12, strong"`` or overrides)
   add eq. A, ``z += A a``, so the latent moves towards the emotion they express;
2. region latents ``z_r(t)``: the region's own label/mix for a region-gated request
   (``{regions: {mouth: happy, brows: surprised}}``, eq. E plus eq. A on the region's AUs),
   otherwise ``z``; for a region-gated request ``z`` is their mean;
3. gates: ``g(t)`` (eq. G) and ``π_r(t)`` (eq. GL) over (neutral, experts), mapped onto the
   vocabulary; in label requests an emotion without an expert (contempt by default) keeps its
   share and the experts gate the rest;
4. output :class:`EmotionState`: ``weights = g``, ``region_weights = π``, ``regions``, the latent
   ``z``, the request's intensity and AU targets (as overrides, NaN elsewhere); zero-phase smoothing;
5. with ``emit_aus``, ``au`` instead holds every channel: the gated experts' AU heads (what the
   experts do on a FACS rig, trained by ``moee-latents``), the request's targets where given.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import torch
from emoavatar.emotions import ACTION_UNITS, EmotionRequest
from emoavatar.errors import EmotionError
from emoavatar.interfaces import EmotionController, RunContext
from emoavatar.timeline import gaussian_smooth, request_tracks
from emoavatar.types import AudioFeatures, EmotionState

from .audio import fit_rows, pool_features
from .facs import AU_CHANNELS, REGIONS, prototype_vector
from .model import MoEE, MoeeSettings
from .spec import AUDIO_KINDS, MoeeConfig
from .text import TextEncoder


def build_model(cfg: MoeeConfig) -> MoEE:
    """The checkpoint in ``cfg.weights``, or the deterministic start from FACS prototypes."""
    if cfg.weights:
        model, _ = MoEE.load(cfg.weights)
        if cfg.text_model is not None or not cfg.local_files_only:
            model.text_encoder = TextEncoder(cfg.text_model or model.settings.text_model, cfg.local_files_only)
    else:
        settings = MoeeSettings(latent_dim=cfg.latent_dim, experts=tuple(cfg.experts), seed=cfg.seed,
                                gate_temperature=cfg.gate_temperature, local_weight=cfg.local_weight,
                                text_model=cfg.text_model, text_temperature=cfg.text_temperature,
                                audio_window=cfg.audio_window)
        model = MoEE(settings, TextEncoder(cfg.text_model, cfg.local_files_only))
    model.experts.temperature = cfg.gate_temperature
    model.experts.local_weight = cfg.local_weight
    return model.eval()


class MoeeController(EmotionController):
    """See module doc."""

    def __init__(self, config: MoeeConfig | None = None) -> None:
        super().__init__(config or MoeeConfig())
        self._model: MoEE | None = None

    @property
    def model(self) -> MoEE:
        if self._model is None:
            self._model = build_model(self.config)
        return self._model

    # -- latents ---------------------------------------------------------------------------
    def _au_vector(self, au: Mapping[str, float]) -> np.ndarray:
        v = np.zeros(len(AU_CHANNELS), np.float32)
        for name, value in au.items():
            v[AU_CHANNELS.index(name)] = float(value)
        return v

    def _audio_latent(self, features: Mapping[str, AudioFeatures], n: int, fps: float) -> torch.Tensor:
        m = self.model
        kinds = self.config.audio_features or [k for k in AUDIO_KINDS if features.get(f"features:{k}") is not None]
        have = [k for k in kinds if features.get(f"features:{k}") is not None]
        if not have:
            raise EmotionError(
                f"emotion 'from_audio' needs audio features ({', '.join(kinds or AUDIO_KINDS)}), but the pipeline "
                "has none", fix="add an encoder that produces them, e.g. encoders: [{use: prosody}]")
        pooled = {}
        for k in have:
            f = features.get(f"features:{k}")
            pooled[k] = torch.from_numpy(fit_rows(pool_features(f.values, f.fps, m.settings.audio_window), n))
        if not any(k in m.latents.audio for k in pooled):
            warnings.warn(f"moee: no trained audio head for {', '.join(have)}; from_audio reads neutral until "
                          "`emoavatar train moee-latents` trains one (set moee's weights)", stacklevel=2)
            return torch.zeros(n, m.settings.latent_dim)
        return m.latents.audio_latent(pooled)

    def _region_tracks(self, request: EmotionRequest, base: np.ndarray) -> np.ndarray:
        """``[T, R, V]``: each region's mix (the request's for named regions, else ``base``)."""
        m = self.model
        unknown = sorted(set(request.regions) - set(m.settings.regions))
        if unknown:
            raise EmotionError(f"moee has no face region {unknown[0]!r}", fix=f"use {', '.join(m.settings.regions)}")
        voc = m.settings.vocabulary
        tracks = []
        for r in m.settings.regions:
            if r in request.regions:
                row = np.zeros(len(voc))
                for k, v in request.regions[r].items():
                    row[voc.index(k)] = v
                tracks.append(np.tile(row, (len(base), 1)))
            else:
                tracks.append(base)
        return np.stack(tracks, 1)

    def _expert_aus(self, z: torch.Tensor, region_w: np.ndarray, intensity: np.ndarray, au_track: np.ndarray | None,
                    au_names: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
        """``emit_aus``: the gated experts' AU heads as AU targets over :data:`AU_CHANNELS`,
        ``intensity · Σ_r M_r ⊙ Σ_v π_{r,v} a_v(z)`` (``a_v`` = the FACS prototype for an emotion
        without an expert, 0 for neutral); the request's own AU targets take precedence."""
        m = self.model
        voc = m.settings.vocabulary
        with torch.no_grad():
            heads = m.experts.expert_aus(z).numpy()  # [T, X, K]
        table = np.tile(np.array([prototype_vector(e) for e in voc], np.float32), (len(z), 1, 1))  # [T, V, K]
        table[:, voc.index("neutral")] = 0.0
        for k, e in enumerate(m.experts.experts):
            table[:, voc.index(e)] = heads[:, k]
        masks = np.array([[c in REGIONS[r] for c in AU_CHANNELS] for r in m.settings.regions], np.float64)
        out = intensity[:, None] * np.einsum("trv,tvk,rk->tk", region_w, table, masks)
        out = np.clip(out, 0.0, 2.0).astype(np.float32)
        if au_track is not None:
            for j, name in enumerate(au_names):
                given = np.isfinite(au_track[:, j])
                out[given, AU_CHANNELS.index(name)] = au_track[given, j]
        return out, AU_CHANNELS

    # -- the stage ---------------------------------------------------------------------------
    def control(self, request: EmotionRequest, features: Mapping[str, AudioFeatures], ctx: RunContext) -> EmotionState:
        n = int(ctx.n_frames)
        if n <= 0:
            raise EmotionError("the run has no frames (ctx.n_frames == 0)", fix="give audio with a duration > 0")
        fps = float(ctx.fps)
        m = self.model
        voc = m.settings.vocabulary
        intensity = np.full(n, request.intensity, np.float64)
        base = None
        au = self._au_vector(request.au)
        if request.regions and (request.text or request.from_audio):
            raise EmotionError("region gates need labels per region, not a text or audio request",
                               fix="write e.g. {emotion: neutral, regions: {mouth: happy, brows: surprised}}")
        with torch.no_grad():
            if request.text or request.from_audio:
                z = m.text_latent([request.text]).expand(n, -1) if request.text else self._audio_latent(features, n, fps)
                z = z + m.latents.au_latent(torch.from_numpy(au))
                g, pi = m.experts(z)
                weights = m.to_vocabulary(g).numpy().astype(np.float64)
                region_w = m.to_vocabulary(pi).numpy().astype(np.float64)
            else:
                base, intensity = request_tracks(request, n, fps, voc)
                tracks = self._region_tracks(request, base)  # [T, R, V]
                gated, kept = _split(tracks, m.experts.slots, voc)
                masks = np.array([[c in REGIONS[r] for c in AU_CHANNELS] for r in m.settings.regions], np.float32) \
                    if request.regions else np.ones((len(m.settings.regions), len(AU_CHANNELS)), np.float32)
                z_r = m.latents.label_latent(torch.from_numpy(gated.astype(np.float32))) \
                    + m.latents.au_latent(torch.from_numpy(au[None] * masks))
                g, pi = m.experts(z_r.mean(1), z_r if request.regions else None)
                share = kept.sum(-1, keepdims=True)
                region_w = (1.0 - share) * m.to_vocabulary(pi).numpy() + kept
                weights = (1.0 - share.mean(1)) * m.to_vocabulary(g).numpy() + kept.mean(1)
                z = m.latents.label_latent(torch.from_numpy(tracks.mean(1).astype(np.float32))) \
                    + m.latents.au_latent(torch.from_numpy(au))
        sigma = self.config.smoothing * fps
        weights = _normalise(gaussian_smooth(weights, sigma))
        region_w = _normalise(gaussian_smooth(region_w, sigma))
        intensity = np.clip(gaussian_smooth(intensity, sigma), 0.0, 1.0)
        au_track, au_names = _au_track(request, n)
        if self.config.emit_aus:
            au_track, au_names = self._expert_aus(z, region_w, intensity, au_track, au_names)
        return EmotionState(weights.astype(np.float32), intensity.astype(np.float32), au=au_track, au_names=au_names,
                            latent=z.numpy().astype(np.float32), vocabulary=voc, regions=tuple(m.settings.regions),
                            region_weights=region_w.astype(np.float32))


def _split(mix: np.ndarray, slots: tuple[str, ...], voc: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``mix [..., V]`` -> (its part on the gate's slots, renormalised; its part on emotions without
    an expert, kept as is). A mix with no slot emotion gates neutral."""
    on = np.array([e in slots for e in voc], np.float64)
    part = mix * on
    total = part.sum(-1, keepdims=True)
    neutral = np.zeros(len(voc))
    neutral[voc.index("neutral")] = 1.0
    gated = np.where(total > 1e-9, part / np.maximum(total, 1e-9), neutral)
    return gated, mix * (1.0 - on)


def _normalise(w: np.ndarray) -> np.ndarray:
    w = np.clip(w, 0.0, None)
    return w / np.maximum(w.sum(-1, keepdims=True), 1e-9)


def _au_track(request: EmotionRequest, n: int) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """All FACS AUs as columns; the request's targets where given, NaN elsewhere (overrides)."""
    if not request.au:
        return None, ()
    names = tuple(ACTION_UNITS)
    au = np.full((n, len(names)), np.nan, np.float32)
    for name, value in request.au.items():
        au[:, names.index(name)] = float(value)
    return au, names
