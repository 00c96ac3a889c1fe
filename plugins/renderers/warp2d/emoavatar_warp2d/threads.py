"""OpenCV's own thread pool off while warp2d draws (issue 11's speed work).

A frame's remaps, blurs and distance transforms cover small regions (the face's box, the mouth),
where OpenCV's parallel stripes cost more than they save, and in a pipeline x264 encodes beside
the renderer on the other cores. Measured on 2 cores (``benchmarks/render_encode.py``, quiet
machine): rendering the 178 demo frames at 512x512 took 524 ms of CPU in 432 ms with OpenCV's
2 threads, 409 ms of CPU in 409 ms with one; beside the encoder 1014 -> 976 ms. The operations
are per pixel, so the frames are the same (tested).

``with one_cv2_thread(): ...`` sets ``cv2.setNumThreads(1)`` (process-wide: OpenCV has no
per-thread setting) and restores the previous count when the last of any overlapping blocks ends.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import cv2

_LOCK = threading.Lock()
_state = {"depth": 0, "saved": 1}


@contextlib.contextmanager
def one_cv2_thread() -> Iterator[None]:
    with _LOCK:
        if _state["depth"] == 0:
            _state["saved"] = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _state["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                cv2.setNumThreads(_state["saved"])
