"""One output transaction: ``OUT.mp4`` and ``OUT.run.yaml`` appear together, or not at all.

``Pipeline.run`` writes both files to temporaries beside the output (``OUT.partial.mp4``,
``OUT.run.yaml.partial``) and publishes them with two renames only when both are complete
(first the run file, then the video: an ``OUT.mp4`` on disk always has its run file). While
a run holds the output it holds an exclusive lock, ``OUT.mp4.lock`` (``flock``), so a second
run on the same ``-o`` fails at once with a clear line instead of mixing the two runs' files.

On any failure, and on SIGINT, SIGTERM or SIGHUP, the temporaries and the lock are removed
and files that existed before are left untouched. An ``OSError`` from the operating system
while writing (no space, read-only file system, file too large, no permission) becomes one
:class:`~emoavatar.errors.OutputError` line naming the path and the reason. SIGXFSZ is
ignored while writing, so a file-size limit (``ulimit -f``) is an error (EFBIG), not a kill.

Only SIGKILL (or a power cut) can leave a temporary; the next run on that output replaces it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Iterator

from .errors import ConfigError, OutputError, OutputExistsError

#: errno -> what to do about it (the reason itself comes from ``os.strerror``).
_FIXES = {
    errno.ENOSPC: "free some disk space or choose another -o",
    errno.EDQUOT: "free some space in your quota or choose another -o",
    errno.EROFS: "the file system is read-only: choose another -o",
    errno.EFBIG: "the file-size limit was reached (see `ulimit -f`): raise it or make a shorter video",
    errno.EACCES: "you may not write there: choose another -o or fix the folder's permissions",
    errno.EPERM: "you may not write there: choose another -o or fix the folder's permissions",
    errno.EISDIR: "give a file name, not a folder",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENAMETOOLONG: "use a shorter name",
    errno.EIO: "the disk reported an I/O error: check it, or choose another -o",
}
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))


class Interrupted(KeyboardInterrupt):
    """SIGTERM / SIGHUP turned into an exception, so that clean-up code runs as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def os_error_message(err: OSError, path: Path) -> OutputError:
    """``OSError(ENOSPC)`` -> ``OutputError("cannot write out.mp4: No space left on device", fix=...)``."""
    code = err.errno
    reason = os.strerror(code) if code else (err.strerror or type(err).__name__)
    where = Path(err.filename) if isinstance(getattr(err, "filename", None), (str, os.PathLike)) else path
    return OutputError(f"cannot write {where}: {reason}", fix=_FIXES.get(code))


def run_file_path(output: Path) -> Path:
    """Where the resolved config of ``out.mp4`` goes: ``out.run.yaml``."""
    return output.with_name(output.stem + ".run.yaml")


class OutputTransaction:
    """``with OutputTransaction(out, overwrite=False) as tx: tx.begin(); write tx.video_tmp and
    tx.run_tmp; tx.commit()``. Leaving the block without :meth:`commit` removes the temporaries."""

    def __init__(self, output: str | Path, *, overwrite: bool = False) -> None:
        self.output = Path(output)
        self.run_file = run_file_path(self.output)
        self.overwrite = overwrite
        self.video_tmp = self.output.with_name(self.output.stem + ".partial.mp4")
        self.run_tmp = self.run_file.with_name(self.run_file.name + ".partial")
        self.lock_path = self.output.with_name(self.output.name + ".lock")
        self._lock_fd: int | None = None
        self._old_handlers: dict[int, object] = {}
        self.committed = False
        self._write_failed = False

    # -- context ---------------------------------------------------------------------
    def __enter__(self) -> "OutputTransaction":
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                if signal.getsignal(sig) in (signal.SIG_DFL, None):  # would die without cleaning up
                    self._old_handlers[sig] = signal.signal(sig, _raise_interrupted)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not self.committed:
                self._remove_temporaries()
            self._unlock()
        finally:
            self._restore_signals()
        if isinstance(exc, OSError) and not isinstance(exc, OutputError) and self._is_ours(exc):
            raise os_error_message(exc, self.output) from None

    # -- steps -----------------------------------------------------------------------
    def begin(self) -> None:
        """Check the output path, take the lock, refuse existing files without ``overwrite``."""
        out = self.output
        if out.suffix.lower() != ".mp4":
            raise ConfigError(f"output {out} must end in .mp4")
        for p in (out, self.run_file):
            if p.is_dir():
                raise OutputError(f"{p} is a folder", fix="give a file name such as out/video.mp4")
        if not out.parent.is_dir():
            raise OutputError(f"output folder {out.parent} does not exist", fix="create it or choose another -o")
        self._lock()
        if not self.overwrite:
            for p in (out, self.run_file):
                if p.exists() or p.is_symlink():
                    raise OutputExistsError(f"{p} already exists", fix="choose another -o or pass --overwrite")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """While writing: a file-size limit gives EFBIG (not death by SIGXFSZ)."""
        xfsz = getattr(signal, "SIGXFSZ", None)
        main = threading.current_thread() is threading.main_thread()
        old = signal.signal(xfsz, signal.SIG_IGN) if xfsz is not None and main else None
        try:
            yield
        except OSError:
            self._write_failed = True
            raise
        finally:
            if old is not None:
                signal.signal(xfsz, old)

    def write_run_file(self, text: str) -> None:
        try:
            with open(self.run_tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:  # write() errors carry no file name: name the run file
            if e.filename is None:
                raise OSError(e.errno, e.strerror, str(self.run_file)) from None
            raise

    def commit(self) -> None:
        """Publish both files: the run file first, then the video (whose presence means done)."""
        for p in (self.video_tmp, self.run_tmp):
            if not p.is_file():
                raise OutputError(f"{p} was not written", fix="report this as a bug")
        with contextlib.suppress(OSError):  # make the data durable before the names point at it
            fd = os.open(self.video_tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        held = {signal.SIGINT, *_SIGNALS}  # the two renames are not split by a signal
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held) if hasattr(signal, "pthread_sigmask") else None
        try:
            os.replace(self.run_tmp, self.run_file)
            try:
                os.replace(self.video_tmp, self.output)
            except OSError:
                self.run_file.unlink(missing_ok=True)  # no run file without its video
                raise
            self.committed = True
        finally:
            if old is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)

    # -- internals -------------------------------------------------------------------
    def _lock(self) -> None:
        import fcntl

        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(f"cannot write {self.output}: {os.strerror(e.errno or errno.EIO)}",
                              fix=_FIXES.get(e.errno)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # the holder before us may have unlinked the file we opened: then it is not the lock
            if os.fstat(fd).st_ino != os.stat(self.lock_path).st_ino:
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            raise OutputError(f"another emoavatar run is writing {self.output} (lock {self.lock_path.name})",
                              fix="wait for it to finish or choose another -o") from None
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        with contextlib.suppress(OSError):
            self.lock_path.unlink()
        os.close(self._lock_fd)
        self._lock_fd = None

    def _remove_temporaries(self) -> None:
        if self._lock_fd is None:  # not ours: another run may be writing them
            return
        for p in (self.video_tmp, self.run_tmp):
            with contextlib.suppress(OSError):
                p.unlink()

    def _restore_signals(self) -> None:
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        self._old_handlers.clear()

    def _is_ours(self, err: OSError) -> bool:
        """An OS-level failure while writing our files (not e.g. a plugin's missing weights)."""
        name = getattr(err, "filename", None)
        if name is not None:
            return str(name) in {str(p) for p in (self.output, self.run_file, self.video_tmp, self.run_tmp)}
        return self._write_failed and err.errno in _FIXES


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)
