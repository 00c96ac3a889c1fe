"""Batch throughput: jobs per minute with 1 and 2 local worker processes and with Ray (2 actors).

Each job renders the kit's 2 s speech on the 256² portrait with the default pipeline. Printed
per engine: wall time, jobs/min, mean seconds inside a job, and the per-job overhead (time a
worker was not rendering: start-up, model loading, hand-off), plus the scaling ratios.

    .venv/bin/python benchmarks/batch.py [--jobs 8]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "core" / "emoavatar" / "testing" / "data"


def manifest(folder: Path, n: int) -> Path:
    path = folder / "jobs.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["portrait", "audio", "emotion", "pipeline", "output"])
        for i in range(n):
            w.writerow([DATA / "portrait_256.png", DATA / "speech_2s.wav", ("happy", "sad", "surprised")[i % 3],
                        ROOT / "examples" / "default.yaml", f"out/{i:03d}.mp4"])
    return path


def measure(engine: str, workers: int, n: int) -> dict:
    from emoavatar.batch import read_jobs, run_batch

    folder = Path(tempfile.mkdtemp(prefix=f"bench-{engine}{workers}-"))
    try:
        jobs = read_jobs(manifest(folder, n))
        t0 = time.perf_counter()
        s = run_batch(jobs, folder / "results.csv", engine=engine, workers=workers)
        wall = time.perf_counter() - t0
        assert s.counts.get("ok") == n, s.counts
        inside = sum(r["seconds"] for r in s.rows)
        return {"engine": f"{engine} x{workers}", "wall": wall, "jpm": 60 * n / wall, "job_s": inside / n,
                "overhead_s": (wall * workers - inside) / n}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args(argv)
    rows = [measure("local", 1, args.jobs), measure("local", 2, args.jobs)]
    if not args.no_ray:
        try:
            import ray  # noqa: F401

            rows.append(measure("ray", 2, args.jobs))
        except ImportError:
            print("ray not installed: pip install 'emoavatar[ray]'", file=sys.stderr)
    print(f"{args.jobs} jobs (2 s of speech, 256² portrait, default pipeline) on {__import__('os').cpu_count()} CPUs")
    print(f"{'engine':10s} {'wall s':>7s} {'jobs/min':>9s} {'s/job inside':>13s} {'overhead s/job':>15s}")
    for r in rows:
        print(f"{r['engine']:10s} {r['wall']:7.1f} {r['jpm']:9.1f} {r['job_s']:13.2f} {r['overhead_s']:15.2f}")
    base = rows[0]["jpm"]
    for r in rows[1:]:
        print(f"{r['engine']} / local x1 throughput: {r['jpm'] / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
