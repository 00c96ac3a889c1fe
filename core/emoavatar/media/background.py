"""Encode in a second thread while the caller renders the next chunk.

``BackgroundWriter(writer)`` takes chunks through a bounded queue (``depth`` chunks), so x264
(PyAV releases the GIL while it encodes) works on chunk k while the renderer draws chunk k+1;
memory stays bounded by ``depth + 2`` chunks whatever the video's length.

Guarantees, the same as writing in the caller's thread:

* frames reach the writer in order, unchanged (each chunk is copied before it is queued, so the
  caller may draw the next one into the same array), so the video is what the synchronous
  writer makes;
* an exception in the encoding thread is raised in the caller, once, as the same exception
  object (an ``OSError`` keeps its ``errno`` and file name for :mod:`emoavatar.output`), at its
  next :meth:`write` or on leaving the ``with`` block; later chunks are dropped;
* on any exception in the caller (including ``KeyboardInterrupt`` from a signal) the thread is
  stopped and joined *before* the wrapped writer is aborted, so the container is never closed
  while being written; the wrapped writer removes its file as before.

``with BackgroundWriter(VideoWriter(...)) as w: w.write(chunk)``; the wrapped writer's own
``__exit__`` runs on leaving the block.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import numpy as np

_STOP = object()


class BackgroundWriter:
    def __init__(self, writer: Any, depth: int = 1) -> None:
        self.writer = writer
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._raised = False
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="emoavatar-writer", daemon=True)
        self._started = False

    # -- caller side ---------------------------------------------------------------------
    def __enter__(self) -> "BackgroundWriter":
        self.writer.__enter__()
        self._thread.start()
        self._started = True
        return self

    def write(self, frames: np.ndarray) -> None:
        self._raise_error()
        # the caller may draw its next chunk into the same array: hand over a copy. A VideoWriter
        # copies into encoder frames here anyway (video_frames), so that costs nothing extra.
        prepare = getattr(self.writer, "video_frames", None)
        item = ("encoded", prepare(frames)) if prepare is not None else ("array", np.array(frames, copy=True))
        while True:  # a blocking put that still notices the thread's failure
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                self._raise_error()
                if not self._thread.is_alive():
                    raise RuntimeError("the encoding thread stopped") from None

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._cancel.set()
        try:
            self._finish()
        except BaseException:  # noqa: BLE001 - already leaving with an error: that one is reported
            if exc_type is None:
                raise
        if exc_type is None and self._error is not None and not self._raised:
            self._raised = True
            err = self._error
            self.writer.__exit__(type(err), err, err.__traceback__)
            raise err
        self.writer.__exit__(exc_type, exc, tb)

    # -- internals -----------------------------------------------------------------------
    def _finish(self) -> None:
        if not self._started:
            return
        if self._cancel.is_set():  # drop what is queued so the thread ends after its current chunk
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
        while self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=0.1)
                break
            except queue.Full:
                continue
        self._thread.join()
        self._started = False

    def _raise_error(self) -> None:
        if self._error is not None and not self._raised:
            self._raised = True
            self._cancel.set()
            raise self._error

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._error is not None or self._cancel.is_set():
                continue  # drain: the caller will stop us
            kind, data = item
            try:
                if kind == "encoded":
                    self.writer.encode_frames(data)
                else:
                    self.writer.write(data)
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                self._error = e
