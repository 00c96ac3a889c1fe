"""The six component kinds. A plugin subclasses one and is built as ``Class(config)``,
where ``config`` is an instance of the pydantic model its :class:`~emoavatar.spec.ComponentSpec`
declares. Weights load lazily (first call), never at import time.

Every stage method receives the :class:`RunContext` of the run (fps, frame count, seed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from .emotions import EmotionRequest
from .errors import FaceNotFoundError
from .types import Audio, AudioFeatures, EmotionState, Face, MetricResult, Motion, Portrait


@dataclass
class RunContext:
    """What every stage may know about the run: ``fps``, ``n_frames`` (T), ``seed`` and a
    seeded ``rng``; ``face`` is the pipeline's FaceAnalyzer (for stages that need one).

    ``ports``: the run's port values the stage declares (``ctx.ports.get("input:transcript")``,
    ``ctx.ports.get("words")``); reading an undeclared one raises PortError (see
    :mod:`emoavatar.ports`). ``extras`` holds run facts that are not ports (portrait_path,
    audio_path, request)."""

    fps: float = 25.0
    n_frames: int = 0  # T
    seed: int = 0
    face: "FaceAnalyzer | None" = None
    extras: dict = field(default_factory=dict)
    ports: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)


class Component(ABC):  # noqa: B024 - a common base; each kind adds its abstract method
    """Base of all kinds. ``kind`` names the entry-point group suffix."""

    kind: ClassVar[str] = ""

    def __init__(self, config: Any = None) -> None:
        self.config = config


class AudioEncoder(Component):
    """waveform -> per-frame features at the pipeline fps (port ``features:KIND``)."""

    kind = "encoders"

    @abstractmethod
    def encode(self, audio: Audio, ctx: RunContext) -> AudioFeatures:
        """Return ``ctx.n_frames`` rows of features."""


# ``features`` passed to controllers and motion generators is a :class:`~emoavatar.types.FeatureSet`:
# look-ups accept the kind (``features["visemes"]``) or the port (``features["features:visemes"]``).


class EmotionController(Component):
    """An emotion request (+ audio features) -> per-frame :class:`EmotionState` (port ``emotion``)."""

    kind = "controllers"

    @abstractmethod
    def control(
        self, request: EmotionRequest, features: Mapping[str, AudioFeatures], ctx: RunContext
    ) -> EmotionState:
        """Return an EmotionState with ``ctx.n_frames`` rows."""


class MotionGenerator(Component):
    """features + EmotionState (+ the portrait's face) -> per-frame :class:`Motion` (port ``motion:SPACE``)."""

    kind = "motion"

    @abstractmethod
    def generate(
        self,
        features: Mapping[str, AudioFeatures],
        emotion: EmotionState,
        portrait: Portrait,
        ctx: RunContext,
    ) -> Motion:
        """Return Motion with ``ctx.n_frames`` rows."""


class Renderer(Component):
    """portrait + Motion -> frames, chunk by chunk (port ``frames``).

    ``prepare`` is called once per portrait, then ``render`` once per chunk of motion in
    order; ``motion.meta['start']`` is the chunk's first frame index.
    """

    kind = "renderers"

    def prepare(self, portrait: Portrait, ctx: RunContext) -> None:
        """Precompute what depends only on the portrait (meshes, features). Optional."""
        self._portrait = portrait

    @abstractmethod
    def render(self, motion: Motion, ctx: RunContext) -> np.ndarray:
        """Return uint8 RGB ``[len(motion), H, W, 3]``."""


@dataclass
class EvalSample:
    """One generated video to evaluate and whatever is known about it."""

    video: Path
    reference: Path | None = None
    portrait: Path | None = None
    audio: Path | None = None
    emotion: EmotionRequest | None = None
    fps: float | None = None
    cache: dict = field(default_factory=dict)  # shared between metrics (frames, landmarks)


class Metric(Component):
    """generated (and reference) video -> numbers. ``requires`` lists the EvalSample fields
    that must be present (e.g. ``{"reference"}``); without them the metric is skipped with a note."""

    kind = "metrics"
    requires: ClassVar[frozenset[str]] = frozenset()

    @abstractmethod
    def evaluate(self, sample: EvalSample, ctx: RunContext) -> MetricResult:
        ...


class FaceAnalyzer(Component):
    """detect faces with 68 landmarks (or fit them in a known box, for tracking); embed identity."""

    kind = "faces"

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces in a uint8 RGB image, each with 68 landmarks, largest first."""

    @abstractmethod
    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """Identity embedding of ``face`` in ``image`` (e.g. 128-d, unit-free distance)."""

    def fit(self, image: np.ndarray, box: tuple[float, float, float, float]) -> Face | None:
        """The face inside ``box`` (x0, y0, x1, y1) with 68 landmarks, without searching the image:
        what a tracker calls between detections (:func:`emoavatar.tracking.track_faces`), so it
        should be cheap. ``score`` may be NaN when the fitter has none. None if there is no face.

        This default runs :meth:`detect` on the whole image and returns the face whose box overlaps
        ``box`` most (IoU > 0.3); analyzers with a landmark fitter override it."""
        from .geometry import box_iou

        scored = [(box_iou(f.box, box), f) for f in self.detect(image)]
        iou, face = max(scored, key=lambda p: p[0], default=(0.0, None))
        return face if iou > 0.3 else None

    @staticmethod
    def main_face(faces: list[Face]) -> Face | None:
        """The main face among ``faces`` (None if empty): see :func:`emoavatar.geometry.main_face`."""
        from .geometry import main_face

        return main_face(faces)

    def analyze(self, image: np.ndarray, *, source: str = "image", embed: bool = True) -> Face:
        """The :meth:`main_face` with its embedding; :class:`FaceNotFoundError` if none."""
        face = self.main_face(self.detect(image))
        if face is None:
            raise FaceNotFoundError(
                f"no face found in {source}", fix="use a photo with one clearly visible, roughly frontal face"
            )
        if embed and face.embedding is None:
            face.embedding = np.asarray(self.embed(image, face), dtype=np.float32)
        return face


KINDS: dict[str, type[Component]] = {
    cls.kind: cls for cls in (AudioEncoder, EmotionController, MotionGenerator, Renderer, Metric, FaceAnalyzer)
}
