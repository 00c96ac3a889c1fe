"""Report writers: terminal table (rich), CSV, JSON, Markdown. NaN is written as ``n/a`` / null,
never as 0; skipped metrics are listed with their reasons."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from .runner import EvaluationReport

FORMATS = ("table", "csv", "json", "md")
MAX_SAMPLE_COLUMNS = 4


def arrow(col: str, report: EvaluationReport | None = None) -> str:
    """`` ↑`` / `` ↓`` when the metric's spec declares the column's better direction (``Column.better``)."""
    spec = report.column_spec(col) if report is not None else None
    better = spec.better if spec is not None else None
    return " ↑" if better == "higher" else " ↓" if better == "lower" else ""


def label(col: str, report: EvaluationReport | None = None) -> str:
    """``psnr ↑ (dB)``: the column with its direction and unit (from the metric's spec)."""
    spec = report.column_spec(col) if report is not None else None
    unit = f" ({spec.unit})" if spec is not None and spec.unit else ""
    return col + arrow(col, report) + unit


def fmt(v: float | None, col: str = "", report: EvaluationReport | None = None) -> str:
    if v is None or not math.isfinite(v):
        return "n/a"
    spec = report.column_spec(col) if report is not None and col else None
    if spec is not None and spec.integer and float(v).is_integer():
        return str(int(v))
    if abs(v) >= 100:
        return f"{v:.1f}"
    if abs(v) >= 1:
        return f"{v:.3f}"
    return f"{v:.4f}"


def _rows(report: EvaluationReport) -> tuple[list[str], list[list[str]]]:
    """Transposed table: one row per value column; per-sample columns (when few) and, for several
    samples, mean ± std (n) over the samples where the value is defined."""
    single = len(report.samples) == 1
    show = len(report.samples) <= MAX_SAMPLE_COLUMNS
    header = ["metric", "value"] + ([s.name for s in report.samples] if show else [])
    if not single:
        header.append("mean ± std (n)")
    summary, owner = report.summary(), report.column_metric()
    rows = []
    for c in report.columns:
        s = summary[c]
        cells = [owner.get(c, ""), label(c, report)]
        if show:
            cells += [fmt(r.values().get(c), c, report) for r in report.samples]
        if not single:
            cells.append(f"{fmt(s.mean)} ± {fmt(s.std)} ({s.n})" if s.n else "n/a (0)")
        rows.append(cells)
    return header, rows


def _skip_lines(report: EvaluationReport) -> list[str]:
    lines = []
    for metric, items in report.skipped().items():
        reasons = sorted({r for _, r in items})
        who = "all samples" if len(items) == len(report.samples) else ", ".join(n for n, _ in items)
        for r in reasons:
            lines.append(f"{metric} ({who}): {r}")
    return lines


def _pooled_lines(report: EvaluationReport) -> list[str]:
    return [f"pooled over all videos: {label(k, report)} = {fmt(v, k, report)}"
            for o in report.pooled.values() for k, v in o.values.items()]


def _note_lines(report: EvaluationReport) -> list[str]:
    lines = []
    for s in report.samples:
        for m, o in s.outcomes.items():
            for n in o.notes:
                lines.append(f"{s.name} / {m}: {n}")
    return lines


def render_table(report: EvaluationReport, *, notes: bool = False) -> str:
    """The terminal table as text (rich), with skipped metrics and optionally notes below."""
    from rich.console import Console
    from rich.table import Table

    header, rows = _rows(report)
    table = Table(title=f"emoavatar evaluate: {len(report.samples)} video(s)")
    for i, h in enumerate(header):
        table.add_column(h, justify="left" if i < 2 else "right")
    for r in rows:
        table.add_row(*r)
    buf = io.StringIO()
    console = Console(file=buf, width=max(100, 30 + 14 * len(header)), force_terminal=False, color_system=None)
    console.print(table)
    for line in _pooled_lines(report):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    skips = _skip_lines(report)
    if skips:
        console.print("skipped:")
        for line in skips:
            console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
    if notes:
        for line in _note_lines(report):
            console.print("  note: " + line, markup=False, highlight=False, soft_wrap=True)
    return buf.getvalue()


def to_csv(report: EvaluationReport) -> str:
    """One row per sample (values, then skipped metrics), then ``mean`` and ``std`` rows and, when a
    metric pools over all samples (``fid_pooled``), a ``pooled`` row in that column."""
    cols = report.columns
    pooled = {k: v for o in report.pooled.values() for k, v in o.values.items()}
    pcols = [k for k in pooled if k not in cols]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["sample", "video", *cols, *pcols, "skipped"])
    blank = [""] * len(pcols)
    for s in report.samples:
        vals = s.values()
        w.writerow([s.name, str(s.sample.video), *[_csv(vals.get(c)) for c in cols], *blank,
                    "; ".join(f"{m}: {r}" for m, r in s.skipped.items())])
    summary = report.summary()
    w.writerow(["mean", "", *[_csv(summary[c].mean) for c in cols], *blank, ""])
    w.writerow(["std", "", *[_csv(summary[c].std) for c in cols], *blank, ""])
    if pooled:
        w.writerow(["pooled", "", *[_csv(pooled.get(c)) for c in cols + pcols], ""])
    return buf.getvalue()


