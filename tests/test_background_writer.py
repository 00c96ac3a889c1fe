"""The runner's concurrency: encoding in a second thread (media/background.py) and the portrait's
face analysed beside the audio encoders (jobs.py). Same frames, one clear error, no partial output."""

import errno
import threading
import time

import numpy as np
import pytest
from emoavatar.errors import FaceNotFoundError, MediaError, OutputError
from emoavatar.jobs import Job
from emoavatar.media import read_video, write_image, write_wav
from emoavatar.media.background import BackgroundWriter
from emoavatar.pipeline import Pipeline
from emoavatar.testing.trivial import TRIVIAL_PIPELINE, trivial_registry


class FakeWriter:
    """Records chunks; fails on chunk ``fail_at``; notes whether it was closed while writing."""

    def __init__(self, fail_at: int | None = None, delay: float = 0.0) -> None:
        self.chunks: list[np.ndarray] = []
        self.fail_at, self.delay = fail_at, delay
        self.writing = False
        self.exits: list = []
        self.closed_while_writing = False

    def __enter__(self):
        return self

    def write(self, frames):
        self.writing = True
        try:
            time.sleep(self.delay)
            if self.fail_at is not None and len(self.chunks) == self.fail_at:
                raise OSError(errno.ENOSPC, "No space left on device", "/x/o.partial.mp4")
            self.chunks.append(np.array(frames))
        finally:
            self.writing = False

    def __exit__(self, exc_type, exc, tb):
        self.closed_while_writing |= self.writing
        self.exits.append(exc_type)


def test_chunks_arrive_in_order_even_when_the_caller_reuses_its_buffer():
    fake = FakeWriter(delay=0.01)
    buf = np.zeros((3, 4, 4, 3), np.uint8)
    with BackgroundWriter(fake) as w:
        for k in range(6):
            buf[:] = k  # a renderer that draws every chunk into the same array
            w.write(buf)
    assert [int(c[0, 0, 0, 0]) for c in fake.chunks] == list(range(6))
    assert fake.exits == [None]


def test_an_error_in_the_encoding_thread_surfaces_once_in_the_caller():
    fake = FakeWriter(fail_at=1)
    chunk = np.zeros((2, 4, 4, 3), np.uint8)
    with pytest.raises(OSError) as info:
        with BackgroundWriter(fake) as w:
            for _ in range(50):
                w.write(chunk.copy())
                time.sleep(0.005)
    assert info.value.errno == errno.ENOSPC and info.value.filename == "/x/o.partial.mp4"  # unchanged for output.py
    assert len(fake.chunks) == 1 and fake.exits == [OSError]  # later chunks dropped; the writer aborted once


def test_an_error_in_the_last_chunk_is_raised_on_leaving():
    fake = FakeWriter(fail_at=0)
    with pytest.raises(OSError):
        with BackgroundWriter(fake) as w:
            w.write(np.zeros((1, 4, 4, 3), np.uint8))
    assert fake.exits == [OSError]


def test_a_caller_error_stops_the_thread_before_the_writer_is_aborted():
    fake = FakeWriter(delay=0.05)
    with pytest.raises(KeyboardInterrupt):  # e.g. SIGTERM turned into output.Interrupted
        with BackgroundWriter(fake, depth=2) as w:
            for _ in range(3):
                w.write(np.zeros((1, 4, 4, 3), np.uint8))
            raise KeyboardInterrupt
    assert fake.exits == [KeyboardInterrupt] and not fake.closed_while_writing
    assert len(fake.chunks) < 3  # what was still queued was dropped
    assert not [t for t in threading.enumerate() if t.name == "emoavatar-writer"]


def test_job_returns_or_raises_in_the_caller():
    assert Job(lambda: 41 + 1).result() == 42
    err = ValueError("bad portrait")

    def fail():
        raise err

    with pytest.raises(ValueError) as info:
        Job(fail).result()
    assert info.value is err


def _pipe():
    return Pipeline.from_dict({**TRIVIAL_PIPELINE, "output": {"chunk_size": 8}}, registry=trivial_registry())


def test_concurrent_runner_writes_the_frames_of_a_sequential_one(tmp_path, kit_portrait_path, kit_speech_path,
                                                                 monkeypatch):
    import emoavatar.media.background as background

    _pipe().run(tmp_path / "bg.mp4", portrait=kit_portrait_path, audio=kit_speech_path, emotion="happy")

    class Inline:  # encode in the caller's thread, as before
        def __init__(self, writer, depth=1):
            self.writer = writer

        def __enter__(self):
            self.writer.__enter__()
            return self

        def write(self, frames):
            self.writer.write(frames)

        def __exit__(self, *exc):
            self.writer.__exit__(*exc)

    monkeypatch.setattr(background, "BackgroundWriter", Inline)
    _pipe().run(tmp_path / "seq.mp4", portrait=kit_portrait_path, audio=kit_speech_path, emotion="happy")
    a = np.concatenate(list(read_video(tmp_path / "bg.mp4")))
    b = np.concatenate(list(read_video(tmp_path / "seq.mp4")))
    assert a.shape == b.shape and np.array_equal(a, b)


def test_disk_full_in_the_encoding_thread_is_one_output_error_and_no_file(tmp_path, kit_portrait_path,
                                                                          kit_speech_path, monkeypatch):
    from emoavatar.media import video

    real = video.VideoWriter.encode_frames
    threads = []

    def full_disk(self, frames):  # runs in the encoding thread
        threads.append(threading.current_thread().name)
        if self.frames_written >= 16:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.tmp))
        real(self, frames)

    monkeypatch.setattr(video.VideoWriter, "encode_frames", full_disk)
    with pytest.raises(OutputError, match="No space left on device"):
        _pipe().run(tmp_path / "o.mp4", portrait=kit_portrait_path, audio=kit_speech_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert set(threads) == {"emoavatar-writer"} and len(threads) == 3


def test_a_portrait_without_a_face_is_reported_even_when_the_audio_is_bad(tmp_path, kit_portrait_path):
    blank = tmp_path / "blank.png"
    write_image(blank, np.full((64, 64, 3), 128, np.uint8))
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, np.float32), 16000)
    with pytest.raises(MediaError, match="no audio samples"):  # this audio fails beside the face analysis
        _pipe().run(tmp_path / "n.mp4", portrait=kit_portrait_path, audio=empty)
    with pytest.raises(FaceNotFoundError):  # the face stage comes first, as when stages ran in turn
        _pipe().run(tmp_path / "n.mp4", portrait=blank, audio=empty)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.png", "empty.wav"]
