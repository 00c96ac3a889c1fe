"""What a batch worker does with one job. A worker process keeps its pipelines (and so the
components with their loaded models) between jobs: models load once per worker, not per job."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

from ..errors import EmoAvatarError

#: pipelines built in this process, by (pipeline file, overrides, seed)
_PIPELINES: dict[tuple, Any] = {}
_REGISTRY = None


def caching_registry():
    """This process's registry, which builds each (component, options) once and hands the same
    instance to every later job, so weights a component loaded stay loaded."""
    global _REGISTRY
    if _REGISTRY is None:
        from ..registry import Registry

        class CachingRegistry(Registry):
            def __init__(self) -> None:
                super().__init__()
                self._built: dict[tuple, Any] = {}

            def create(self, kind: str, name: str, options: Any = None) -> Any:
                import json

                if hasattr(options, "model_dump_json"):
                    opts = options.model_dump_json()
                else:
                    opts = json.dumps(options or {}, sort_keys=True, default=str)
                key = (kind, name, opts)
                if key not in self._built:
                    self._built[key] = super().create(kind, name, options)
                return self._built[key]

        _REGISTRY = CachingRegistry()
    return _REGISTRY


def _pipeline(job: dict[str, Any]):
    from ..config import load_config, parse_overrides
    from ..pipeline import Pipeline

    key = (job["pipeline"], tuple(job.get("overrides") or ()), job.get("seed"))
    pipe = _PIPELINES.get(key)
    if pipe is None:
        overrides = parse_overrides(list(job.get("overrides") or ()))
        if job.get("seed") is not None:
            overrides.append(("seed", int(job["seed"])))
        pipe = Pipeline(load_config(job["pipeline"], overrides), registry=caching_registry())
        pipe.validate().raise_first()
        _PIPELINES[key] = pipe
    return pipe


def _one_line(text: str, limit: int = 400) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def run_job(job: dict[str, Any], overwrite: bool = False) -> dict[str, Any]:
    """Render one job; never raises. Returns a result row: ``index``, ``output``, ``status``
    (``ok`` / ``failed``), ``error`` (one line), ``seconds``, per-stage ``timings``, ``metrics``,
    ``worker`` (pid)."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"index": job["index"], "output": job["output"], "status": "failed", "error": "",
                           "seconds": 0.0, "timings": {}, "metrics": {}, "worker": os.getpid()}
    try:
        out = Path(job["output"])
        run_file = out.with_name(out.stem + ".run.yaml")
        if out.exists() and not run_file.exists() and not overwrite:
            raise EmoAvatarError(f"{out} exists without its run.yaml (an interrupted or foreign file)",
                                 fix="remove it, or pass --overwrite to render it again")
        out.parent.mkdir(parents=True, exist_ok=True)
        pipe = _pipeline(job)
        result = pipe.run(out, portrait=job.get("portrait"), audio=job.get("audio"), emotion=job.get("emotion"),
                          transcript=job.get("transcript"), overwrite=overwrite)
        row["status"] = "ok"
        row["frames"] = result.n_frames
        row["timings"] = {k: round(v, 4) for k, v in result.timings.items()}
        if result.metrics is not None and result.metrics.samples:
            row["metrics"] = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                              for k, v in result.metrics.samples[0].values().items()}
    except EmoAvatarError as e:
        row["error"] = _one_line(str(e))
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - a plugin bug fails this job only
        row["error"] = _one_line(f"internal error: {type(e).__name__}: {e}")
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row
