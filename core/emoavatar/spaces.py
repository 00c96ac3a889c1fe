"""Motion spaces as published definitions (docs/architecture.md, "Motion spaces").

A motion space is the vocabulary shared by a MotionGenerator that produces ``motion:NAME`` and
a Renderer that consumes it. Its definition lists the tracks a :class:`~emoavatar.types.Motion`
in that space carries and their shapes, with symbolic dimensions: ``T`` is the number of
frames; any other letter (``K``) must take the same value in every track of one Motion.

Main-track rule: a space's main track is named after the space (``landmarks68`` in space
``landmarks68``); :class:`MotionSpace` refuses a definition without it and
:class:`~emoavatar.types.Motion` refuses a motion without it.

A plugin publishes a space with an entry point in the group ``emoavatar.spaces`` naming a
:class:`MotionSpace` in a light module (no torch), e.g. in ``pyproject.toml``::

    [project.entry-points."emoavatar.spaces"]
    blendshapes52 = "my_plugin.spec:BLENDSHAPES52"

Any other plugin then uses ``motion:blendshapes52`` without copying the definition; the runner
checks every produced Motion against it (:func:`check_motion`). The core publishes
``landmarks68`` and ``exp3dmm10`` (below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

Dim = Union[int, str]


@dataclass(frozen=True)
class Track:
    """One named track: ``shape`` with ``"T"`` first (frames); ``required`` tracks must be present."""

    name: str
    shape: tuple[Dim, ...]
    required: bool = True
    description: str = ""

    def __post_init__(self) -> None:
        if not self.shape or self.shape[0] != "T":
            raise ValueError(f"track {self.name!r}: the first dimension must be 'T' (frames), got {self.shape}")


@dataclass(frozen=True)
class MotionSpace:
    """``MotionSpace("landmarks68", (Track("landmarks68", ("T", 68, 2)), Track("pose", ("T", 6), False)))``.

    Tracks not listed are allowed (a generator may add its own); listed ones must have their shape.
    """

    name: str
    tracks: tuple[Track, ...]
    summary: str = ""
    api: str = ">=1.0,<2"

    def __post_init__(self) -> None:
        main = self.track(self.name)
        if main is None or not main.required:
            raise ValueError(f"motion space {self.name!r} must define a required main track named {self.name!r}")

    @property
    def port(self) -> str:
        return f"motion:{self.name}"

    def track(self, name: str) -> Track | None:
        return next((t for t in self.tracks if t.name == name), None)

    def problems(self, motion: Any, n_frames: int | None = None) -> list[str]:
        """What is wrong with ``motion`` for this space (empty when it conforms)."""
        import numpy as np

        out: list[str] = []
        if motion.space != self.name:
            return [f"motion is in space {motion.space!r}, not {self.name!r}"]
        bound: dict[str, int] = {}
        if n_frames is not None:
            bound["T"] = n_frames
        for t in self.tracks:
            if t.name not in motion.tracks:
                if t.required:
                    out.append(f"lacks track {t.name!r} {_fmt(t.shape)}")
                continue
            shape = np.shape(motion.tracks[t.name])
            if len(shape) != len(t.shape):
                out.append(f"track {t.name!r} has shape {shape}, expected {_fmt(t.shape)}")
                continue
            for got, want in zip(shape, t.shape):
                if isinstance(want, int):
                    ok = got == want
                else:
                    ok = bound.setdefault(want, got) == got
                if not ok:
                    out.append(f"track {t.name!r} has shape {shape}, expected {_fmt(t.shape, bound)}")
                    break
        return out


def _fmt(shape: tuple[Dim, ...], bound: dict[str, int] | None = None) -> str:
    bound = bound or {}
    return "[" + ",".join(str(bound.get(d, d)) if isinstance(d, str) else str(d) for d in shape) + "]"


LANDMARKS68 = MotionSpace(
    "landmarks68",
    (
        Track("landmarks68", ("T", 68, 2), description="absolute pixel coordinates in the portrait (iBUG 68 layout)"),
        Track("pose", ("T", 6), required=False, description="rotation (pitch, yaw, roll, rad) + translation"),
        Track("blink", ("T",), required=False, description="eye closure in [0, 1]"),
    ),
    summary="2-D facial landmarks in portrait pixels",
)

EXP3DMM10 = MotionSpace(
    "exp3dmm10",
    (
        Track("exp3dmm10", ("T", "K"), description="expression coefficients over a K-dim basis (10 by default)"),
        Track("pose", ("T", 6), required=False, description="rotation + translation; scale 0 = unknown"),
    ),
    summary="3DMM-like expression coefficients (the basis travels in Motion.meta['basis'])",
)


def check_motion(motion: Any, space: MotionSpace | None, n_frames: int | None = None) -> list[str]:
    """Problems of ``motion`` against its published ``space`` (only row counts when unpublished)."""
    if space is not None:
        return space.problems(motion, n_frames)
    if n_frames is not None and len(motion) != n_frames:
        return [f"{len(motion)} rows for {n_frames} frames"]
    return []
