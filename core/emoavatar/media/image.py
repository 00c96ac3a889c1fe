"""Image I/O with OpenCV, always uint8 RGB."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MediaError


def read_image(path: str | Path) -> np.ndarray:
    """Read any OpenCV-readable image as uint8 RGB ``[H, W, 3]`` (alpha dropped, grey expanded)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"image not found: {path}", fix="check the path")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise MediaError(f"cannot read image {path}", fix="give a PNG or JPEG file")
    if img.dtype != np.uint8:
        img = (img / (256 if img.dtype == np.uint16 else 1)).clip(0, 255).astype(np.uint8)
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img[:, :, ::-1])


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write uint8 RGB as PNG/JPEG (by extension)."""
    import cv2

    ok, buf = cv2.imencode(Path(path).suffix or ".png", np.ascontiguousarray(image[:, :, ::-1]))
    if not ok:
        raise MediaError(f"cannot encode image {path}")
    buf.tofile(str(path))


def fit_portrait(image: np.ndarray, max_side: int, source: str | Path = "portrait") -> np.ndarray:
    """Downscale ``image`` (area interpolation) so its longest side is at most ``max_side``,
    with a one-line notice; smaller images are returned as they are.

    Every stage works at the portrait's size (face analysis, warping, encoding), so an
    8000x8000 photo would cost minutes and gigabytes for no visible gain in a video."""
    import logging

    import cv2

    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    logging.getLogger("emoavatar").warning(
        "notice: portrait %s is %dx%d; downscaled to %dx%d (inputs.max_portrait_side=%d)",
        source, w, h, size[0], size[1], max_side)
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
