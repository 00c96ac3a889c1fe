"""Small face-geometry helpers shared by the stage contract (:mod:`.interfaces`) and the run-time
tracker (:mod:`.tracking`), so that neither imports the other."""

from __future__ import annotations

from .types import Face

Box = tuple[float, float, float, float]


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 when either is empty."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def box_area(box: Box) -> float:
    return (box[2] - box[0]) * (box[3] - box[1])


def main_face(faces: list[Face]) -> Face | None:
    """The main face among ``faces`` (None if empty): the largest, except that among faces within
    20 % of the largest area the most confident wins (detector boxes come in coarse sizes, and a
    weak false detection, such as a badge on a jacket, can be as large as the real face)."""
    if not faces:
        return None
    largest = max(box_area(f.box) for f in faces)
    return max((f for f in faces if box_area(f.box) >= 0.8 * largest), key=lambda f: f.score)
