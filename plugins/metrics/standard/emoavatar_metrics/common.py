"""What several metrics share, computed once per video and kept in ``sample.cache``:
decoded frames, tracked faces / landmarks, the speech track, the portrait's face.

Cache keys: ``("frames", path)``, ``("faces", path)``, ``("landmarks", path)``, ``("audio", path)``,
``("portrait_face", path)``, ``("fps", path)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from emoavatar.errors import FaceNotFoundError, MediaError, WeightsNotFoundError
from emoavatar.interfaces import EvalSample, FaceAnalyzer, RunContext
from emoavatar.tracking import track_faces
from emoavatar.types import LEFT_EYE, RIGHT_EYE, Face

AUDIO_RATE = 16000


def _source(sample: EvalSample, which: str) -> Path:
    path = getattr(sample, which)
    if path is None:
        raise MediaError(f"no {which} given for {sample.video}")
    return Path(path)


def frames(sample: EvalSample, which: str = "video") -> np.ndarray:
    """All frames of ``sample.<which>`` (video or reference) as uint8 ``[T, H, W, 3]``, decoded once."""
    from emoavatar.media import read_video

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
        from emoavatar.media import video_info

        sample.cache[key] = video_info(sample.video).fps
    return sample.cache[key]


def face_analyzer(ctx: RunContext) -> FaceAnalyzer:
    """``ctx.face`` if set, else the registered ``dlib`` analyzer (built once per context)."""
    if ctx.face is None:
        from emoavatar.registry import get_registry

        ctx.face = get_registry().create("faces", "dlib")
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


def portrait_image(sample: EvalSample) -> np.ndarray:
    from emoavatar.media import read_image

    path = _source(sample, "portrait")
    key = ("image", str(path))
    if key not in sample.cache:
        sample.cache[key] = read_image(path)
    return sample.cache[key]


def portrait_face(sample: EvalSample, ctx: RunContext) -> Face:
    """The portrait's main face with its embedding (cached)."""
    path = _source(sample, "portrait")
    key = ("portrait_face", str(path))
    if key not in sample.cache:
        sample.cache[key] = face_analyzer(ctx).analyze(portrait_image(sample), source=str(path))
    return sample.cache[key]


def speech(sample: EvalSample) -> np.ndarray:
    """Mono float32 speech at 16 kHz: ``sample.audio`` if given, else the video's own track."""
    from emoavatar.media import decode_audio

    path = Path(sample.audio) if sample.audio is not None else Path(sample.video)
    key = ("audio", str(path))
    if key not in sample.cache:
        sample.cache[key] = decode_audio(path, AUDIO_RATE)
    return sample.cache[key]


def inter_ocular(lm: np.ndarray) -> np.ndarray:
    """Distance between the eye centres, per frame, for ``[..., 68, 2]`` landmarks."""
    return np.linalg.norm(lm[..., LEFT_EYE, :].mean(-2) - lm[..., RIGHT_EYE, :].mean(-2), axis=-1)


def crop_box(box: tuple[float, float, float, float], margin: float, width: int, height: int) -> tuple[int, ...]:
    """Face box grown by ``margin`` of its size on each side, clipped to the image: (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * margin, (y1 - y0) * margin
    return (max(0, round(x0 - mx)), max(0, round(y0 - my)),
            min(width, round(x1 + mx)), min(height, round(y1 + my)))


def check_same_rate(sample: EvalSample) -> None:
    """Frame-by-frame comparison needs equal frame rates: MediaError otherwise."""
    from emoavatar.media import video_info

    key = ("fps", str(_source(sample, "reference")))
    if key not in sample.cache:
        sample.cache[key] = video_info(sample.reference).fps
    gen, ref = fps(sample), sample.cache[key]
    if abs(gen - ref) > 0.01:
        raise MediaError(f"generated video is {gen:g} fps but the reference {ref:g} fps: frames cannot be paired",
                         fix="render at the reference's frame rate (emoavatar run --fps)")


def paired(a: np.ndarray, b: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Trim two per-frame arrays to the shorter length, with a note when they differ."""
    n = min(len(a), len(b))
    notes = [f"{what}: generated has {len(a)} frames, reference {len(b)}; compared the first {n}"] \
        if len(a) != len(b) else []
    return a[:n], b[:n], notes


def read_checkpoint(path: Path, what: str, fix: str | None = None) -> dict:
    """``torch.load(weights_only=True)`` of a state dict (a ``{"state_dict": ...}`` wrapper unwrapped);
    a file that is not one is a one-line :class:`WeightsNotFoundError`, not a raw torch error."""
    import pickle
    import zipfile

    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError) as e:
        raise WeightsNotFoundError(f"{path} is not {what} readable with weights_only=True "
                                   f"({' '.join(str(e).split())[:160]})", fix=fix) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsNotFoundError(f"{path} holds a {type(state).__name__}, not {what}", fix=fix)
    return state


def load_weights(model, state: dict, path: Path, what: str, fix: str | None = None):
    """Load a torch ``state`` into ``model``; a checkpoint of another network is a one-line
    :class:`WeightsNotFoundError` naming ``what`` was expected, not a wall of key names."""
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatch
        why = " ".join(str(e).split())[:240]
        raise WeightsNotFoundError(f"{path} is not {what}: {why}") from None
    if missing:
        raise WeightsNotFoundError(f"{path} is not {what}: missing {missing[:3]} ({len(missing)} keys), "
                                   f"unexpected {list(unexpected)[:3]}", fix=fix)
    return model
