"""analyze()'s coarse-levels-first search (pyramid.py): the very boxes, scores and landmarks of the full scan."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from emoavatar.media import read_image
from emoavatar_dlib.analyzer import DlibFaceAnalyzer
from emoavatar_dlib.pyramid import detect_from_level
from emoavatar_dlib.spec import DlibConfig

ROOT = Path(__file__).resolve().parents[4]
PORTRAITS = sorted((ROOT / "tests" / "data" / "portraits").glob("*.jpg"))


@pytest.fixture(scope="module")
def analyzer() -> DlibFaceAnalyzer:
    return DlibFaceAnalyzer(DlibConfig())


def _images(kit_portrait) -> dict[str, np.ndarray]:
    example = read_image(ROOT / "examples" / "portrait.png")
    images = {"kit": kit_portrait.image, "example": example,
              "example 384": cv2.resize(example, (384, 384), interpolation=cv2.INTER_AREA)}
    images.update({p.name: read_image(p) for p in PORTRAITS})
    for name in ("kit", *(p.name for p in PORTRAITS[:2])):  # upscaled: larger faces, more levels skipped
        images[f"{name} x2"] = cv2.resize(images[name], None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    return images


def test_levels_from_skip_on_give_the_full_scans_boxes_and_scores(analyzer, kit_portrait):
    hog = analyzer._model("hog")
    for name, image in list(_images(kit_portrait).items())[::2]:
        rects, scores, _ = hog.run(image, 1, 0.0)
        full = {(r.left(), r.top(), r.right() + 1, r.bottom() + 1): s for r, s in zip(rects, scores)}
        for skip in (1, 3):
            hits = detect_from_level(hog, image, 1, skip)
            assert hits is not None, (name, skip)
            for box, score, level in hits:
                key = tuple(int(v) for v in box)
                if level >= 1:  # found above the coarsest level scanned: the full scan's very hit
                    assert key in full and full[key] == pytest.approx(score, abs=1e-9), (name, skip, key, full)


def test_analyze_equals_the_full_scans_main_face(analyzer, kit_portrait):
    fast_used = 0
    for name, image in _images(kit_portrait).items():
        full = analyzer.main_face(analyzer.detect(image))
        if full is None:
            continue
        fast = analyzer._large_main_face(image)
        if fast is not None:
            fast_used += 1
            assert fast.box == full.box and fast.score == full.score, name
            assert np.array_equal(fast.landmarks, full.landmarks), name
        if name in ("kit", "example"):  # analyze(): the full scan (256²: nothing to skip) and the coarse one
            face = analyzer.analyze(image, embed=False)
            assert face.box == full.box and np.array_equal(face.landmarks, full.landmarks), name
    assert fast_used >= 4  # the coarse scan answered for the 384² and 512² images (256² ones: nothing to skip)


def test_main_face_share_zero_is_the_full_scan(kit_portrait):
    off = DlibFaceAnalyzer(DlibConfig(main_face_share=0.0))
    image = cv2.resize(kit_portrait.image, (512, 512))
    assert off._large_main_face(image) is None
    assert DlibFaceAnalyzer(DlibConfig())._large_main_face(image) is not None
