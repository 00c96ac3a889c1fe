"""MP4 writing (H.264 + AAC, frames encoded as they arrive, audio interleaved from the
source file in small pieces) and video reading, with PyAV.

The writer targets ``OUT.partial.mp4`` next to the output and renames it on :meth:`close`,
so a failed run never leaves a half-written video (docs/architecture.md, "Runner").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import MediaError, OutputExistsError


def partial_path(path: Path) -> Path:
    return path.with_name(path.stem + ".partial" + path.suffix)


class VideoWriter:
    """``with VideoWriter(out, fps, audio=path) as w: w.write(frames_chunk)``.

    Frames are uint8 RGB ``[N, H, W, 3]``; odd sizes are padded by one edge pixel (yuv420p).
    On a clean exit the file is renamed into place; on an exception it is deleted.
    ``atomic=False`` writes ``path`` itself (for a caller that writes to its own temporary).
    """

    def __init__(self, path: str | Path, fps: float = 25.0, *, audio: str | Path | None = None,
                 crf: int = 18, preset: str = "veryfast", overwrite: bool = False, atomic: bool = True) -> None:
        self.path = Path(path)
        if self.path.exists() and not overwrite:
            raise OutputExistsError(f"{self.path} already exists", fix="choose another -o or pass --overwrite")
        if not self.path.parent.is_dir():
            raise MediaError(f"output folder {self.path.parent} does not exist")
        self.fps = fps
        self.audio_path = Path(audio) if audio else None
        self.crf, self.preset = crf, preset
        self.tmp = partial_path(self.path) if atomic else self.path  # not atomic: the caller renames
        self._container = None
        self._vstream = None
        self.frames_written = 0
        self._audio = None

    # -- setup -------------------------------------------------------------------------
    def _open(self, height: int, width: int) -> None:
        import av

        self._container = av.open(str(self.tmp), mode="w", format="mp4")
        rate = Fraction(self.fps).limit_denominator(1001)
        vs = self._container.add_stream("libx264", rate=rate)
        vs.width, vs.height = width + width % 2, height + height % 2
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": str(self.crf), "preset": self.preset}
        vs.codec_context.time_base = 1 / rate
        self._vstream = vs
        if self.audio_path is not None:
            self._audio = _AudioMuxer(self._container, self.audio_path)

    # -- writing -----------------------------------------------------------------------
    def write(self, frames: np.ndarray) -> None:
        import av

        for img in self._checked(frames):  # each frame copied, then encoded at once
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            self._encode_one(vf)
        self._mux_audio()

    def video_frames(self, frames: np.ndarray) -> list:
        """Check and copy a chunk into encoder frames (``av.VideoFrame``), opening the file on the
        first chunk; :meth:`encode_frames` encodes them (another thread may, see ``background.py``).
        ``write(chunk)`` is the same in one thread."""
        import av

        return [av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24") for img in self._checked(frames)]

    def encode_frames(self, video_frames: list) -> None:
        for vf in video_frames:
            self._encode_one(vf)
        self._mux_audio()

    def _encode_one(self, vf) -> None:
        vf.pts = self.frames_written
        for pkt in self._vstream.encode(vf):
            self._container.mux(pkt)
        self.frames_written += 1

    def _mux_audio(self) -> None:
        if self._audio is not None:
            self._audio.mux_until(self.frames_written / self.fps)

    def _checked(self, frames: np.ndarray) -> np.ndarray:
        """``frames`` as uint8 ``[N, H, W, 3]`` padded to even sizes; opens the file on the first chunk."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3:
            raise ValueError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype} {frames.shape}")
        n, h, w, _ = frames.shape
        if self._container is None:
            self._open(h, w)
        if (h + h % 2, w + w % 2) != (self._vstream.height, self._vstream.width):
            raise ValueError(f"frame size changed mid-video: {w}x{h}")
        if h % 2 or w % 2:
            frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        return frames

    def close(self) -> Path:
        if self._container is None:
            raise MediaError("no frames were written")
        for pkt in self._vstream.encode(None):
            self._container.mux(pkt)
        if self._audio is not None:
            self._audio.mux_until(None)
        self._container.close()
        self._container = None
        if self.tmp != self.path:
            os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - best effort on the failure path
                pass
            self._container = None
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _AudioMuxer:
    """Re-encodes the source audio to AAC piece by piece, keeping pace with the video."""

    def __init__(self, container, path: Path) -> None:
        import av

        from .audio import iter_audio

        src = av.open(str(path))
        try:
            if not src.streams.audio:
                raise MediaError(f"{path} has no audio stream")
            in_rate = src.streams.audio[0].rate or 16000
            channels = src.streams.audio[0].channels or 1
        finally:
            src.close()
        self.rate = in_rate if in_rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000) else 48000
        self.layout = "stereo" if channels >= 2 else "mono"
        self.stream = container.add_stream("aac", rate=self.rate)
        self.stream.layout = self.layout
        self.container = container
        self.fifo = av.AudioFifo()
        self.chunks = iter_audio(path, self.rate, layout=self.layout, fmt="fltp")
        self.samples_out = 0
        self.done = False

    def mux_until(self, seconds: float | None) -> None:
        import av

        frame_size = self.stream.codec_context.frame_size or 1024
        while not self.done and (seconds is None or self.samples_out < seconds * self.rate + frame_size):
            try:
                arr = next(self.chunks)
            except StopIteration:
                self.done = True
                break
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr, dtype=np.float32),
                                               format="fltp", layout=self.layout)
            frame.sample_rate = self.rate
            frame.pts = None
            self.fifo.write(frame)
            while self.fifo.samples >= frame_size:
                self._encode(self.fifo.read(frame_size))
        if self.done and seconds is None:
            if self.fifo.samples:
                self._encode(self.fifo.read(self.fifo.samples))
            for pkt in self.stream.encode(None):
                self.container.mux(pkt)

    def _encode(self, frame) -> None:
        frame.pts = self.samples_out
        frame.time_base = Fraction(1, self.rate)
        self.samples_out += frame.samples
        for pkt in self.stream.encode(frame):
            self.container.mux(pkt)


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    n_frames: int
    duration: float
    has_audio: bool
    audio_duration: float | None
    video_codec: str
    audio_codec: str | None


