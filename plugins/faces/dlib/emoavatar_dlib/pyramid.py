"""dlib's HOG detection without its finest pyramid levels, with the very boxes of a full search.

``detector.run(image, upsample)`` upsamples the image ``upsample`` times by 2 (``pyramid_up``, i.e.
bilinear ``resize_image`` to ``pyramid_down(2).rect_up`` of the image rectangle), builds a pyramid
of it with ``pyramid_down(6)`` (each level 5/6 of the previous one), scans every level with the
detection window, maps each hit from its level ``l`` to the upsampled image by
``pyramid_down(6).rect_up(rect, l)`` in floating point, rounds once, and maps that down again by
``pyramid_down(2).rect_down``. The finest levels only hold faces a few tens of pixels wide, but they
are the largest images and cost most of the time (level ``l`` has ``(25/36)**l`` of the pixels).

:func:`detect_from_level` builds the same pyramid itself up to level ``skip`` and runs the detector
there: levels ``skip, skip + 1, ...`` are the very images (and HOG features, so the same scores) of
the full search. Each hit comes back rounded in level-``skip`` pixels; the hit's own level and
window position are recovered (the window has a fixed size on its level, and rounding it up again
must give the returned box), and mapped exactly as the full search maps them. A hit that cannot be
recovered uniquely makes the whole result ``None`` (the caller then runs the full search).

Measured on the example portrait at 512² (``upsample 1``): analyze() 0.127 -> 0.063 CPU-s (``skip 3``),
identical boxes and scores on it, the kit portrait and the three test portraits
(``tests/test_pyramid_detection.py``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

WINDOW_LEVEL_WIDTH = 72  # right - left of the frontal detector's box on the level where it fired (80 px window)


def _round(r):
    import dlib

    f = lambda v: int(math.floor(v + 0.5))  # noqa: E731 - dlib's drectangle -> rectangle rounding
    return dlib.rectangle(f(r.left()), f(r.top()), f(r.right()), f(r.bottom()))


def upsampled(image: np.ndarray, times: int) -> np.ndarray:
    """``image`` upsampled ``times`` by 2 as the detector does it (``pyramid_up``)."""
    import dlib

    p2 = dlib.pyramid_down(2)
    for _ in range(times):
        h, w = image.shape[:2]
        r = p2.rect_up(dlib.rectangle(0, 0, w - 1, h - 1))
        image = dlib.resize_image(image, r.bottom() + 1, r.right() + 1)
    return image


def _recover(box, skip: int, window: int):
    """``(level, rect on that level)`` of a hit returned in level-``skip`` pixels, or None if not unique."""
    import dlib

    p6 = dlib.pyramid_down(6)
    level = round(math.log(max(box.width(), 1) / (window + 1)) / math.log(1.2))  # window grows 6/5 a level
    found = set()
    for n in (level - 1, level, level + 1):
        if n < 0:
            continue
        d = p6.rect_down(dlib.drectangle(box), n)
        for dl, dt, dr, db in itertools.product((-1, 0, 1), repeat=4):
            c = dlib.rectangle(round(d.left()) + dl, round(d.top()) + dt, round(d.right()) + dr, round(d.bottom()) + db)
            if c.right() - c.left() == window and _round(p6.rect_up(dlib.drectangle(c), n)) == box:
                found.add((n, c.left(), c.top(), c.right(), c.bottom()))
    if len(found) != 1:
        return None
    n, *ltrb = found.pop()
    return n, dlib.rectangle(*ltrb)


def detect_from_level(detector, image: np.ndarray, upsample: int, skip: int, adjust: float = 0.0,
                      window: int = WINDOW_LEVEL_WIDTH) -> list[tuple[np.ndarray, float, int]] | None:
    """HOG hits on pyramid levels ``skip`` and coarser: ``[(box (x0, y0, x1, y1), score, level above skip)]``
    in ``image`` pixels, box for box and score for score what ``detector.run(image, upsample, adjust)``
    finds on those levels; None when a hit's level cannot be recovered."""
    import dlib

    p2, p6 = dlib.pyramid_down(2), dlib.pyramid_down(6)
    level = upsampled(image, upsample)
    for _ in range(skip):
        level = p6(level)
    rects, scores, _ = detector.run(level, 0, adjust)
    out = []
    for r, s in zip(rects, scores):
        hit = _recover(r, skip, window)
        if hit is None:
            return None
        n, rect = hit
        up = _round(p6.rect_up(dlib.drectangle(rect), n + skip))
        b = p2.rect_down(up, upsample) if upsample else up
        out.append((np.array([b.left(), b.top(), b.right() + 1, b.bottom() + 1], float), float(s), n))
    return out
