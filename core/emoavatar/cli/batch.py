"""`emoavatar batch JOBS.csv|yaml`: render many videos, on local worker processes or on Ray.

Resumable (jobs whose video and run.yaml exist are skipped), a failed job is recorded with its
one-line error and never stops the others, and every outcome lands in a results table."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

EPILOG = """manifest columns: portrait, audio, emotion, pipeline, output, overrides (KEY=VALUE;KEY=VALUE), transcript, seed
examples:
  emoavatar batch jobs.csv --workers 2
  emoavatar batch jobs.yaml --pipeline examples/default.yaml --results out/results.json
  emoavatar batch jobs.csv --engine ray                   (a local Ray on this machine)
  emoavatar batch jobs.csv --engine ray --address auto    (join the cluster this node is part of)
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="render many videos from a CSV/YAML manifest (local workers or Ray)",
                       description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("jobs", help="CSV or YAML manifest, one job per row")
    p.add_argument("--pipeline", help="pipeline YAML for rows without a pipeline column")
    p.add_argument("--workers", type=int, help="worker processes / Ray actors (default: CPU count; "
                   "with --address: the cluster's CPUs)")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="where jobs run (default: local)")
    p.add_argument("--address", help="Ray cluster address (e.g. auto or HOST:6379); default: start a local Ray")
    p.add_argument("--results", help="results table, .csv or .json (default: JOBS.results.csv beside the manifest)")
    p.add_argument("--overwrite", action="store_true", help="render every job again, replacing its outputs")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-job lines")
    p.set_defaults(func=run)


def _interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from ..batch import read_jobs, run_batch
    from ..errors import ConfigError

    jobs = read_jobs(args.jobs, args.pipeline)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if args.address and args.engine != "ray":
        raise ConfigError("--address is for --engine ray")
    workers = args.workers or (None if args.engine == "ray" and args.address else (os.cpu_count() or 1))
    manifest = Path(args.jobs)
    results = Path(args.results) if args.results else manifest.with_name(manifest.stem + ".results.csv")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)

    def progress(done: int, total: int, row: dict) -> None:
        if args.quiet or not row:
            return
        what = f"ok ({row['seconds']:.1f} s)" if row["status"] == "ok" else f"failed: {row['error']}"
        print(f"[{done}/{total}] job {row['index']} {row['output']}: {what}", file=sys.stderr, flush=True)

    skipped = sum(j.done() for j in jobs) if not args.overwrite else 0
    if skipped and not args.quiet:
        print(f"{skipped} of {len(jobs)} jobs already done (video and run.yaml exist): skipped", file=sys.stderr)
    summary = run_batch(jobs, results, engine=args.engine, workers=workers or 0, address=args.address,
                        overwrite=args.overwrite, progress=progress)
    c = summary.counts
    print(f"{len(jobs)} jobs: {c.get('ok', 0)} ok, {c.get('skipped', 0)} skipped, {c.get('failed', 0)} failed "
          f"in {summary.seconds:.1f} s; results: {summary.results}")
    return 1 if summary.failed else 0
