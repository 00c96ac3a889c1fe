"""dlib face analyzer on real photos: the kit portrait and examples/portrait.png."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import emoavatar
import numpy as np
import pytest
from emoavatar.errors import FaceNotFoundError, WeightsNotFoundError
from emoavatar.media import read_image
from emoavatar.registry import Registry
from emoavatar_dlib.analyzer import DlibFaceAnalyzer
from emoavatar_dlib.spec import SPEC, DlibConfig
from pydantic import ValidationError

DATA = Path(emoavatar.__file__).parent / "testing" / "data"
KIT_PNG = DATA / "portrait_256.png"
EXAMPLE_PNG = Path(__file__).resolve().parents[4] / "examples" / "portrait.png"


@pytest.fixture(scope="module")
def analyzer() -> DlibFaceAnalyzer:
    return DlibFaceAnalyzer(DlibConfig())


@pytest.fixture(scope="module")
def kit_image() -> np.ndarray:
    return read_image(KIT_PNG)


@pytest.fixture(scope="module")
def example_image() -> np.ndarray:
    if not EXAMPLE_PNG.is_file():
        pytest.skip("examples/portrait.png is not in this checkout")
    return read_image(EXAMPLE_PNG)


def _inside_box(face, margin: float = 0.2) -> bool:
    x0, y0, x1, y1 = face.box
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    lm = face.landmarks
    return bool(((lm[:, 0] >= x0 - mx) & (lm[:, 0] <= x1 + mx) & (lm[:, 1] >= y0 - my) & (lm[:, 1] <= y1 + my)).all())


def test_registered_and_config_is_strict():
    spec = Registry().spec("faces", "dlib")
    assert spec is SPEC or spec.factory == SPEC.factory
    assert isinstance(Registry().create("faces", "dlib"), DlibFaceAnalyzer)
    with pytest.raises(ValidationError):
        DlibConfig(upsample=-1)
    with pytest.raises(ValidationError):
        DlibConfig(detector="mtcnn")
    with pytest.raises(ValidationError):
        DlibConfig(typo=1)


def test_kit_portrait_one_face_68_landmarks_128d(analyzer, kit_image):
    faces = analyzer.detect(kit_image)
    assert len(faces) == 1
    face = faces[0]
    assert face.landmarks.shape == (68, 2) and _inside_box(face)
    # anatomy: eyes above nose tip above mouth above chin; right eye (36-41) left of left eye (42-47)
    lm = face.landmarks
    assert lm[36:48, 1].mean() < lm[30, 1] < lm[48:68, 1].mean() < lm[8, 1]
    assert lm[36:42, 0].mean() < lm[42:48, 0].mean()
    emb = analyzer.embed(kit_image, face)
    assert emb.shape == (128,) and emb.dtype == np.float32 and np.isfinite(emb).all()
    assert 0.5 < np.linalg.norm(emb) < 2.0


def test_kit_face_json_matches_analyzer(analyzer, kit_image):
    stored = json.loads((DATA / "portrait_256.face.json").read_text())
    face = analyzer.analyze(kit_image)
    assert np.abs(np.asarray(stored["landmarks"]) - face.landmarks).max() <= 1.0
    assert np.linalg.norm(np.asarray(stored["embedding"]) - face.embedding) < 0.05


def test_example_portrait_picks_the_astronaut_not_the_badge(analyzer, example_image):
    face = analyzer.analyze(example_image)
    cx, cy = face.landmarks.mean(0)
    assert 180 < cx < 270 and 80 < cy < 180  # the head, not the mission patch at (170, 380)
    assert _inside_box(face) and face.embedding.shape == (128,)


def test_fit_in_a_known_box_follows_the_face(analyzer, example_image):
    """``fit`` = the shape predictor alone: in the detector's own box it reproduces ``detect``; in
    that box moved with the face it finds the moved face; NaN score; nothing for an empty box."""
    face = analyzer.analyze(example_image, embed=False)
    same = analyzer.fit(example_image, face.box)
    assert same.box == face.box and np.isnan(same.score)
    assert np.abs(same.landmarks - face.landmarks).max() <= 1.0
    shifted = np.full_like(example_image, 90)
    shifted[7:, 12:] = example_image[:-7, :-12]  # the face moves by (+12, +7)
    moved = analyzer.fit(shifted, tuple(np.add(face.box, (12, 7, 12, 7))))
    offset = np.linalg.norm(moved.landmarks - (face.landmarks + (12, 7)), axis=1).mean()
    assert offset < 1.0
    # in a box 10 px off the predictor still lands on the face (what tracking relies on)
    nudged = analyzer.fit(example_image, tuple(np.add(face.box, (10, -6, 10, -6))))
    assert np.linalg.norm(nudged.landmarks - face.landmarks, axis=1).mean() < 3.0
    assert analyzer.fit(example_image, (10, 10, 10, 40)) is None
    # the predictor returns a shape even on a blank image: judging that is the tracker's job
    assert analyzer.fit(np.full_like(example_image, 90), face.box).landmarks.shape == (68, 2)


def test_same_face_two_scales_is_close_and_other_faces_far(analyzer, kit_image, example_image):
    e_kit = analyzer.analyze(kit_image).embedding
    big = cv2.resize(kit_image, (448, 448), interpolation=cv2.INTER_CUBIC)
    face_big = analyzer.analyze(big)
    assert face_big.size == pytest.approx(analyzer.analyze(kit_image).size * 1.75, rel=0.1)
    assert np.linalg.norm(face_big.embedding - e_kit) < 0.4
    assert np.linalg.norm(analyzer.analyze(example_image).embedding - e_kit) < 0.4
    # a mirrored face is still the same person
    e_mirror = analyzer.analyze(np.ascontiguousarray(kit_image[:, ::-1])).embedding
    assert np.linalg.norm(e_mirror - e_kit) < 0.5


@pytest.mark.parametrize("make", ["upside_down", "noise", "blank"])
def test_no_face_raises(analyzer, kit_image, make):
    rng = np.random.default_rng(0)
    image = {
        "upside_down": np.ascontiguousarray(kit_image[::-1]),
        "noise": rng.integers(0, 256, kit_image.shape, dtype=np.uint8),
        "blank": np.full_like(kit_image, 200),
    }[make]
    assert analyzer.detect(image) == []
    with pytest.raises(FaceNotFoundError, match="no face found in test.png"):
        analyzer.analyze(image, source="test.png")


def test_two_faces_largest_first_and_chosen(analyzer, kit_image):
    small = cv2.resize(kit_image, (160, 160), interpolation=cv2.INTER_AREA)
    canvas = np.full((256, 256 + 160, 3), 128, np.uint8)
    canvas[:, :256] = kit_image
    canvas[48:208, 256:] = small
    faces = analyzer.detect(canvas)
    assert len(faces) == 2
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in faces]
    assert areas[0] > areas[1]
    assert faces[0].landmarks[:, 0].max() < 256 and faces[1].landmarks[:, 0].min() > 256
    main = analyzer.analyze(canvas)
    assert main.landmarks[:, 0].max() < 256


def test_large_image_is_downscaled_for_detection_and_rescaled(kit_image):
    ref = DlibFaceAnalyzer(DlibConfig()).analyze(kit_image, embed=False)
    big = cv2.resize(kit_image, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    fa = DlibFaceAnalyzer(DlibConfig(max_side=320, upsample=0))
    face = fa.analyze(big, embed=False)
    assert np.abs(face.landmarks / 4.0 - ref.landmarks).mean() < 2.0
    assert abs(face.box[0] / 4.0 - ref.box[0]) < 12


def test_grey_input_and_bad_input(analyzer, kit_image):
    grey = cv2.cvtColor(kit_image, cv2.COLOR_RGB2GRAY)
    assert len(analyzer.detect(grey)) == 1
    with pytest.raises(ValueError, match="uint8 RGB"):
        analyzer.detect(kit_image.astype(np.float32))


def test_missing_models_dir_names_the_file(tmp_path, kit_image):
    fa = DlibFaceAnalyzer(DlibConfig(models_dir=tmp_path))
    with pytest.raises(WeightsNotFoundError, match="shape_predictor_68_face_landmarks.dat"):
        fa.detect(kit_image)


@pytest.mark.slow
def test_cnn_detector_finds_the_kit_face(kit_image):
    fa = DlibFaceAnalyzer(DlibConfig(detector="cnn", upsample=0))
    faces = fa.detect(kit_image)
    assert len(faces) == 1 and _inside_box(faces[0])


def test_contract(analyzer, kit_portrait_path):
    from emoavatar.testing.contracts import check_face_analyzer

    face = check_face_analyzer(Registry().create("faces", "dlib"), read_image(kit_portrait_path))
    assert face.embedding.shape == (128,)