def _csv(v: float | None) -> str:
    return "" if v is None or not math.isfinite(v) else repr(float(v))


def _num(v: float | None):
    return None if v is None or not math.isfinite(v) else float(v)


def to_dict(report: EvaluationReport) -> dict:
    samples = []
    for s in report.samples:
        smp = s.sample
        samples.append({
            "name": s.name, "video": str(smp.video),
            "inputs": {k: str(getattr(smp, k)) for k in ("reference", "audio", "portrait") if getattr(smp, k)},
            "emotion": smp.emotion.describe() if smp.emotion else None,
            "values": {k: _num(v) for k, v in s.values().items()},
            "skipped": s.skipped,
            "notes": {m: o.notes for m, o in s.outcomes.items() if o.notes},
            "seconds": {m: round(o.seconds, 3) for m, o in s.outcomes.items() if not o.skipped},
        })
    summary = {c: {"mean": _num(v.mean), "std": _num(v.std), "n": v.n} for c, v in report.summary().items()}
    pooled = {k: _num(v) for o in report.pooled.values() for k, v in o.values.items()}
    directions = {c: d for c in report.columns + list(pooled) if (d := _better(report, c))}
    return {"metrics": report.metrics, "columns": report.columns, "better": directions, "summary": summary,
            "pooled": pooled, "samples": samples}


def _better(report: EvaluationReport, col: str) -> str | None:
    spec = report.column_spec(col)
    return spec.better if spec is not None else None


def to_json(report: EvaluationReport) -> str:
    return json.dumps(to_dict(report), indent=2, ensure_ascii=False) + "\n"


def to_markdown(report: EvaluationReport) -> str:
    header, rows = _rows(report)
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    pooled = _pooled_lines(report)
    if pooled:
        out += [""] + [f"{line}  " for line in pooled]
    skips = _skip_lines(report)
    if skips:
        out += ["", "Skipped:", ""] + [f"- {line}" for line in skips]
    return "\n".join(out) + "\n"


def render(report: EvaluationReport, fmt_name: str) -> str:
    if fmt_name == "table":
        return render_table(report)
    if fmt_name == "csv":
        return to_csv(report)
    if fmt_name == "json":
        return to_json(report)
    if fmt_name == "md":
        return to_markdown(report)
    raise ValueError(f"unknown format {fmt_name!r}; use one of {FORMATS}")


def format_for_path(path: Path) -> str:
    return {".csv": "csv", ".json": "json", ".md": "md", ".markdown": "md"}.get(path.suffix.lower(), "table")


def write_report(report: EvaluationReport, path: str | Path, fmt_name: str | None = None) -> Path:
    """Write the report (format from ``fmt_name`` or the suffix) via a temporary file + rename."""
    path = Path(path)
    text = render(report, fmt_name or format_for_path(path))
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
