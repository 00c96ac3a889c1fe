"""Paths to, and loaders of, the kit's bundled media."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def kit_speech_path() -> Path:
    """2.0 s of English speech (espeak-ng, "Hello, how are you?"), 16 kHz mono WAV."""
    return HERE / "speech_2s.wav"


def kit_portrait_path() -> Path:
    """256x256 crop of the public-domain NASA astronaut portrait (scikit-image's ``astronaut``)."""
    return HERE / "portrait_256.png"


def kit_portrait():
    """The kit portrait with its face (68 landmarks, box, 128-d embedding) precomputed by dlib."""
    from ...media import read_image
    from ...types import Face, Portrait

    meta = json.loads((HERE / "portrait_256.face.json").read_text())
    face = Face(tuple(meta["box"]), np.asarray(meta["landmarks"], dtype=np.float32), float(meta["score"]),
                np.asarray(meta["embedding"], dtype=np.float32))
    return Portrait(read_image(kit_portrait_path()), face, kit_portrait_path())
