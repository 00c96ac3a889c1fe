"""Helper processes that recognise phones while the caller's process keeps its GIL free.

PocketSphinx holds the GIL for a whole ``process_raw`` call, so two threads cannot decode at
once; a process can. :func:`decoder_processes` starts ``python -m emoavatar_phonemes.worker`` processes (each a
plain child process, not a fork of this threaded one, and without re-importing the caller's
``__main__``), which loads its decoders once and then answers requests in order over its pipes:
``(options, samples)`` -> the same ``[(phone, start_s, end_s)]`` as
``SphinxPhones(**options).recognise(samples, fresh=True)`` in this process.

The processes are started when a process asks for them the second time (a process that encodes twice
is a long-lived one: the web UI, a batch, a benchmark; a one-off ``emoavatar run`` never pays for
starting them) and are never waited for: :meth:`DecoderProcess.ready` is true once one has loaded its
decoders; until then (or if it fails) the caller decodes its part itself, so results never
depend on them, only speed. Each exits when its stdin closes (this process exiting, or
:meth:`DecoderProcess.close`).
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

READY = "ready"


class DecoderProcess:
    """One child process with the decoders of one set of :class:`~.sphinx.SphinxPhones` options."""

    def __init__(self, options: dict) -> None:
        self.options = dict(options)
        env = dict(os.environ)
        here = str(Path(__file__).resolve().parents[1])  # the folder holding this package
        env["PYTHONPATH"] = os.pathsep.join([here, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "emoavatar_phonemes.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env)
        self._send(self.options)  # the worker loads these decoders, then says READY
        self._ready = False
        self._busy = False
        self._claim = threading.Lock()
        self.failed = False

    def ready(self) -> bool:
        """Whether the worker has loaded its decoders (never blocks)."""
        if self.failed:
            return False
        if self._ready:
            return True
        try:
            if self._proc.poll() is not None:
                raise EOFError("the decoder process exited")
            if select.select([self._proc.stdout], [], [], 0)[0]:
                self._ready = self._receive() == READY
                self.failed = not self._ready
        except (OSError, EOFError, pickle.UnpicklingError):
            self.failed = True
        return self._ready

    def submit(self, samples: np.ndarray) -> bool:
        """Send one utterance (16 kHz float samples); False (nothing sent) when not usable."""
        with self._claim:  # one utterance in flight: two threads never both send
            if self._busy or not self.ready():
                return False
            self._busy = True
        try:
            self._send(np.ascontiguousarray(samples))
        except OSError:
            self.discard()
            return False
        except BaseException:  # interrupted mid-message: the helper cannot be trusted any more
            self.discard()
            raise
        return True

    def result(self) -> list:
        """The segments of the utterance sent last (blocks; the GIL is released while waiting)."""
        try:
            kind, value = self._receive()
        except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as e:
            self.discard()
            raise RuntimeError(f"the decoder process failed: {e}") from e
        except BaseException:  # e.g. Ctrl-C while waiting: its answer would be read as the next one's
            self.discard()
            raise
        self._busy = False
        if kind != "ok":
            raise RuntimeError(f"the decoder process failed: {value}")
        return value

    def discard(self) -> None:
        """Give up on this process (an answer left unread, a broken pipe): it is stopped, and
        :func:`decoder_processes` starts another when asked again."""
        self.failed = True
        self._proc.kill()

    def close(self) -> None:
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()

    def _send(self, obj) -> None:
        pickle.dump(obj, self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.flush()

    def _receive(self):
        return pickle.load(self._proc.stdout)


_PROCESSES: dict[tuple, list[DecoderProcess]] = {}
_ASKED: set[tuple] = set()
_LOCK = threading.Lock()


def decoder_processes(options: dict, n: int = 1) -> list[DecoderProcess]:
    """This process's ``n`` decoder processes for ``options``: none the first time they are asked
    for, started (not waited for) the second time, then the same ones (a failed one replaced)."""
    key = tuple(sorted(options.items()))
    with _LOCK:
        if key not in _ASKED:
            _ASKED.add(key)
            return []
        procs = _PROCESSES.setdefault(key, [])
        for i, proc in enumerate(procs):
            if proc.failed:
                proc.close()
                procs[i] = DecoderProcess(options)
        procs += [DecoderProcess(options) for _ in range(n - len(procs))]
        return procs[:n]


@atexit.register
def _close_all() -> None:
    for procs in list(_PROCESSES.values()):
        for proc in procs:
            proc.close()
    _PROCESSES.clear()


def main() -> None:  # pragma: no cover - runs in the child process (tested through DecoderProcess)
    from .sphinx import SphinxPhones

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answer pipe
    sphinx = SphinxPhones(**pickle.load(inp))
    with sphinx.session():
        sphinx.recogniser  # noqa: B018 - load the decoder before saying ready
    pickle.dump(READY, out)
    out.flush()
    while True:
        try:
            samples = pickle.load(inp)
        except EOFError:
            return
        try:
            with sphinx.session():
                answer = ("ok", sphinx.recognise(samples, fresh=True))
        except Exception as e:  # noqa: BLE001 - reported to the caller, which decodes itself
            answer = ("error", f"{type(e).__name__}: {e}")
        pickle.dump(answer, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()


if __name__ == "__main__":
    main()
