"""Run a list of jobs: skip what is done, hand the rest to an engine, record every outcome.

Every finished job is appended at once to a journal (``RESULTS.jsonl``, flushed to disk), so a
batch killed midway loses nothing: a restart skips jobs whose video and run.yaml exist and
renders the rest. At the end the results table (CSV or JSON, by the suffix of ``results``) lists
every job of the manifest: ``ok``, ``skipped`` (done before) or ``failed`` with its one-line error.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engines import local_results, ray_results
from .manifest import Job

ProgressFn = Callable[[int, int, dict[str, Any]], None]


@dataclass
class BatchSummary:
    rows: list[dict[str, Any]]
    results: Path
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in row.items() if k not in ("timings", "metrics")}
    flat.update({f"t_{k}": v for k, v in (row.get("timings") or {}).items()})
    flat.update(row.get("metrics") or {})
    return flat


def write_table(rows: list[dict[str, Any]], path: Path) -> None:
    """CSV (columns: the union of all rows' keys, first seen first) or JSON; written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        text = json.dumps(rows, indent=2, default=str)
    else:
        flat = [_flatten(r) for r in rows]
        cols: list[str] = []
        for r in flat:
            cols += [k for k in r if k not in cols]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols)
        writer.writeheader()
        writer.writerows(flat)
        text = buf.getvalue()
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def journal_path(results: Path) -> Path:
    return results.with_suffix(".jsonl")


def run_batch(jobs: list[Job], results: Path, *, engine: str = "local", workers: int = 1,
              address: str | None = None, overwrite: bool = False, progress: ProgressFn | None = None
              ) -> BatchSummary:
    t0 = time.perf_counter()
    results = Path(results)
    by_index: dict[int, dict[str, Any]] = {}
    todo = []
    for job in jobs:
        if job.done() and not overwrite:
            by_index[job.index] = {"index": job.index, "output": job.output, "status": "skipped",
                                   "error": "", "seconds": 0.0, "timings": {}, "metrics": {}}
        else:
            todo.append(job.to_dict())
    total, finished = len(jobs), len(by_index)
    if progress:
        progress(finished, total, {})
    journal = journal_path(results)
    journal.parent.mkdir(parents=True, exist_ok=True)
    if engine == "ray":
        stream = ray_results(todo, workers or None, overwrite, address)
    else:
        stream = local_results(todo, workers, overwrite)
    # closing: an interrupt stops the workers here and now, not whenever the generator is collected
    with open(journal, "a", encoding="utf-8") as log, contextlib.closing(stream):
        for row in stream:
            by_index[row["index"]] = row
            log.write(json.dumps({**row, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, default=str) + "\n")
            log.flush()
            os.fsync(log.fileno())
            finished += 1
            if progress:
                progress(finished, total, row)
    rows = [by_index[j.index] for j in jobs]
    write_table(rows, results)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return BatchSummary(rows, results, time.perf_counter() - t0, counts)
