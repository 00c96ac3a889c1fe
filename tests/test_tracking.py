"""emoavatar.tracking: follow a face with landmark fits between detections.

The dlib tests render a short clip from examples/portrait.png (the astronaut, face box ~90 px)
with small shifts, rotations and zooms, and a blank frame in the middle, then compare the
tracked landmarks with per-frame detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from emoavatar.errors import FaceNotFoundError
from emoavatar.interfaces import FaceAnalyzer
from emoavatar.tracking import box_iou, landmark_spread, similarity, thumbnail, track_faces
from emoavatar.types import Face

EXAMPLE_PNG = Path(__file__).resolve().parents[1] / "examples" / "portrait.png"
BLANK = 12


# -- a scripted analyzer (no dlib): where detect and fit are called, and the default fit ----------
def _face_at(x: float, y: float, size: float = 40.0, score: float = 1.0) -> Face:
    """A face whose 68 landmarks spread over a ``size`` box at (x, y)."""
    grid = np.stack(np.meshgrid(np.linspace(0.1, 0.9, 17), np.linspace(0.2, 0.8, 4)), -1).reshape(-1, 2)
    return Face(box=(x, y, x + size, y + size), landmarks=(np.array([x, y]) + grid * size).astype(np.float32),
                score=score)


def _scene(x: float) -> np.ndarray:
    """A 128x128 image with a textured 40x40 'face' at (x, 30)."""
    img = np.full((128, 128, 3), 100, np.uint8)
    tex = np.random.default_rng(0).integers(0, 255, (40, 40, 1), dtype=np.uint8)
    img[30:70, int(x):int(x) + 40] = tex
    return img


class Scripted(FaceAnalyzer):
    """Detects the textured square (and a decoy) by looking at the image; ``fit`` is the default."""

    def __init__(self) -> None:
        super().__init__(None)
        self.detect_calls = 0

    def detect(self, image: np.ndarray) -> list[Face]:
        self.detect_calls += 1
        cols = np.flatnonzero((image[30:70, :, 0] != 100).any(0))
        if not len(cols):
            return []
        return [_face_at(100.0, 85.0, 20.0, 0.1), _face_at(float(cols[0]), 30.0)]

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        return np.zeros(4, np.float32)


def test_box_helpers():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert landmark_spread(np.array([[0.0, 0.0], [2.0, 0.0]])) == pytest.approx(1.0)
    img = _scene(20)
    assert similarity(thumbnail(img, (20, 30, 60, 70)), thumbnail(_scene(25), (25, 30, 65, 70))) > 0.99
    assert similarity(thumbnail(img, (20, 30, 60, 70)), thumbnail(np.zeros_like(img), (20, 30, 60, 70))) == 0.0
    assert thumbnail(img, (200, 200, 260, 260)) is None


def test_default_fit_picks_the_overlapping_detection():
    fa = Scripted()
    img = _scene(20)
    assert fa.fit(img, (22, 31, 62, 71)).box == (20.0, 30.0, 60.0, 70.0)  # the square, not the decoy
    assert fa.fit(img, (98, 84, 119, 106)).score == 0.1  # the decoy when asked there
    assert fa.fit(img, (0, 100, 20, 120)) is None  # nothing overlaps by IoU > 0.3


def test_redetects_every_n_frames_and_after_a_loss():
    fa = Scripted()
    frames = [_scene(10 + t) for t in range(12)]
    frames[6] = np.full((128, 128, 3), 100, np.uint8)  # the face is gone
    calls = []

    def counting_fit(image, box, _fit=fa.fit):
        calls.append(box)
        return _fit(image, box)

    fa.fit = counting_fit
    fa.detect_calls = 0
    out = track_faces(fa, frames, redetect_every=4)
    assert out[6] is None and all(f is not None for i, f in enumerate(out) if i != 6)
    # detections: frame 0, 4 (re-anchor), 6 (lost: none found), 7 (no track), 11 (re-anchor)
    assert fa.detect_calls - len(calls) == 5  # (the default fit detects too: subtract its calls)
    for t, f in enumerate(out):
        if f is not None:
            assert f.box[0] == pytest.approx(10 + t) and f.score == 1.0  # the square, never the decoy
    fa.detect_calls = 0
    calls.clear()
    track_faces(fa, frames, redetect_every=1)
    assert fa.detect_calls == 12 and not calls


@pytest.mark.parametrize("broken", ["outside", "collapsed", "exploded"])
def test_implausible_fits_count_as_lost(broken):
    """A fit whose landmarks leave the image or whose spread collapses (or explodes) is dropped and
    the frame detected instead."""

    class BadFit(Scripted):
        def fit(self, image, box):
            face = super().fit(image, box)
            lm = face.landmarks.astype(np.float64)
            c = lm.mean(0)
            lm = {"outside": lm + (0, 200), "collapsed": c + (lm - c) * 0.2, "exploded": c + (lm - c) * 3}[broken]
            return Face(box=face.box, landmarks=lm.astype(np.float32), score=float("nan"))

    fa = BadFit()
    frames = [_scene(10 + t) for t in range(6)]
    out = track_faces(fa, frames)
    # each frame: one detect inside the (default) fit, then a detection because the fit was lost
    assert fa.detect_calls == 1 + 2 * 5
    assert all(f is not None and f.score == 1.0 and f.box[0] == pytest.approx(10 + t) for t, f in enumerate(out))


# -- dlib on a rendered clip ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def dlib_analyzer():
    pytest.importorskip("emoavatar_dlib")
    from emoavatar.registry import get_registry

    return get_registry().create("faces", "dlib")


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """30 frames of the portrait moving by up to 12 px, rotating by up to 6 degrees and zooming by
    up to 4 %, with a blank frame at index BLANK."""
    cv2 = pytest.importorskip("cv2")
    if not EXAMPLE_PNG.is_file():
        pytest.skip("examples/portrait.png is not in this checkout")
    from emoavatar.media import read_image

    img = read_image(EXAMPLE_PNG)
    h, w = img.shape[:2]
    frames = []
    for i in range(30):
        t = i / 29
        m = cv2.getRotationMatrix2D((220.0, 128.0), 6 * np.sin(2 * np.pi * t), 1.0 + 0.04 * np.sin(np.pi * t))
        m[:, 2] += (12 * np.sin(1.5 * np.pi * t), 6 * np.cos(np.pi * t))
        frames.append(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    frames[BLANK] = np.full_like(img, 90)
    return frames


def test_tracked_landmarks_match_per_frame_detection(dlib_analyzer, clip):
    def detected_face(image):  # analyze(): main_face(detect()), coarse pyramid levels first (~2x faster at 512²)
        try:
            return dlib_analyzer.analyze(image, embed=False)
        except FaceNotFoundError:
            return None

    detected = [detected_face(f) for f in clip]
    calls = {"detect": 0}
    detect = dlib_analyzer.detect

    def counting(image):
        calls["detect"] += 1
        return detect(image)

    dlib_analyzer.detect = counting
    try:
        tracked = track_faces(dlib_analyzer, clip, redetect_every=25)
    finally:
        del dlib_analyzer.detect
    assert tracked[BLANK] is None and detected[BLANK] is None
    # frame 0, the blank frame (the fit no longer looks like the face) and the frame after it
    # (no track); the next re-anchoring would be 25 frames later, past the clip: 16 fits in a row
    assert calls["detect"] == 3
    errors = []
    for i, (d, t) in enumerate(zip(detected, tracked)):
        if i == BLANK:
            continue
        assert d is not None and t is not None, i  # the track recovers after the blank frame
        assert box_iou(d.box, t.box) > 0.7  # the astronaut, not the mission patch
        errors.append(np.linalg.norm(d.landmarks - t.landmarks, axis=1).mean())
    assert np.mean(errors) < 1.5 and np.max(errors) < 3.0
    # tracked boxes follow the face instead of jumping by the detector's 10-px steps
    moved = [abs(a.box[0] - b.box[0]) for a, b in zip(tracked[:BLANK - 1], tracked[1:BLANK])]
    assert max(moved) < 4.0


def test_face_leaving_the_image_ends_the_track(dlib_analyzer, clip):
    """Landmarks leaving the image end the track; the frame is then detected (here: nothing)."""
    frame = clip[0]
    shifted = [np.roll(frame, -s, axis=1) for s in (0, 60, 120, 180, 230)]
    for f, s in zip(shifted[1:], (60, 120, 180, 230)):
        f[:, frame.shape[1] - s:] = 90  # nothing wraps around
    out = track_faces(dlib_analyzer, shifted)
    assert out[0] is not None and out[-1] is None  # the face is (almost) gone at x < 0
    for f in out:
        if f is not None:
            assert (f.landmarks[:, 0] >= 0).mean() >= 0.75
