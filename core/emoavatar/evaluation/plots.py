"""PNG plots of an evaluation (matplotlib, Agg backend, no display needed):

- ``<sample>_sync.png``: mouth opening vs speech energy over time (series ``mouth_opening`` and
  ``speech_energy`` from av-sync) and the lag correlation r(k) (``av_xcorr``);
- ``<sample>_au.png``: AU proxy tracks (series ``AU<n>``; dashed: the reference's ``AU<n>_ref``);
- ``metrics.png``: one bar chart per value column, one bar per sample, mean ± std in the title.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

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


def plot_sync(s: SampleResult, path: Path) -> Path | None:
    ser = s.series()
    if "mouth_opening" not in ser or "speech_energy" not in ser:
        return None
    plt = _pyplot()
    mouth, energy = ser["mouth_opening"], ser["speech_energy"]
    t = np.arange(len(mouth)) / _fps(s)
    fig, axes = plt.subplots(2, 1, figsize=(10, 5.5), gridspec_kw={"height_ratios": [2, 1]})
    ax = axes[0]
    ax.plot(t, mouth, color="tab:red", label="mouth opening (inter-ocular units)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mouth opening", color="tab:red")
    ax2 = ax.twinx()
    ax2.plot(np.arange(len(energy)) / _fps(s), energy, color="tab:blue", alpha=0.7, label="speech energy")
    ax2.set_ylabel("speech energy (0 = -50 dB, 1 = max)", color="tab:blue")
    vals = s.values()
    offset = fmt(vals.get("av_offset"), "av_offset")
    ax.set_title(f"{s.name}: offset {offset} frames, confidence {fmt(vals.get('av_conf'))}")
    if "av_xcorr" in ser:
        r = ser["av_xcorr"]
        n = (len(r) - 1) // 2
        axes[1].plot(np.arange(-n, n + 1), r, marker="o", ms=3)
        axes[1].axvline(0, color="grey", lw=0.8)
        axes[1].set_xlabel("offset k (frames; > 0: audio lags video)")
        axes[1].set_ylabel("corr(mouth[t], energy[t+k])")
    else:
        axes[1].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_au(s: SampleResult, path: Path) -> Path | None:
    ser = s.series()
    aus = sorted((k for k in ser if re.fullmatch(r"AU\d+", k)), key=lambda k: int(k[2:]))
    if not aus:
        return None
    plt = _pyplot()
    rows = math.ceil(len(aus) / 2)
    fig, axes = plt.subplots(rows, 2, figsize=(10, 1.8 * rows + 0.6), sharex=True, squeeze=False)
    rate = _fps(s)
    for ax, k in zip(axes.flat, aus):
        ax.plot(np.arange(len(ser[k])) / rate, ser[k], label="generated")
        if f"{k}_ref" in ser:
            ax.plot(np.arange(len(ser[f"{k}_ref"])) / rate, ser[f"{k}_ref"], "--", label="reference")
        ax.set_ylabel(k)
    for ax in list(axes.flat)[len(aus):]:
        ax.axis("off")
    axes.flat[0].legend(loc="upper right", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    fig.suptitle(f"{s.name}: action-unit proxies")
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
        spread = fmt(sm.mean, c) if len(vals) == 1 else f"{fmt(sm.mean)} ± {fmt(sm.std)} (n={sm.n})"
        ax.set_title(f"{c}{arrow(c)}\n{spread}", fontsize=9)
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
        for fn, suffix in ((plot_sync, "sync"), (plot_au, "au")):
            p = fn(s, folder / f"{_safe(s.name)}_{suffix}.png")
            if p:
                out.append(p)
    p = plot_bars(report, folder / "metrics.png")
    if p:
        out.append(p)
    return out
