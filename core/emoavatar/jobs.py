"""Run one independent stage in a thread beside the main one.

The runner analyses the portrait's face while the audio encoders run. Both hold the GIL while
they compute (dlib's detector and shape predictor, pocketsphinx's decode), so they overlap only
where the encoders compute in other processes (the phonemes encoder's helper processes) and the
main thread waits with the GIL released. ``Job(fn)`` starts ``fn()`` at once;
:meth:`Job.result` waits and returns its value or raises its exception, unchanged, in the
caller's thread. The thread is a daemon: an interrupted run does not wait for it.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable


class Job:
    def __init__(self, fn: Callable[[], Any], name: str = "emoavatar-job") -> None:
        self._fn = fn
        self._value: Any = None
        self._error: BaseException | None = None
        self.seconds = 0.0  # how long fn ran, for the run's timings
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        t0 = time.perf_counter()
        try:
            self._value = self._fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller by result()
            self._error = e
        finally:
            self.seconds = time.perf_counter() - t0

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            err, self._error = self._error, None
            raise err
        return self._value
