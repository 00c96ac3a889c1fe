"""``emohead-hyperplane``: an EmotionController that carries EmoHead's emotion hyperplanes.

It turns a label / mix / timeline request into per-frame weights over the vocabulary (timeline
changes cross-fade over ``request.transition`` seconds centred on the switch, Fig. 4's continuous
change; :mod:`emoavatar.timeline`) and puts
the per-frame hyperplane normal in ``EmotionState.latent``::

    latent[t] = strength · intensity[t] · Σ_e weights[t, e] ŵ_e          # [T, k]

``emohead-a2e`` adds ``τ · latent`` to its α̃ (eq. 9), so switching the hyperplane mid-utterance
is just a timeline request. Emotions without a hyperplane contribute zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from emoavatar.emotions import EMOTIONS, EmotionRequest
from emoavatar.errors import EmotionError, WeightsNotFoundError
from emoavatar.interfaces import EmotionController, RunContext
from emoavatar.timeline import request_tracks
from emoavatar.types import AudioFeatures, EmotionState


def request_weights(request: EmotionRequest, n: int, fps: float,
                    vocabulary: tuple[str, ...] = EMOTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame weights ``[n, E]`` and intensity ``[n]`` of a label/mix/timeline request
    (the core's timeline: switches cross-fade over ``transition`` seconds centred on ``at``)."""
    if not request.segments:
        raise EmotionError(f"emohead-hyperplane reads labels, mixes and timelines, not a {request.source} request",
                           fix="give an emotion label/mix/timeline, or use a text/audio emotion controller")
    weights, intensity = request_tracks(request, n, fps, vocabulary)
    return weights.astype(np.float32), intensity.astype(np.float32)


class HyperplaneController(EmotionController):
    """Request -> EmotionState with the hyperplane normals w_z in ``latent``."""

    def __init__(self, config: Any = None) -> None:
        from .spec import HyperplaneConfig

        super().__init__(config or HyperplaneConfig())
        self._hp = None

    @property
    def hyperplanes(self):
        if self._hp is None:
            from .hyperplane import Hyperplanes

            if not self.config.hyperplanes:
                raise WeightsNotFoundError("emohead-hyperplane has no hyperplanes file configured",
                                           fix="train with `emoavatar train emohead-hyperplane ...` and set "
                                               "with: {hyperplanes: PATH}")
            self._hp = Hyperplanes.load(self.config.hyperplanes)
        return self._hp

    def control(self, request: EmotionRequest, features: Mapping[str, AudioFeatures], ctx: RunContext) -> EmotionState:
        weights, intensity = request_weights(request, ctx.n_frames, ctx.fps)
        w_z = self.hyperplanes.direction(weights)  # [T, k], switches with the timeline
        latent = (self.config.strength * intensity[:, None] * w_z).astype(np.float32)
        return EmotionState(weights, intensity, latent=latent)