#: Demuxers of single images (PNG, JPEG, ... are read by ``image2`` or a ``*_pipe`` demuxer).
STILL_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe")


def _open_video(path: Path):
    import av

    if not path.is_file():
        raise MediaError(f"video not found: {path}", fix="check the path")
    try:
        c = av.open(str(path))
    except Exception as e:  # noqa: BLE001
        raise MediaError(f"cannot read video {path}: {e}") from None
    if not c.streams.video:
        c.close()
        raise MediaError(f"{path} has no video stream")
    if c.format.name in STILL_IMAGE_FORMATS or c.format.name.endswith("_pipe"):
        c.close()
        raise MediaError(f"{path} is a still image, not a video", fix="give a video file such as an MP4")
    return c


def video_info(path: str | Path) -> VideoInfo:
    """Sizes, rate, frame count (counted by demuxing when the header lacks it) and streams."""
    path = Path(path)
    c = _open_video(path)
    try:
        vs = c.streams.video[0]
        fps = float(vs.average_rate or vs.base_rate or 25)
        n = vs.frames or sum(1 for p in c.demux(vs) if p.size)
        dur = float(vs.duration * vs.time_base) if vs.duration else n / fps
        a = c.streams.audio[0] if c.streams.audio else None
        adur = float(a.duration * a.time_base) if a is not None and a.duration else None
        return VideoInfo(vs.codec_context.width, vs.codec_context.height, fps, int(n), dur,
                         a is not None, adur, vs.codec_context.name, a.codec_context.name if a else None)
    finally:
        c.close()


def read_video(path: str | Path, chunk: int = 32) -> Iterator[np.ndarray]:
    """Yield uint8 RGB chunks ``[<=chunk, H, W, 3]``; a corrupt stream raises MediaError."""
    import av

    path = Path(path)
    c = _open_video(path)
    buf: list[np.ndarray] = []
    try:
        for frame in c.decode(video=0):
            buf.append(frame.to_ndarray(format="rgb24"))
            if len(buf) == chunk:
                yield np.stack(buf)
                buf = []
    except av.error.FFmpegError as e:
        raise MediaError(f"corrupt video {path}: {e}") from None
    finally:
        c.close()
    if buf:
        yield np.stack(buf)
