"""Batch jobs from a CSV or YAML manifest: one job per row.

Columns (CSV header or YAML list-of-mappings keys):

- ``portrait``, ``audio``: inputs (optional when the pipeline YAML names them);
- ``emotion``: any request :func:`~emoavatar.emotions.parse_emotion` accepts;
- ``pipeline``: a pipeline YAML (required, unless ``--pipeline`` gives a default);
- ``output``: the ``.mp4`` to write (required);
- ``overrides``: ``KEY=VALUE`` pairs as for ``--set``, separated by ``;`` in CSV, a list in YAML;
- ``transcript``, ``seed`` (optional).

Relative paths are relative to the manifest's folder. Two rows may not name the same output
(after resolving paths), so two workers never write one file.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError

COLUMNS = ("portrait", "audio", "emotion", "pipeline", "output", "overrides", "transcript", "seed")
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass
class Job:
    """One render: ``index`` is its row number (1-based, as a user counts rows)."""

    index: int
    output: str
    pipeline: str
    portrait: str | None = None
    audio: str | None = None
    emotion: Any = None
    overrides: list[str] = field(default_factory=list)
    transcript: str | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def run_file(self) -> Path:
        out = Path(self.output)
        return out.with_name(out.stem + ".run.yaml")

    def done(self) -> bool:
        """Finished by an earlier run: the video and its run.yaml both exist."""
        return Path(self.output).is_file() and self.run_file.is_file()


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"batch manifest not found: {path}", fix="give a CSV or YAML file with one job per row")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ConfigError(f"batch manifest {path} is larger than {MAX_MANIFEST_BYTES >> 20} MiB")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"batch manifest {path} is not UTF-8 text") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise ConfigError(f"batch manifest {path} is not valid YAML{where}") from None
        if isinstance(data, dict) and "jobs" in data:
            data = data["jobs"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ConfigError(f"batch manifest {path} must be a list of mappings (or {{jobs: [...]}})")
        return data
    return list(csv.DictReader(text.splitlines()))


def _path(value: Any, base: Path) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    p = Path(str(value).strip()).expanduser()
    return str(p if p.is_absolute() else (base / p))


def read_jobs(path: str | Path, default_pipeline: str | Path | None = None) -> list[Job]:
    """Parse and check a manifest; raises :class:`ConfigError` naming the row on any problem."""
    path = Path(path)
    base = path.parent
    rows = _rows(path)
    if not rows:
        raise ConfigError(f"batch manifest {path} has no jobs")
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows, 1):
        unknown = sorted(k for k in row if k not in COLUMNS and k is not None)
        if unknown:
            raise ConfigError(f"{path.name} row {i}: unknown column {unknown[0]!r}", fix=f"columns: {', '.join(COLUMNS)}")
        output = _path(row.get("output"), base)
        if not output:
            raise ConfigError(f"{path.name} row {i}: no output", fix="every job needs an output .mp4")
        if not output.lower().endswith(".mp4"):
            raise ConfigError(f"{path.name} row {i}: output must end in .mp4")
        pipeline = _path(row.get("pipeline"), base) or (str(default_pipeline) if default_pipeline else None)
        if not pipeline:
            raise ConfigError(f"{path.name} row {i}: no pipeline", fix="add a pipeline column or pass --pipeline")
        key = str(Path(output).resolve())
        if key in seen:
            raise ConfigError(f"{path.name} rows {seen[key]} and {i} write the same output {output}",
                              fix="give every job its own output")
        seen[key] = i
        overrides = row.get("overrides") or []
        if isinstance(overrides, str):
            overrides = [s.strip() for s in overrides.split(";") if s.strip()]
        if not isinstance(overrides, list) or not all(isinstance(s, str) for s in overrides):
            raise ConfigError(f"{path.name} row {i}: overrides must be KEY=VALUE strings")
        seed = row.get("seed")
        if seed not in (None, ""):
            try:
                seed = int(seed)
            except (TypeError, ValueError):
                raise ConfigError(f"{path.name} row {i}: seed must be an integer") from None
        else:
            seed = None
        emotion = row.get("emotion")
        jobs.append(Job(i, output, pipeline, _path(row.get("portrait"), base), _path(row.get("audio"), base),
                        emotion if emotion not in ("",) else None, overrides,
                        (row.get("transcript") or None), seed))
    return jobs
