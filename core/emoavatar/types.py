"""The data that flows between stages (docs/architecture.md, "Ports").

Everything here is numpy; the core never imports torch. Shapes use T = video frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np

from .emotions import EMOTIONS

#: Indices of the 68-point (iBUG 300-W) landmark layout used by dlib.
JAW = slice(0, 17)
RIGHT_BROW = slice(17, 22)
LEFT_BROW = slice(22, 27)
NOSE = slice(27, 36)
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
OUTER_LIPS = slice(48, 60)
INNER_LIPS = slice(60, 68)
MOUTH = slice(48, 68)


class Audio:
    """Mono float32 waveform at ``sample_rate``; decoded lazily from ``path`` when needed.

    ``Audio.from_array`` wraps samples already in memory. ``Audio.load`` only probes the
    file; ``.samples`` decodes and resamples it with PyAV on first access, so stages that
    only need ``duration`` never hold the waveform (docs/architecture.md, "Runner").
    """

    def __init__(
        self,
        samples: np.ndarray | None = None,
        sample_rate: int = 16000,
        *,
        path: Path | None = None,
        duration: float | None = None,
    ) -> None:
        if samples is None and path is None:
            raise ValueError("Audio needs samples or a path")
        if samples is not None:
            samples = np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
            duration = len(samples) / float(sample_rate)
        self._samples = samples
        self.sample_rate = int(sample_rate)
        self.path = Path(path) if path is not None else None
        self._duration = duration

    @classmethod
    def from_array(cls, samples: np.ndarray, sample_rate: int) -> "Audio":
        return cls(samples, sample_rate)

    @classmethod
    def load(cls, path: str | Path, sample_rate: int = 16000) -> "Audio":
        from .media.audio import probe_duration

        path = Path(path)
        return cls(None, sample_rate, path=path, duration=probe_duration(path))

    @property
    def samples(self) -> np.ndarray:
        if self._samples is None:
            from .media.audio import decode_audio

            self._samples = decode_audio(self.path, self.sample_rate)
            self._duration = len(self._samples) / float(self.sample_rate)
        return self._samples

    def at_rate(self, rate: int) -> np.ndarray:
        """The waveform as mono float32 at ``rate`` (decoded straight to ``rate`` from a file)."""
        if rate == self.sample_rate:
            return self.samples
        if self.path is not None and self._samples is None:
            from .media.audio import decode_audio

            return decode_audio(self.path, rate)
        from .media.audio import resample

        return resample(self.samples, self.sample_rate, rate)

    @property
    def duration(self) -> float:
        if self._duration is None:
            return len(self.samples) / float(self.sample_rate)
        return self._duration

    def n_frames(self, fps: float) -> int:
        """Number of video frames covering the audio: round(duration * fps), at least 1."""
        return max(1, int(round(self.duration * fps)))

    def __repr__(self) -> str:
        src = self.path if self.path else "array"
        return f"Audio({src}, {self.duration:.2f}s @ {self.sample_rate} Hz)"


@dataclass
class AudioFeatures:
    """Per-frame features ``values [T, D]`` at ``fps``; ``kind`` names the port (``features:KIND``).

    ``names`` optionally labels the D columns (e.g. viseme names, ``energy``/``pitch``).
    ``meta`` carries extras such as recognised phone segments with timings. ``ports`` holds the
    other ports the encoder produces beside ``features:KIND`` (each declared in its spec's
    ``produces``), e.g. ``{"words": [("hello", 0.12, 0.48), ...]}`` from a forced aligner.
    """

    values: np.ndarray
    kind: str
    fps: float
    names: tuple[str, ...] | None = None
    meta: dict = field(default_factory=dict)
    ports: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        if self.values.ndim != 2:
            raise ValueError(f"AudioFeatures[{self.kind}] must be [T, D], got {self.values.shape}")
        if self.names is not None and len(self.names) != self.values.shape[1]:
            raise ValueError(f"AudioFeatures[{self.kind}]: {len(self.names)} names for D={self.values.shape[1]}")

    def __len__(self) -> int:
        return self.values.shape[0]

    def column(self, name: str) -> np.ndarray:
        if not self.names or name not in self.names:
            raise KeyError(f"features:{self.kind} has no column {name!r} (has {self.names})")
        return self.values[:, self.names.index(name)]


class FeatureSet(dict):
    """The pipeline's audio features by kind. Look-ups accept the kind or the port name:
    ``features["visemes"] is features["features:visemes"]``."""

    @staticmethod
    def _key(key: object) -> object:
        return key[9:] if isinstance(key, str) and key.startswith("features:") else key

    def __getitem__(self, key: object) -> AudioFeatures:
        return super().__getitem__(self._key(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._key(key))

    def get(self, key: object, default: object = None):  # type: ignore[override]
        return super().get(self._key(key), default)

    def add(self, features: AudioFeatures) -> None:
        self[features.kind] = features


@dataclass
class EmotionState:
    """Per-frame emotion: ``weights [T, E]`` over :data:`EMOTIONS` (rows sum to 1),
    ``intensity [T]`` in [0, 1], optional FACS targets ``au [T, K]`` named by ``au_names``
    (NaN = not overridden), optional ``latent [T, L]``.

    Optional region gates (MoEE's local gating): ``regions`` names R face regions (the
    controller documents which AUs each covers; ``moee`` uses ``("brows", "eyes", "mouth")``)
    and ``region_weights [T, R, E]`` gives each region its own distribution over the
    vocabulary (each ``[t, r]`` row sums to 1). ``None`` = no regional difference: every
    region follows ``weights``."""

    weights: np.ndarray
    intensity: np.ndarray
    au: np.ndarray | None = None
    au_names: tuple[str, ...] = ()
    latent: np.ndarray | None = None
    vocabulary: tuple[str, ...] = EMOTIONS
    regions: tuple[str, ...] = ()
    region_weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, dtype=np.float32)
        self.intensity = np.asarray(self.intensity, dtype=np.float32).reshape(-1)
        if self.weights.ndim != 2 or self.weights.shape[1] != len(self.vocabulary):
            raise ValueError(f"EmotionState.weights must be [T, {len(self.vocabulary)}], got {self.weights.shape}")
        if self.intensity.shape[0] != self.weights.shape[0]:
            raise ValueError("EmotionState.intensity must have one value per frame")
        if self.au is not None:
            self.au = np.asarray(self.au, dtype=np.float32)
            if self.au.shape != (self.weights.shape[0], len(self.au_names)):
                raise ValueError(f"EmotionState.au must be [T, {len(self.au_names)}], got {self.au.shape}")
        if self.region_weights is not None:
            self.regions = tuple(self.regions)
            rw = self.region_weights = np.asarray(self.region_weights, dtype=np.float32)
            want = (self.weights.shape[0], len(self.regions), len(self.vocabulary))
            if not self.regions or rw.shape != want:
                raise ValueError(f"EmotionState.region_weights must be [T, R, E] = {want} (R = len(regions)), "
                                 f"got {rw.shape}")
            if not np.isfinite(rw).all() or (rw < 0).any() or not np.allclose(rw.sum(-1), 1.0, atol=1e-3):
                raise ValueError("EmotionState.region_weights rows must be >= 0 and sum to 1")

    def __len__(self) -> int:
        return self.weights.shape[0]

    def weight(self, emotion: str) -> np.ndarray:
        return self.weights[:, self.vocabulary.index(emotion)]

    def dominant(self) -> list[str]:
        return [self.vocabulary[i] for i in self.weights.argmax(1)]

    def region(self, name: str) -> np.ndarray:
        """Weights ``[T, E]`` of face region ``name`` (the global ``weights`` without region gates)."""
        if self.region_weights is None or name not in self.regions:
            return self.weights
        return self.region_weights[:, self.regions.index(name)]


@dataclass
class Motion:
    """Named per-frame tracks in a declared ``space`` (the port is ``motion:SPACE``).

    E.g. space ``landmarks68``: ``tracks = {"landmarks68": [T,68,2] absolute pixel coords,
    "pose": [T,6], "blink": [T]}``. Every track has T rows.
    """

    space: str
    tracks: dict[str, np.ndarray]
    fps: float
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {k: len(v) for k, v in self.tracks.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"Motion tracks differ in length: {lengths}")
        if self.space not in self.tracks:
            raise ValueError(f"Motion in space {self.space!r} lacks its main track")

    def __len__(self) -> int:
        return len(self.tracks[self.space])

    def slice(self, start: int, stop: int) -> "Motion":
        return replace(self, tracks={k: v[start:stop] for k, v in self.tracks.items()},
                       meta={**self.meta, "start": start})


@dataclass
class Face:
    """One detected face: ``box`` (x0, y0, x1, y1), ``landmarks [68, 2]`` (x, y pixels),
    detector ``score``, optional 128-d identity ``embedding``."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray
    score: float = 1.0
    embedding: np.ndarray | None = None

    @property
    def size(self) -> float:
        """Inter-ocular distance in pixels: the scale that motion is expressed in."""
        lm = self.landmarks
        return float(np.linalg.norm(lm[LEFT_EYE].mean(0) - lm[RIGHT_EYE].mean(0)))


@dataclass
class Portrait:
    """The source image (uint8 RGB ``[H, W, 3]``) plus what a FaceAnalyzer found on it."""

    image: np.ndarray
    face: Face
    path: Path | None = None

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


#: A chunk of frames: uint8 RGB ``[N, H, W, 3]``.
Frames = np.ndarray


@dataclass
class MetricResult:
    """``values``: scalar results by name; ``series``: per-frame tracks worth plotting;
    ``notes``: why something was skipped or how it was computed."""

    values: Mapping[str, float]
    series: Mapping[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
