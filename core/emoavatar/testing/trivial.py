"""Trivial stages (no models): for core tests and the overhead/memory benchmarks.

``trivial_registry()`` is a Registry that also knows ``trivial-*`` components in-process:
``trivial-faces`` (fixed kit face scaled to the image), ``trivial-encoder`` (frame RMS),
``trivial-controller``, ``trivial-motion`` (rest landmarks), ``trivial-renderer`` (the portrait).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..emotions import EMOTIONS
from ..interfaces import AudioEncoder, EmotionController, FaceAnalyzer, MotionGenerator, Renderer, RunContext
from ..registry import Registry
from ..spec import ComponentSpec, EmptyConfig
from ..types import Audio, AudioFeatures, EmotionState, Face, Motion, Portrait


class TrivialRendererConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shade: int = Field(0, ge=0, le=255, description="added to every pixel (to see it changed)")


class TrivialFaces(FaceAnalyzer):
    """The kit portrait's face, scaled to the image: a face 'found' in any non-blank image."""

    def detect(self, image: np.ndarray) -> list[Face]:
        from .data import kit_portrait

        if image.std() < 1:
            return []
        ref = kit_portrait().face
        s = np.array([image.shape[1] / 256, image.shape[0] / 256], np.float32)
        box = tuple(float(v) for v in (np.array(ref.box).reshape(2, 2) * s).reshape(-1))
        return [Face(box, ref.landmarks * s, 1.0)]

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        return np.zeros(128, np.float32)


class TrivialEncoder(AudioEncoder):
    """Frame count only, zeros: never touches the waveform (so it is never decoded)."""

    def encode(self, audio: Audio, ctx: RunContext) -> AudioFeatures:
        return AudioFeatures(np.zeros((ctx.n_frames, 1), np.float32), "trivial", ctx.fps, ("zero",))


class TrivialController(EmotionController):
    def control(self, request, features, ctx: RunContext) -> EmotionState:
        w = np.zeros((ctx.n_frames, len(EMOTIONS)), np.float32)
        w[:, 0] = 1
        return EmotionState(w, np.full(ctx.n_frames, request.intensity, np.float32))


class TrivialMotion(MotionGenerator):
    def generate(self, features, emotion, portrait: Portrait, ctx: RunContext) -> Motion:
        lm = np.broadcast_to(portrait.face.landmarks.astype(np.float32), (ctx.n_frames, 68, 2))
        return Motion("landmarks68", {"landmarks68": lm}, ctx.fps)


class TrivialRenderer(Renderer):
    def prepare(self, portrait: Portrait, ctx: RunContext) -> None:
        img = portrait.image.astype(np.int16) + self.config.shade
        self.image = np.clip(img, 0, 255).astype(np.uint8)

    def render(self, motion: Motion, ctx: RunContext) -> np.ndarray:
        return np.repeat(self.image[None], len(motion), axis=0)


_M = __name__
TRIVIAL_SPECS = (
    ComponentSpec("trivial-faces", "faces", f"{_M}:TrivialFaces", EmptyConfig),
    ComponentSpec("trivial-encoder", "encoders", f"{_M}:TrivialEncoder", EmptyConfig, optional=("input:transcript",),
                  produces=("features:trivial",)),
    ComponentSpec("trivial-controller", "controllers", f"{_M}:TrivialController", EmptyConfig, produces=("emotion",)),
    ComponentSpec("trivial-motion", "motion", f"{_M}:TrivialMotion", EmptyConfig, consumes=("emotion",),
                  produces=("motion:landmarks68",)),
    ComponentSpec("trivial-renderer", "renderers", f"{_M}:TrivialRenderer", TrivialRendererConfig,
                  consumes=("motion:landmarks68",), produces=("frames",)),
)

TRIVIAL_PIPELINE = {
    "face": {"use": "trivial-faces"}, "encoder": {"use": "trivial-encoder"},
    "controller": {"use": "trivial-controller"}, "motion": {"use": "trivial-motion"},
    "renderer": {"use": "trivial-renderer"},
}


def trivial_registry() -> Registry:
    return Registry(extra=TRIVIAL_SPECS)
