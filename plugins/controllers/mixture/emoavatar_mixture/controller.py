"""The ``mixture`` EmotionController: every request becomes a per-frame mixture over EMOTIONS.

MoEE maps labels, text and audio into one emotion latent that gates six emotion experts; here
that latent is explicit and interpretable: ``weights [T, E]`` (a distribution per frame, so a
compound emotion is a mixture) plus a separate ``intensity [T]`` track and optional FACS AU
overrides, which the ``facs-rig`` motion generator turns into expert (FACS prototype) mixtures.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from emoavatar.emotions import ACTION_UNITS, EMOTIONS, EmotionRequest
from emoavatar.errors import EmotionError
from emoavatar.interfaces import EmotionController, RunContext
from emoavatar.timeline import gaussian_smooth, mix_vector, segments_to_tracks
from emoavatar.types import AudioFeatures, EmotionState

from .audio import prosody_mix
from .spec import MixtureConfig

PROSODY_PORT = "features:prosody"


class MixtureController(EmotionController):
    """Labels / mixes / timelines, text prompts and ``from_audio`` -> :class:`EmotionState`."""

    def __init__(self, config: MixtureConfig | None = None) -> None:
        super().__init__(config or MixtureConfig())
        self._text = None

    @property
    def text_model(self):
        """The prompt embedder, built on first use (the sentence model loads lazily inside)."""
        if self._text is None:
            from .text import TextEmotion

            cfg = self.config
            self._text = TextEmotion(cfg.text_prototypes, cfg.text_temperature, cfg.text_neutral_floor, cfg.text_model)
        return self._text

    def control(
        self, request: EmotionRequest, features: Mapping[str, AudioFeatures], ctx: RunContext
    ) -> EmotionState:
        n = int(ctx.n_frames)
        if n <= 0:
            raise EmotionError("the run has no frames (ctx.n_frames == 0)", fix="give audio with a duration > 0")
        fps = float(ctx.fps)
        cfg = self.config
        intensity = np.full(n, request.intensity, np.float64)
        if request.text:
            weights = np.tile(self.text_model.mix(request.text), (n, 1))
        elif request.from_audio:
            prosody = features.get(PROSODY_PORT)
            if prosody is None:
                raise EmotionError(
                    "emotion 'from_audio' needs prosody features, but no prosody encoder is in the pipeline",
                    fix="add the prosody encoder (encoders: [{use: prosody}]) that produces features:prosody",
                )
            weights = prosody_mix(prosody, n, fps, cfg.audio_window, cfg.audio_sensitivity)
        else:
            weights, intensity = segments_to_tracks(request.segments, request.intensity, request.transition, n, fps)
        sigma = cfg.smoothing * fps
        weights = np.clip(gaussian_smooth(weights, sigma), 0.0, None)
        weights /= np.maximum(weights.sum(1, keepdims=True), 1e-9)
        intensity = np.clip(gaussian_smooth(intensity, sigma), 0.0, 1.0)
        au, au_names = self._au_track(request, n)
        regions = tuple(request.regions)  # {regions: {mouth: happy}}: each named region's own mix, held
        region_weights = np.stack([np.tile(mix_vector(request.regions[r]), (n, 1)) for r in regions], 1) \
            if regions else None
        return EmotionState(weights.astype(np.float32), intensity.astype(np.float32), au=au, au_names=au_names,
                            vocabulary=EMOTIONS, regions=regions, region_weights=region_weights)

    @staticmethod
    def _au_track(request: EmotionRequest, n: int) -> tuple[np.ndarray | None, tuple[str, ...]]:
        """All known AUs as columns; overridden ones hold their target (0..1), the rest NaN."""
        if not request.au:
            return None, ()
        names = tuple(ACTION_UNITS)
        au = np.full((n, len(names)), np.nan, np.float32)
        for name, value in request.au.items():
            au[:, names.index(name)] = float(value)
        return au, names
