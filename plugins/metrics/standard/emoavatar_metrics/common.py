"""What several metrics share, computed once per video and kept in ``sample.cache``:
decoded frames, tracked faces / landmarks, the speech track, the portrait's face.

Cache keys: ``("frames", path)``, ``("faces", path)``, ``("landmarks", path)``, ``("audio", path)``,
``("portrait_face", path)``, ``("fps", path)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from emoavatar.errors import MediaError, WeightsNotFoundError

# frames, faces, landmarks, fps: the evaluation's shared per-video cache (emoavatar.evaluation.shared),
# so landmarks tracked once serve every metric, including other distributions'
from emoavatar.evaluation.shared import (  # noqa: E402,F401 - re-exported for this package's metrics
    REDETECT_EVERY,
    _source,
    face_analyzer,
    faces,
    fps,
    frames,
    landmarks,
    missing_note,
)
from emoavatar.interfaces import EvalSample, RunContext
from emoavatar.types import LEFT_EYE, RIGHT_EYE, Face

AUDIO_RATE = 16000


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
