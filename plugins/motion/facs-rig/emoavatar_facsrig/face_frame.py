"""The face-normalised frame every displacement is defined in.

Origin: midpoint of the two eye centres. x axis: from the subject's right eye (image left) to
the left eye, so it follows the eye line of a rotated face; y axis: perpendicular, pointing
down the face. Unit: the inter-ocular distance (IOD). A displacement ``d`` in face units moves
a landmark by ``IOD · (d_x ex + d_y ey)`` pixels, so the same expression scales and rotates
with the portrait's face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from emoavatar.types import LEFT_EYE, RIGHT_EYE


@dataclass(frozen=True)
class FaceFrame:
    origin: np.ndarray  # [2] pixels
    axes: np.ndarray  # [2, 2] rows ex, ey (unit vectors in pixel space)
    iod: float  # pixels

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> FaceFrame:
        lm = np.asarray(landmarks, np.float64)
        right, left = lm[RIGHT_EYE].mean(0), lm[LEFT_EYE].mean(0)
        v = left - right
        iod = float(np.linalg.norm(v))
        if not np.isfinite(iod) or iod < 1e-6:
            raise ValueError("degenerate landmarks: the eyes coincide")
        ex = v / iod
        ey = np.array([-ex[1], ex[0]])  # +90° in image coordinates (y down): points down the face
        return cls((right + left) / 2.0, np.stack([ex, ey]), iod)

    def to_face(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates ``[..., 2]`` -> face units."""
        return (np.asarray(points, np.float64) - self.origin) @ self.axes.T / self.iod

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Face units ``[..., 2]`` -> pixel coordinates."""
        return np.asarray(points, np.float64) * self.iod @ self.axes + self.origin

    def vectors_to_pixels(self, d: np.ndarray) -> np.ndarray:
        """Displacements in face units -> pixel displacements (no translation)."""
        return np.asarray(d, np.float64) * self.iod @ self.axes

    @property
    def angle(self) -> float:
        """In-plane rotation of the eye line, radians."""
        return float(np.arctan2(self.axes[0, 1], self.axes[0, 0]))


#: Rough depth of each landmark towards the camera (face units), used only to turn small
#: yaw/pitch rotations into a plausible 2-D parallax. Hand-set: jaw contour recedes towards
#: the ears, the nose protrudes.
DEPTH = np.array(
    [-0.75, -0.62, -0.48, -0.34, -0.18, -0.04, 0.08, 0.16, 0.19, 0.16, 0.08, -0.04, -0.18, -0.34, -0.48, -0.62, -0.75]
    + [0.0, 0.12, 0.2, 0.25, 0.27, 0.27, 0.25, 0.2, 0.12, 0.0]
    + [0.25, 0.38, 0.5, 0.62, 0.4, 0.45, 0.5, 0.45, 0.4]
    + [0.0, 0.08, 0.08, 0.06, 0.06, 0.06, 0.06, 0.08, 0.08, 0.0, 0.06, 0.06]
    + [0.3, 0.38, 0.44, 0.46, 0.44, 0.38, 0.3, 0.36, 0.4, 0.42, 0.4, 0.36]
    + [0.32, 0.38, 0.4, 0.38, 0.32, 0.37, 0.38, 0.37],
    np.float64,
)
assert DEPTH.shape == (68,)
