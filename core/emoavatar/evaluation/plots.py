"""PNG plots of an evaluation (matplotlib, Agg backend, no display needed):

- ``<sample>_<plot>.png``: one figure per :class:`~emoavatar.spec.SeriesPlot` a metric's spec
  declares (``ComponentSpec.plots``), drawn from the series the metric reported for that sample;
- ``metrics.png``: one bar chart per value column, one bar per sample, mean ± std in the title
  (the column's better direction, from the metric's spec, as an arrow).

The core names no metric or series: everything plotted comes from the metrics' specs.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..spec import SeriesPlot
from .report import arrow, fmt
from .runner import EvaluationReport, SampleResult

MAX_BAR_PANELS = 24


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        from ..errors import EmoAvatarError

        raise EmoAvatarError("--plots needs matplotlib", fix="pip install matplotlib") from None

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _fps(s: SampleResult) -> float:
    return float(s.sample.fps or s.sample.cache.get(("fps", str(s.sample.video))) or 25.0)


def _matching(names, patterns: tuple[str, ...]) -> list[str]:
    from fnmatch import fnmatchcase

    out = [n for pat in patterns for n in sorted(names, key=_natural) if fnmatchcase(n, pat)]
    return list(dict.fromkeys(out))


def _natural(name: str) -> tuple:
    """``AU2`` before ``AU10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _x(values: np.ndarray, plot: SeriesPlot, rate: float) -> np.ndarray:
    if plot.x == "lag":
        n = (len(values) - 1) // 2
        return np.arange(len(values)) - n
    return np.arange(len(values)) / rate


def plot_series(s: SampleResult, metric: str, plot: SeriesPlot, path: Path) -> Path | None:
    """One figure of ``metric``'s series as its spec declares (``SeriesPlot``); None if none were reported."""
    outcome = s.outcomes.get(metric)
    ser = outcome.series if outcome is not None else {}
    main = [n for n in _matching(ser, plot.series) if not (plot.layout == "grid" and n.endswith("_ref") and n[:-4] in ser)]
    second = _matching(ser, plot.secondary)
    if not main and not second:
        return None
    plt = _pyplot()
    rate = _fps(s)
    xlabel = "time (s)" if plot.x == "time" else "offset (frames)"
    if plot.layout == "grid":
        rows = math.ceil(len(main) / 2)
        fig, axes = plt.subplots(rows, 2, figsize=(10, 1.8 * rows + 0.6), sharex=True, squeeze=False)
        for ax, k in zip(axes.flat, main):
            ax.plot(_x(ser[k], plot, rate), ser[k], label="generated")
            if f"{k}_ref" in ser:
                ax.plot(_x(ser[f"{k}_ref"], plot, rate), ser[f"{k}_ref"], "--", label="reference")
            ax.set_ylabel(k)
        for ax in list(axes.flat)[len(main):]:
            ax.axis("off")
        axes.flat[0].legend(loc="upper right", fontsize=8)
        for ax in axes[-1]:
            ax.set_xlabel(xlabel)
    else:
        fig, ax = plt.subplots(figsize=(10, 3.5))
        for k in main:
            ax.plot(_x(ser[k], plot, rate), ser[k], label=k, marker="o" if plot.x == "lag" else None, ms=3)
        if plot.x == "lag":
            ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(plot.ylabel)
        handles = ax.get_legend_handles_labels()
        if second:
            ax2 = ax.twinx()
            for i, k in enumerate(second):
                ax2.plot(_x(ser[k], plot, rate), ser[k], color=f"C{len(main) + i}", alpha=0.7, label=k)
            h2 = ax2.get_legend_handles_labels()
            handles = (handles[0] + h2[0], handles[1] + h2[1])
        ax.legend(*handles, loc="upper right", fontsize=8)
    fig.suptitle(f"{s.name}: {plot.title or metric}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_bars(report: EvaluationReport, path: Path) -> Path | None:
    cols = report.columns[:MAX_BAR_PANELS]
    if not cols:
        return None
    plt = _pyplot()
    ncol = min(4, len(cols))
    nrow = math.ceil(len(cols) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.6 * nrow), squeeze=False)
    summary = report.summary()
    names = [s.name for s in report.samples]
    for ax, c in zip(axes.flat, cols):
        vals = [s.values().get(c, math.nan) for s in report.samples]
        ax.bar(range(len(vals)), [v if math.isfinite(v) else 0 for v in vals],
               color=["tab:blue" if math.isfinite(v) else "lightgrey" for v in vals])
        ax.set_xticks(range(len(vals)), names if len(names) <= 6 else [], rotation=30, fontsize=7)
        sm = summary[c]
        spread = fmt(sm.mean, c, report) if len(vals) == 1 else f"{fmt(sm.mean)} ± {fmt(sm.std)} (n={sm.n})"
        ax.set_title(f"{c}{arrow(c, report)}\n{spread}", fontsize=9)
    for ax in list(axes.flat)[len(cols):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_plots(report: EvaluationReport, folder: str | Path) -> list[Path]:
    """Write every applicable plot into ``folder`` (created if needed); return the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for s in report.samples:
        for metric in report.metrics:
            spec = report.specs.get(metric)
            for plot in getattr(spec, "plots", ()):
                p = plot_series(s, metric, plot, folder / f"{_safe(s.name)}_{_safe(plot.name)}.png")
                if p:
                    out.append(p)
    p = plot_bars(report, folder / "metrics.png")
    if p:
        out.append(p)
    return out
