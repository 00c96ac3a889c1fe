"""Landmark features of the ``landmarks-to-emoportraits`` bridge (numpy only).

A ``motion:landmarks68`` frame is 68 (x, y) points in portrait pixels (iBUG layout, see the published
space ``landmarks68``); a training frame is the same thing in video-frame pixels, as our FaceAnalyzer
finds it. Both are split into

- a rigid part: the similarity transform of the face, estimated on the points that move with the head
  but not with speech (nose and eyes, 27-47, as :mod:`emoavatar.tracking` uses): their centroid c, their
  RMS spread s, and the roll of the line between the eye centres;
- an expression part: all 68 points with that transform removed, ``R(-roll) (L - c) / s``.

The bridge sees one frame relative to a reference face (the portrait in a pipeline, a frame of the same
clip in training): the reference's normalised shape, the change of the normalised shape, and the change
of the rigid transform (translation in reference face units, log scale ratio, roll difference).
"""

from __future__ import annotations

import numpy as np

#: nose and both eyes: the points that define the head's similarity transform
STABLE = np.r_[27:48]
RIGHT_EYE, LEFT_EYE = np.r_[36:42], np.r_[42:48]
N_SHAPE = 68 * 2
N_RIGID = 4
N_INPUT = 2 * N_SHAPE + N_RIGID  # reference shape, shape change, rigid change


def normalise(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[..., 68, 2]`` pixels -> (shape ``[..., 68, 2]`` with the similarity removed, rigid ``[..., 4]``:
    centre x, centre y, log spread, roll in radians)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape[-2:] != (68, 2):
        raise ValueError(f"expected [..., 68, 2] landmarks, got {lm.shape}")
    centre = lm[..., STABLE, :].mean(-2)
    spread = np.sqrt(((lm[..., STABLE, :] - centre[..., None, :]) ** 2).sum(-1).mean(-1))
    eyes = lm[..., LEFT_EYE, :].mean(-2) - lm[..., RIGHT_EYE, :].mean(-2)
    roll = np.arctan2(eyes[..., 1], eyes[..., 0])
    cos, sin = np.cos(-roll)[..., None], np.sin(-roll)[..., None]
    d = (lm - centre[..., None, :]) / np.maximum(spread, 1e-6)[..., None, None]
    shape = np.stack([cos * d[..., 0] - sin * d[..., 1], sin * d[..., 0] + cos * d[..., 1]], -1)
    rigid = np.concatenate([centre, np.log(np.maximum(spread, 1e-6))[..., None], roll[..., None]], -1)
    return shape, rigid


def bridge_inputs(reference: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Reference landmarks ``[68, 2]`` (or ``[T, 68, 2]``, one per frame) and frames ``[T, 68, 2]``
    -> inputs ``[T, N_INPUT]``: reference shape, shape change, rigid change. Identical landmarks give
    zeros after the reference shape (the bridge then outputs no change: the portrait itself)."""
    ref_shape, ref_rigid = normalise(reference)
    shape, rigid = normalise(frames)
    t = len(shape)
    ref_shape = np.broadcast_to(ref_shape, shape.shape)
    ref_rigid = np.broadcast_to(ref_rigid, rigid.shape)
    scale = np.exp(ref_rigid[:, 2:3])
    move = (rigid[:, :2] - ref_rigid[:, :2]) / scale  # in units of the reference face's spread
    roll = np.angle(np.exp(1j * (rigid[:, 3] - ref_rigid[:, 3])))  # wrapped to (-pi, pi]
    rigid_change = np.concatenate([move, rigid[:, 2:3] - ref_rigid[:, 2:3], roll[:, None]], 1)
    out = np.concatenate([ref_shape.reshape(t, -1), (shape - ref_shape).reshape(t, -1), rigid_change], 1)
    return out.astype(np.float32)


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap (62 -> 66) in units of the face's spread, ``[T]``: used to pick the mouth component."""
    shape, _ = normalise(landmarks)
    return (shape[..., 66, 1] - shape[..., 62, 1]).astype(np.float32)
