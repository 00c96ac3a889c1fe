"""Face tracking through a video: detect once, then follow the face with cheap landmark fits.

Full face detection searches the whole image at several scales (dlib HOG: ~180 ms for a 512x512
frame); fitting 68 landmarks inside a known box takes a few ms. :func:`track_faces` detects the
face on the first frame and then, frame by frame, fits the landmarks (:meth:`FaceAnalyzer.fit`)
inside the previous frame's box, moved along with the centroid of the nose and eye landmarks
(not all 68: the box must not follow the jaw when the mouth opens). It detects again

- whenever the track is lost: no fit, landmarks (mostly) outside the image, a landmark spread that
  collapsed or exploded against the last detection, or a face region that no longer looks like the
  previous frame's (a cut, a blank frame: a landmark fitter always returns *some* shape);
- every ``redetect_every`` frames, to re-anchor the box on a real detection (the detected face that
  overlaps the current track is taken; none overlapping: the track is lost and the main face of
  that frame starts a new one).

Frames where detection finds no face give None. Numpy only (the core does not import cv2).
"""

from __future__ import annotations

from typing import Iterable, Protocol

import numpy as np

from .geometry import Box, box_iou, main_face
from .types import LEFT_EYE, NOSE, RIGHT_EYE, Face


class FaceAnalyzer(Protocol):
    """What the tracker needs of a :class:`emoavatar.interfaces.FaceAnalyzer` (not imported here)."""

    def detect(self, image: np.ndarray) -> list[Face]: ...

    def fit(self, image: np.ndarray, box: Box) -> Face | None: ...

#: A fit is lost when more than this fraction of its landmarks lies outside the image ...
MAX_OUTSIDE = 0.25
#: ... or its landmark spread leaves [SPREAD_RANGE] times the spread at the last detection ...
SPREAD_RANGE = (0.6, 1.6)
#: ... or the face region correlates less than this with the previous frame's (normalised
#: cross-correlation of a 16x16 block-mean grey thumbnail of the box).
MIN_SIMILARITY = 0.5
THUMB = 16
#: The box moves with the centroid of the nose and eyes (27-47): points that move with the head but
#: not with speech (the jaw and lips would drag the box down whenever the mouth opens).
STABLE = np.r_[NOSE, RIGHT_EYE, LEFT_EYE]


def landmark_spread(landmarks: np.ndarray) -> float:
    """RMS distance of the landmarks from their centroid (pixels): the face's scale."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return float(np.sqrt(((lm - lm.mean(0)) ** 2).sum(-1).mean()))


def thumbnail(image: np.ndarray, box: Box) -> np.ndarray | None:
    """Grey ``[16, 16]`` block means of ``image`` inside ``box`` (clipped); None if the box is
    (almost) outside the image."""
    h, w = image.shape[:2]
    x0, y0 = max(0, int(round(box[0]))), max(0, int(round(box[1])))
    x1, y1 = min(w, int(round(box[2]))), min(h, int(round(box[3])))
    if x1 - x0 < THUMB or y1 - y0 < THUMB:
        return None
    crop = np.asarray(image[y0:y1, x0:x1], dtype=np.float32)
    grey = crop.mean(-1) if crop.ndim == 3 else crop
    rows = np.linspace(0, grey.shape[0], THUMB + 1).astype(int)[:-1]
    cols = np.linspace(0, grey.shape[1], THUMB + 1).astype(int)[:-1]
    sums = np.add.reduceat(np.add.reduceat(grey, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, grey.shape[0])), np.diff(np.append(cols, grey.shape[1])))
    return sums / counts


def similarity(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Normalised cross-correlation of two thumbnails; 0 if either is missing or flat."""
    if a is None or b is None:
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-6 else 0.0


def _main_face(faces: list[Face]) -> Face | None:
    """The face a new track starts from: :meth:`FaceAnalyzer.main_face`'s rule."""
    return main_face(faces)


class _Track:
    """State of one followed face: the last detection (anchor) and the current frame's fit."""

    def __init__(self, face: Face, image: np.ndarray) -> None:
        self.anchor_box = np.asarray(face.box, dtype=np.float64)
        self.anchor_centroid = np.asarray(face.landmarks, np.float64)[STABLE].mean(0)
        self.anchor_spread = landmark_spread(face.landmarks)
        self.score = face.score
        self.box: Box = tuple(float(v) for v in face.box)
        self.thumb = thumbnail(image, self.box)

    def box_at(self, landmarks: np.ndarray) -> Box:
        """The anchor's detector box moved by the shift of the STABLE points' centroid since the detection."""
        shift = landmarks[STABLE].mean(0) - self.anchor_centroid
        return tuple(float(v) for v in self.anchor_box + np.tile(shift, 2))

    def accept(self, face: Face | None, image: np.ndarray) -> Face | None:
        """``face`` with its box following the landmarks, or None if the fit lost the face."""
        if face is None:
            return None
        lm = np.asarray(face.landmarks, dtype=np.float64)
        h, w = image.shape[:2]
        outside = (lm[:, 0] < 0) | (lm[:, 0] >= w) | (lm[:, 1] < 0) | (lm[:, 1] >= h)
        ratio = landmark_spread(lm) / max(self.anchor_spread, 1e-6)
        if outside.mean() > MAX_OUTSIDE or not SPREAD_RANGE[0] <= ratio <= SPREAD_RANGE[1]:
            return None
        box = self.box_at(lm)
        thumb = thumbnail(image, box)
        if similarity(thumb, self.thumb) < MIN_SIMILARITY:
            return None
        self.box, self.thumb = box, thumb
        score = self.score if np.isnan(face.score) else face.score
        return Face(box=box, landmarks=face.landmarks, score=score, embedding=face.embedding)


def track_faces(
    analyzer: FaceAnalyzer,
    frames: Iterable[np.ndarray],
    *,
    redetect_every: int = 25,
    min_iou: float = 0.5,
) -> list[Face | None]:
    """The main face of every frame (None where there is none), found by tracking.

    Frame 0, every frame after a loss, and every ``redetect_every``-th frame since the last
    detection run ``analyzer.detect``; a re-anchoring detection keeps the detected face whose box
    overlaps the current track's by IoU >= ``min_iou`` (else the frame's main face starts a new
    track). All other frames run ``analyzer.fit`` in the previous frame's box, shifted by how far
    the centroid of the nose and eye landmarks has moved, so the box follows the head as the
    detector's would. A fitted face keeps the anchor detection's score when the fitter gives NaN.
    ``redetect_every <= 1`` detects on every frame (the tracker then only chooses which face to
    follow). A fit is lost (and the frame detected) by the MAX_OUTSIDE, SPREAD_RANGE and
    MIN_SIMILARITY tests above.
    """
    out: list[Face | None] = []
    track: _Track | None = None
    since = 0  # frames since the last detection
    for image in frames:
        face: Face | None = None
        if track is not None and since + 1 < max(1, redetect_every):
            fitted = analyzer.fit(image, track.box)
            face = track.accept(fitted, image)
            since += 1
        if face is None:
            found = analyzer.detect(image)
            if track is not None:
                overlap = [(box_iou(f.box, track.box), f) for f in found]
                best = max(overlap, key=lambda p: p[0], default=(0.0, None))
                face = best[1] if best[0] >= min_iou else None
            if face is None:
                face = _main_face(found)
            track = _Track(face, image) if face is not None else None
            since = 0
        out.append(face)
    return out
