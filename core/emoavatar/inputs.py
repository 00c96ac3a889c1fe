"""Run inputs beyond the portrait and the speech, offered to stages as *input ports*.

A stage that needs one declares it like any port (``consumes=("input:driving",)``) and reads it from
``ctx.ports`` (only declaring stages see it, :mod:`emoavatar.ports`); the run fails before any work
when a declared one is missing. Input ports are not produced by an upstream stage, so ``validate``
accepts them (they are in ``ports.INPUT_PORTS``) and the run checks them (the CLI may supply them:
``emoavatar run --driving clip.mp4``).

``input:driving`` (``--driving`` / ``inputs.driving``): a video whose motion drives the portrait
(reenactment). Its audio becomes the output's audio unless ``--audio`` is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    from .media.video import VideoInfo

#: file inputs of a run: input port -> (its `inputs.` key, the CLI option that supplies it)
RUN_INPUTS: dict[str, tuple[str, str]] = {"input:driving": ("driving", "--driving")}


def is_input_port(port: str) -> bool:
    return port in RUN_INPUTS


@dataclass
class DrivingVideo:
    """The driving clip: ``path`` and its ``info`` (size, fps, frame count, audio); frames are decoded on demand."""

    path: Path
    info: "VideoInfo" = field(repr=False)

    @classmethod
    def open(cls, path: str | Path) -> "DrivingVideo":
        from .media.video import video_info

        return cls(Path(path), video_info(path))

    def frames(self, chunk: int = 32) -> Iterator[np.ndarray]:
        """uint8 RGB chunks ``[<=chunk, H, W, 3]`` in order."""
        from .media.video import read_video

        return read_video(self.path, chunk)

    def frames_at(self, fps: float, n: int, chunk: int = 32) -> Iterator[np.ndarray]:
        """``n`` frames resampled to ``fps`` (nearest earlier frame; the last frame repeats past the end)."""
        want = np.minimum(np.floor(np.arange(n) * self.info.fps / fps + 1e-6).astype(int), max(0, self.info.n_frames - 1))
        out: list[np.ndarray] = []
        k, last = 0, None
        for i, frame in enumerate(f for c in self.frames(chunk) for f in c):
            last = frame
            while k < n and want[k] == i:
                out.append(frame)
                k += 1
                if len(out) == chunk:
                    yield np.stack(out)
                    out = []
            if k >= n:
                break
        while k < n and last is not None:  # fewer frames than the header said
            out.append(last)
            k += 1
        if out:
            yield np.stack(out)


def stage_inputs(label: str, ports: tuple[str, ...], optional: tuple[str, ...], available: dict) -> dict:
    """The input ports a stage declares, from ``available``; a missing required one is a ConfigError."""
    out = {}
    for p in ports + optional:
        if not is_input_port(p):
            continue
        if p in available:
            out[p] = available[p]
        elif p in ports:
            key, flag = RUN_INPUTS[p]
            raise ConfigError(f"{label} consumes {p} but the run has none",
                              fix=f"pass {flag} FILE or set inputs.{key}")
    return out
