"""`emoavatar run PIPELINE.yaml --portrait P --audio A --emotion SPEC -o OUT.mp4`."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="render a talking-head video", description=__doc__)
    p.add_argument("pipeline", help="pipeline YAML (e.g. examples/default.yaml)")
    p.add_argument("-o", "--output", required=True, help="output .mp4 (a OUT.run.yaml is written beside it)")
    p.add_argument("--portrait", help="portrait image (overrides inputs.portrait)")
    p.add_argument("--audio", help="speech audio, any format PyAV reads (overrides inputs.audio)")
    p.add_argument("--emotion", help="label, mix or YAML request, e.g. happy, 'happy:0.6,surprised:0.4', "
                   "'{text: I won!}', '[{at: 0, emotion: sad}, {at: 2, emotion: happy}]', from_audio")
    p.add_argument("--driving", help="driving video for video-driven stages (overrides inputs.driving); "
                   "its audio is used unless --audio is given")
    p.add_argument("--transcript", help="what is said in the audio (for aligning encoders, e.g. phonemes)")
    p.add_argument("--fps", type=float, help="video frame rate (overrides fps)")
    p.add_argument("--seed", type=int, help="random seed (overrides seed)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any pipeline option, e.g. --set renderer.with.teeth=0.3 (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT.mp4 if it exists")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..config import load_config, parse_overrides
    from ..pipeline import Pipeline

    overrides = parse_overrides(args.set)
    if args.fps is not None:
        overrides.append(("fps", args.fps))
    if args.seed is not None:
        overrides.append(("seed", args.seed))
    pipe = Pipeline(load_config(args.pipeline, overrides))
    emotion = None
    if args.emotion is not None:
        from ..emotions import parse_emotion

        emotion = parse_emotion(args.emotion)
    with _progress(args.quiet) as progress:
        result = pipe.run(args.output, portrait=args.portrait, audio=args.audio, emotion=emotion,
                          transcript=args.transcript, driving=args.driving, overwrite=args.overwrite, progress=progress)
    print(f"wrote {result.output} ({result.n_frames} frames, {result.duration:.2f} s, "
          f"{result.render_fps:.1f} fps rendered) and {result.config_path.name}")
    if result.metrics is not None:
        from ..evaluation.report import render_table

        print(render_table(result.metrics, notes=True))
        print(f"metrics saved to {result.output.stem}.metrics.json")
    return 0


class _progress:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and sys.stderr.isatty()
        self.bar = None
        self.task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TimeRemainingColumn

        self.bar = Progress("[progress.description]{task.description}", BarColumn(),
                            "{task.completed}/{task.total} frames", TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.__enter__()
        return self.update

    def update(self, stage: str, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.bar.add_task(stage, total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
