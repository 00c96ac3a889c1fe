"""What metrics share, computed once per video and kept in ``sample.cache`` (a documented API for
metric plugins; docs/writing-plugins.md, "Metrics").

``evaluate`` (and every metric that asks first) tracks the face through each video once; any
metric, from any distribution, reuses it::

    from emoavatar.evaluation.shared import frames, landmarks

    lm = landmarks(sample, ctx)            # [T, 68, 2] float, tracked once per video
    ref = landmarks(sample, ctx, "reference")

Cache keys: ``("frames", path)``, ``("faces", path)``, ``("landmarks", path)``, ``("fps", path)``,
``("face_missing", path)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FaceNotFoundError, MediaError
from ..interfaces import EvalSample, FaceAnalyzer, RunContext
from ..tracking import track_faces
from ..types import Face


def _source(sample: EvalSample, which: str) -> Path:
    path = getattr(sample, which)
    if path is None:
        raise MediaError(f"no {which} given for {sample.video}")
    return Path(path)


def frames(sample: EvalSample, which: str = "video") -> np.ndarray:
    """All frames of ``sample.<which>`` (video or reference) as uint8 ``[T, H, W, 3]``, decoded once."""
    from ..media import read_video

    path = _source(sample, which)
    key = ("frames", str(path))
    if key not in sample.cache:
        chunks = list(read_video(path))
        if not chunks:
            raise MediaError(f"{path} contains no video frames")
        sample.cache[key] = np.concatenate(chunks)
    return sample.cache[key]


def fps(sample: EvalSample) -> float:
    """Frame rate of the generated video (``sample.fps`` overrides the container's)."""
    if sample.fps:
        return float(sample.fps)
    key = ("fps", str(sample.video))
    if key not in sample.cache:
        from ..media import video_info

        sample.cache[key] = video_info(sample.video).fps
    return sample.cache[key]


def face_analyzer(ctx: RunContext) -> FaceAnalyzer:
    """``ctx.face`` (the analyzer ``evaluate --face`` chose) if set, else the installed default
    face analyzer (:meth:`Registry.default`), built once per context."""
    if ctx.face is None:
        from ..registry import get_registry

        reg = get_registry()
        ctx.face = reg.create("faces", reg.default("faces"))
    return ctx.face


#: Full face detection every this many frames when the analyzer's config does not say
#: (``redetect_every``, e.g. ``--set face.redetect_every=10``); landmark fits in between.
REDETECT_EVERY = 25


def faces(sample: EvalSample, ctx: RunContext, which: str = "video") -> list[Face | None]:
    """The main face of every frame (None where none was found), tracked once per video
    (:func:`emoavatar.tracking.track_faces`: a full detection every ``redetect_every`` frames and
    whenever the track is lost, cheap landmark fits in the moving box in between)."""
    path = _source(sample, which)
    key = ("faces", str(path))
    if key not in sample.cache:
        fa = face_analyzer(ctx)
        every = int(getattr(fa.config, "redetect_every", REDETECT_EVERY))
        sample.cache[key] = track_faces(fa, frames(sample, which), redetect_every=every)
    return sample.cache[key]


def landmarks(sample: EvalSample, ctx: RunContext, which: str = "video") -> np.ndarray:
    """``[T, 68, 2]`` float landmarks; frames without a face are filled from the nearest detected
    frame (linear interpolation). FaceNotFoundError when no frame has a face."""
    path = _source(sample, which)
    key = ("landmarks", str(path))
    if key not in sample.cache:
        found = faces(sample, ctx, which)
        ok = np.array([f is not None for f in found])
        if not ok.any():
            raise FaceNotFoundError(f"no face found in any frame of {path}")
        lm = np.full((len(found), 68, 2), np.nan, dtype=np.float64)
        for i, f in enumerate(found):
            if f is not None:
                lm[i] = f.landmarks
        if not ok.all():
            t, good = np.arange(len(found)), np.flatnonzero(ok)
            flat = lm.reshape(len(found), -1)
            for c in range(flat.shape[1]):
                flat[:, c] = np.interp(t, good, flat[good, c])
            lm = flat.reshape(-1, 68, 2)
        sample.cache[key] = lm
        sample.cache[("face_missing", str(path))] = int((~ok).sum())
    return sample.cache[key]


def missing_note(sample: EvalSample, which: str = "video") -> list[str]:
    n = sample.cache.get(("face_missing", str(_source(sample, which))), 0)
    return [f"no face in {n} {which} frame(s); landmarks interpolated there"] if n else []
