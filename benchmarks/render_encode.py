"""The default pipeline's render+encode phase alone, and three ways it could overlap better (issue 11).

Renders the demo at 512x512 once through the default pipeline (examples/default.yaml) to capture the
warp2d renderer and its motion chunks, then times, each the fastest of ``--repeats`` interleaved runs
(wall and process CPU):

- ``render``: the frames alone (no encoding);
- ``encode``: the same frames with ``VideoWriter.write`` in one thread (default_pipeline.py's reference);
- ``pipeline``: rendering beside the encoder thread, as the pipeline does (``BackgroundWriter``);
- ``yuv-in-render``: the same, with the RGB->YUV conversion (swscale, as the encoder would call it) done
  in the rendering thread instead of the encoder thread: the same bytes, the work moved off the
  encoder's serial chain;
- ``x264-threads=N``: the pipeline with x264 given N threads (PyAV's default 0 lets x264 choose; a
  different count may give a different bitstream: the printout says whether the bytes match
  ``pipeline``'s or the largest decoded pixel difference);
- ``x264-frame-threads`` / ``encode frame-threads``: the pipeline / the encode-only reference with x264's
  frame threads instead of PyAV's default slice threads (each frame cut in slices encoded at once, so
  the encoder thread converts, encodes and muxes one frame after another); frame threads keep several
  frames in flight (a different bitstream);

``pipeline`` minus ``encode`` is what rendering beside x264 costs. Wall times are meaningless on a
loaded machine (measured there at load 8: every variant within noise of the others): read it on a quiet one.
(warp2d draws with OpenCV's pool off, ``emoavatar_warp2d.threads``: this script first measured that.)

    .venv/bin/python benchmarks/render_encode.py [--repeats 5] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np
from emoavatar.media import VideoWriter, read_image, read_video, write_image
from emoavatar.media.background import BackgroundWriter
from emoavatar.pipeline import Pipeline

ROOT = Path(__file__).resolve().parents[1]


def capture(tmp: Path, size: int) -> tuple:
    """The renderer (prepared) and the motion chunks of one default-pipeline run."""
    import cv2
    import emoavatar_warp2d.renderer as warp2d

    portrait = tmp / "p.png"
    write_image(portrait, cv2.resize(read_image(ROOT / "examples" / "portrait.png"), (size, size),
                                     interpolation=cv2.INTER_AREA))
    seen: dict = {"chunks": []}
    plain = warp2d.Warp2DRenderer.render

    def render(self, motion, ctx=None):
        seen["renderer"], seen["ctx"] = self, ctx
        seen["chunks"].append(motion)
        return plain(self, motion, ctx)

    warp2d.Warp2DRenderer.render = render
    try:
        Pipeline.from_yaml(ROOT / "examples" / "default.yaml").run(tmp / "w.mp4", portrait=portrait,
                                                                    audio=ROOT / "examples" / "speech.wav")
    finally:
        warp2d.Warp2DRenderer.render = plain
    return seen["renderer"], seen["chunks"], seen["ctx"]


class _YuvInCaller(VideoWriter):
    """``video_frames`` also converts to the stream's yuv420p, with the call the encoder would make."""

    def video_frames(self, frames: np.ndarray) -> list:
        out = super().video_frames(frames)
        cc = self._vstream.codec_context
        return [f.reformat(cc.width, cc.height, "yuv420p", threads=cc.thread_count) for f in out]


class _Threads(VideoWriter):
    threads = 0
    kind = "SLICE"  # PyAV's default: x264 splits each frame into slices encoded at once (one frame at a time)

    def _open(self, height: int, width: int) -> None:
        super()._open(height, width)
        self._vstream.codec_context.thread_count = self.threads
        self._vstream.codec_context.thread_type = self.kind


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    args = ap.parse_args()
    speech = ROOT / "examples" / "speech.wav"
    opts = dict(audio=speech, crf=18, preset="veryfast", overwrite=True, atomic=False)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        renderer, chunks, ctx = capture(tmp, args.size)
        frames = [renderer.render(m, ctx) for m in chunks]
        n = sum(len(f) for f in frames)

        def render_only(out: Path) -> None:
            for m in chunks:
                renderer.render(m, ctx)

        def encode_with(writer_cls, out: Path) -> None:
            with writer_cls(out, 25.0, **opts) as w:
                for f in frames:
                    w.write(f)

        def encode_only(out: Path) -> None:
            encode_with(VideoWriter, out)

        def beside(writer_cls):
            def run(out: Path) -> None:
                with BackgroundWriter(writer_cls(out, 25.0, **opts)) as w:
                    for m in chunks:
                        w.write(renderer.render(m, ctx))
            return run

        variants = {"render": render_only, "encode": encode_only, "pipeline": beside(VideoWriter),
                    "yuv-in-render": beside(_YuvInCaller)}
        for k in args.threads:
            variants[f"x264-threads={k}"] = beside(type(f"_Threads{k}", (_Threads,), {"threads": k}))
        variants["x264-frame-threads"] = beside(type("_Frames", (_Threads,), {"kind": "FRAME"}))
        variants["encode frame-threads"] = lambda out: encode_with(type("_Frames", (_Threads,), {"kind": "FRAME"}), out)
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for name, fn in variants.items():
                c, t = time.process_time(), time.perf_counter()
                fn(tmp / f"{name}.mp4")
                wall, cpu = time.perf_counter() - t, time.process_time() - c
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
        ref = np.concatenate(list(read_video(tmp / "pipeline.mp4")))
        digest = hashlib.sha256((tmp / "pipeline.mp4").read_bytes()).hexdigest()
        print(f"{n} frames at {args.size}x{args.size}, fastest of {args.repeats}")
        for name, (wall, cpu) in best.items():
            note = ""
            if name not in ("render", "encode", "pipeline", "encode frame-threads"):
                same = hashlib.sha256((tmp / f"{name}.mp4").read_bytes()).hexdigest() == digest
                diff = int(np.abs(np.concatenate(list(read_video(tmp / f"{name}.mp4"))).astype(int) - ref).max())
                note = "same bytes as pipeline" if same else f"max decoded pixel difference to pipeline {diff}"
            print(f"{name:22s} {wall * 1000:7.0f} ms wall  {cpu * 1000:7.0f} ms CPU  {n / wall:6.1f} fps  {note}")
        print(f"pipeline - encode     {(best['pipeline'][0] - best['encode'][0]) * 1000:7.0f} ms  (rendering beside x264)")


if __name__ == "__main__":
    main()
