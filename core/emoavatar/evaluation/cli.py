"""`emoavatar evaluate VIDEO_OR_FOLDER [...]`: run metric plugins and print / write a report.

``register(subparsers)`` adds the command; ``handler(args) -> exit code``. User errors
(:class:`~emoavatar.errors.EmoAvatarError`) propagate to the main CLI, which prints one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """examples:
  emoavatar evaluate out.mp4 --portrait portrait.png            (no reference: identity, sync, AUs, blinks)
  emoavatar evaluate out.mp4 --reference real.mp4 --emotion happy -o report.md --plots plots/
  emoavatar evaluate results/ --reference gt/ --metrics psnr,ssim,lmd --format csv -o scores.csv
  emoavatar evaluate --manifest eval.csv --set syncnet.weights=~/weights/syncnet_v2.model
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score generated videos (PSNR, SSIM, LMD, sync, identity, AUs, ...)",
                       description="Score generated talking-head videos with the installed metric plugins.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", nargs="?", metavar="VIDEO_OR_FOLDER", help="a generated video or a folder of them")
    p.add_argument("--reference", help="ground-truth video (or folder, matched by file name)")
    p.add_argument("--audio", help="the driving speech (default: the video's own audio track)")
    p.add_argument("--portrait", help="the source portrait image (or folder)")
    p.add_argument("--emotion", help="the requested emotion (label, mix or YAML request), for emotion-acc")
    p.add_argument("--manifest", help="CSV/YAML listing generated, reference, audio, portrait, emotion per row")
    p.add_argument("--metrics", help="comma list of metrics (default: all installed; those without their "
                   "inputs are listed as skipped)")
    p.add_argument("--set", action="append", default=[], metavar="METRIC.KEY=VALUE",
                   help="metric option, e.g. fid.weights=PATH or lmd.normalize=iod; face.KEY=VALUE sets a "
                   "face analyzer option, e.g. face.upsample=0 (repeatable)")
    p.add_argument("--fps", type=float, help="override the videos' frame rate")
    p.add_argument("--format", choices=("table", "csv", "json", "md"),
                   help="report format (default: from -o's suffix, else table)")
    p.add_argument("-o", "--output", help="write the report to this file")
    p.add_argument("--plots", metavar="DIR", help="write PNG plots into this folder")
    p.add_argument("--notes", action="store_true", help="print every metric's notes under the table")
    p.add_argument("--face", help="face analyzer plugin for landmark metrics (default: the installed default one)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process; ray: spread the videos over a Ray cluster (pip install 'emoavatar[ray]')")
    p.add_argument("--address", help="with --engine ray: cluster address (auto, HOST:6379); default: a local Ray")
    p.add_argument("--workers", type=int, help="with --engine ray: number of Ray tasks (default: the cluster's CPUs)")
    p.set_defaults(func=handler, _evaluate_parser=p)


def parse_sets(items: list[str]) -> dict[str, dict]:
    """``["fid.weights=/p", "lmd.normalize=iod"]`` -> ``{"fid": {"weights": "/p"}, "lmd": {...}}``."""
    import yaml

    from ..errors import ConfigError

    out: dict[str, dict] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        metric, dot, opt = key.strip().partition(".")
        if not eq or not dot or not metric or not opt:
            raise ConfigError(f"--set {item!r}: expected METRIC.KEY=VALUE")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        if opt in ("weights", "model") and isinstance(value, str):
            value = str(Path(value).expanduser())
        out.setdefault(metric, {})[opt] = value
    return out


def handler(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from .manifest import read_manifest, samples_from_args
    from .plots import write_plots
    from .report import format_for_path, render, render_table, write_report
    from .runner import EvaluationOptions, evaluate

    usage = getattr(args, "_evaluate_parser", None)
    if args.manifest and args.target:
        if usage is not None:
            usage.error("give VIDEO_OR_FOLDER or --manifest, not both")
        raise ConfigError("give VIDEO_OR_FOLDER or --manifest, not both")
    if args.manifest:
        samples = read_manifest(args.manifest)
    elif args.target:
        samples = samples_from_args(args.target, args.reference, args.audio, args.portrait, args.emotion, args.fps)
    else:
        if usage is not None:
            usage.error("nothing to evaluate: give a video, a folder of videos or --manifest FILE")
        raise ConfigError("nothing to evaluate", fix="give a video, a folder of videos or --manifest FILE")
    names = [n for n in args.metrics.split(",") if n.strip()] if args.metrics else None
    metric_config = parse_sets(args.set)
    face_config = metric_config.pop("face", {})
    options = EvaluationOptions(metric_config=metric_config, face=args.face, face_config=face_config, fps=args.fps)

    def progress(msg: str) -> None:
        if sys.stderr.isatty():
            print(f"\r\033[K{msg}", end="", file=sys.stderr, flush=True)

    if args.engine == "ray":
        from .distributed import evaluate_ray

        report = evaluate_ray(samples, names, options, address=args.address, workers=args.workers)
    elif args.address or args.workers:
        raise ConfigError("--address and --workers are for --engine ray")
    else:
        report = evaluate(samples, names, options, progress=progress)
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    fmt_name = args.format or (format_for_path(Path(args.output)) if args.output else "table")
    if args.output:
        write_report(report, args.output, fmt_name)
    if fmt_name == "table" or args.output:
        print(render_table(report, notes=args.notes), end="")
    else:
        print(render(report, fmt_name), end="")
    if args.output:
        print(f"report: {args.output}")
    if args.plots:
        files = write_plots(report, args.plots)
        print(f"plots: {len(files)} file(s) in {args.plots}")
    computed = any(o.values for s in report.samples for o in s.outcomes.values())
    if not computed:
        print("error: no metric could be computed (see skipped above)", file=sys.stderr)
        return 1
    return 0
