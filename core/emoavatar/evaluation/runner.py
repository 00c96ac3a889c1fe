"""Run metric plugins over samples: ``evaluate(samples, metric_names, options) -> EvaluationReport``.

For every sample the generated video is probed and decoded once (a missing or corrupt video is a
:class:`MediaError` for the whole run); the frames go to ``sample.cache[("frames", str(path))]``,
where metric plugins find them; decoded pixels are freed when the sample is done. A metric whose
inputs are missing (``ComponentSpec.requires``, ``extras["requires_any"]``), whose weights are
missing, or that fails with a user error is *skipped with its reason* — never reported as zero.
A value a metric cannot define is NaN and left out of the mean.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, EmoAvatarError, MediaError, PluginError
from ..interfaces import EvalSample, RunContext

#: Fields of EvalSample a metric may require; "audio" is also met by the video's own audio track.
INPUT_FIELDS = ("reference", "audio", "portrait", "emotion")
INPUT_HINT = {"reference": "--reference", "audio": "--audio (or a video with sound)",
              "portrait": "--portrait", "emotion": "--emotion"}


@dataclass
class EvaluationOptions:
    """``metric_config``: options per metric name (validated by its spec); ``face``: FaceAnalyzer
    name for landmark metrics (None: the installed default, :meth:`Registry.default`) and
    ``face_config`` its options;
    ``strict``: re-raise plugin bugs."""

    metric_config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    face: str | None = None
    face_config: Mapping[str, Any] = field(default_factory=dict)
    fps: float | None = None
    strict: bool = False


@dataclass
class MetricOutcome:
    metric: str
    values: dict[str, float] = field(default_factory=dict)
    series: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0


@dataclass
class SampleResult:
    sample: EvalSample
    name: str
    outcomes: dict[str, MetricOutcome] = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        """Column name -> value (a column is the metric's value name)."""
        out: dict[str, float] = {}
        for o in self.outcomes.values():
            out.update(o.values)
        return out

    def series(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for o in self.outcomes.values():
            out.update(o.series)
        return out

    @property
    def skipped(self) -> dict[str, str]:
        return {m: o.skipped for m, o in self.outcomes.items() if o.skipped}


@dataclass
class Summary:
    mean: float
    std: float
    n: int


@dataclass
class EvaluationReport:
    """Per-sample results; ``pooled``: values a metric computes over all samples together (its
    optional ``summarize() -> MetricResult | None``, e.g. FID over every frame of the test set)."""

    metrics: list[str]
    samples: list[SampleResult]
    pooled: dict[str, MetricOutcome] = field(default_factory=dict)
    #: metric name -> its ComponentSpec (columns' direction / unit, plotted series)
    specs: dict[str, Any] = field(default_factory=dict)

    def column_spec(self, col: str):
        """The :class:`~emoavatar.spec.Column` its metric's spec declares for value ``col`` (or None)."""
        owner = self.column_metric().get(col)
        if owner is None:
            owner = next((m for m, o in self.pooled.items() if col in o.values), None)
        spec = self.specs.get(owner) if owner else None
        return spec.column(col) if spec is not None and hasattr(spec, "column") else None

    @property
    def columns(self) -> list[str]:
        """Value names in metric order, first appearance first."""
        cols: list[str] = []
        for m in self.metrics:
            for s in self.samples:
                o = s.outcomes.get(m)
                for k in (o.values if o else {}):
                    if k not in cols:
                        cols.append(k)
        return cols

    def column_metric(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for s in self.samples:
            for m, o in s.outcomes.items():
                for k in o.values:
                    out.setdefault(k, m)
        return out

    def summary(self) -> dict[str, Summary]:
        """Mean ± std (population) over samples of each column, NaN values left out."""
        out = {}
        for c in self.columns:
            vals = np.array([s.values().get(c, math.nan) for s in self.samples], np.float64)
            vals = vals[np.isfinite(vals)]
            out[c] = Summary(float(vals.mean()) if len(vals) else math.nan,
                             float(vals.std()) if len(vals) else math.nan, len(vals))
        return out

    def skipped(self) -> dict[str, list[tuple[str, str]]]:
        """metric -> [(sample name, reason)]."""
        out: dict[str, list[tuple[str, str]]] = {}
        for s in self.samples:
            for m, reason in s.skipped.items():
                out.setdefault(m, []).append((s.name, reason))
        return out


def _spec_inputs(spec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(spec.requires), tuple(spec.extras.get("requires_any", ()))


def _missing_inputs(spec, present: set[str]) -> str | None:
    req, any_of = _spec_inputs(spec)
    missing = [r for r in req if r not in present]
    if missing:
        return "needs " + ", ".join(INPUT_HINT.get(m, m) for m in missing)
    if any_of and not present & set(any_of):
        return "needs one of " + ", ".join(INPUT_HINT.get(m, m) for m in any_of)
    return None


def _check_paths(sample: EvalSample) -> None:
    for name in ("reference", "portrait", "audio"):
        p = getattr(sample, name)
        if p is not None and not Path(p).is_file():
            raise MediaError(f"{name} not found: {p}", fix="check the path")


def prepare_sample(sample: EvalSample) -> tuple[set[str], Any]:
    """Probe and decode the generated video (MediaError when missing/corrupt/empty); the inputs present."""
    from ..media import read_video, video_info

    _check_paths(sample)
    info = video_info(sample.video)
    key = ("frames", str(Path(sample.video)))
    if key not in sample.cache:
        chunks = list(read_video(sample.video))
        if not chunks:
            raise MediaError(f"{sample.video} contains no decodable video frames")
        sample.cache[key] = np.concatenate(chunks)
    present = {f for f in INPUT_FIELDS if getattr(sample, f) is not None}
    if info.has_audio:
        present.add("audio")
    return present, info


def build_metrics(metric_names: Iterable[str] | None, options: EvaluationOptions, registry=None
                  ) -> tuple[list[str], dict[str, Any], dict[str, str]]:
    """(names, built metrics, broken/unbuildable -> reason). Unknown names raise PluginError;
    invalid options raise ConfigError."""
    from pydantic import ValidationError

    from ..registry import get_registry

    reg = registry or get_registry()
    installed = [e.name for e in reg.list("metrics")]
    not_metrics = set(options.metric_config) - set(installed)
    if not_metrics:
        raise ConfigError(f"options given for unknown metric(s) {sorted(not_metrics)}",
                          fix=f"installed metrics: {', '.join(installed) or 'none'}")
    if metric_names is None:
        names = list(installed)
        order = {e.name: getattr(e.spec, "order", 1000) for e in reg.list("metrics")}
        names.sort(key=lambda n: (order[n], n))  # the specs' ``order``, then by name
    else:
        names = list(dict.fromkeys(n.strip() for n in metric_names if n.strip()))
        for n in names:
            reg.entry("metrics", n)  # PluginError for an unknown metric
    unknown_cfg = set(options.metric_config) - set(names)
    if unknown_cfg and metric_names is not None:
        raise ConfigError(f"options given for metric(s) not evaluated: {sorted(unknown_cfg)}")
    built, broken = {}, {}
    for n in names:
        try:
            built[n] = reg.create("metrics", n, dict(options.metric_config.get(n, {})))
        except ValidationError as e:
            err = e.errors()[0]
            raise ConfigError(f"{n}.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        except PluginError as e:
            broken[n] = str(e)
    return names, built, broken


def evaluate(samples: Iterable[EvalSample], metric_names: Iterable[str] | None = None,
             options: EvaluationOptions | None = None, *, registry=None,
             progress: Callable[[str], None] | None = None) -> EvaluationReport:
    """Evaluate every sample with every metric (``None``: all installed metrics whose inputs are
    present); see the module doc for how skips and errors are reported."""
    from pydantic import ValidationError

    from ..registry import get_registry

    options = options or EvaluationOptions()
    reg = registry or get_registry()
    names, built, broken = build_metrics(metric_names, options, reg)
    ctx = RunContext(fps=options.fps or 25.0)
    face = options.face
    if face is None:
        try:
            face = reg.default("faces")
        except PluginError:
            face = None  # landmark metrics will say what is missing
    if face:
        try:
            ctx.face = reg.create("faces", face, dict(options.face_config))
        except ValidationError as e:
            err = e.errors()[0]
            raise ConfigError(f"face.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        except PluginError:
            ctx.face = None  # landmark metrics will say what is missing
    from .manifest import unique_names

    samples = list(samples)
    results = []
    for sample, sample_name in zip(samples, unique_names(samples)):
        if options.fps and not sample.fps:
            sample.fps = options.fps
        present, info = prepare_sample(sample)
        ctx.fps, ctx.n_frames = sample.fps or info.fps, info.n_frames
        res = SampleResult(sample, sample_name)
        runnable = []
        for n in names:
            if n in broken:
                res.outcomes[n] = MetricOutcome(n, skipped=broken[n])
                continue
            why = _missing_inputs(reg.spec("metrics", n), present)
            if why:
                res.outcomes[n] = MetricOutcome(n, skipped=why)
            else:
                runnable.append(n)
        need_audio = [n for n in names if n not in broken and "audio" in _spec_inputs(reg.spec("metrics", n))[0]]
        if not runnable and need_audio and "audio" not in present:
            raise MediaError(f"{sample.video} has no audio track and no --audio was given; "
                             f"{', '.join(need_audio)} need(s) speech")
        for n in runnable:
            if progress:
                progress(f"{res.name}: {n}")
            res.outcomes[n] = _run_one(n, built[n], sample, ctx, options.strict)
        _drop_pixels(sample)
        results.append(res)
    report = EvaluationReport(names, results)
    report.specs = {n: reg.entry("metrics", n).spec for n in names if reg.entry("metrics", n).spec is not None}
    for n, metric in built.items():
        summarize = getattr(metric, "summarize", None)
        if callable(summarize):
            try:
                r = summarize()
            except EmoAvatarError as e:
                report.pooled[n] = MetricOutcome(n, skipped=str(e))
                continue
            if r is not None:
                report.pooled[n] = MetricOutcome(n, {k: float(v) for k, v in r.values.items()}, notes=list(r.notes))
    return report


def _drop_pixels(sample: EvalSample) -> None:
    """Free decoded frames and images once a sample is done (landmarks and small entries stay)."""
    for key in [k for k, v in sample.cache.items() if isinstance(v, np.ndarray) and v.nbytes > 1 << 20]:
        del sample.cache[key]


def _run_one(name: str, metric, sample: EvalSample, ctx: RunContext, strict: bool) -> MetricOutcome:
    t0 = time.perf_counter()
    try:
        r = metric.evaluate(sample, ctx)
    except EmoAvatarError as e:
        return MetricOutcome(name, skipped=str(e), seconds=time.perf_counter() - t0)
    except Exception as e:
        if strict:
            raise
        return MetricOutcome(name, skipped=f"failed: {type(e).__name__}: {e}", seconds=time.perf_counter() - t0)
    values = {k: float(v) for k, v in r.values.items()}
    series = {k: np.asarray(v, np.float64) for k, v in r.series.items()}
    return MetricOutcome(name, values, series, list(r.notes), None, time.perf_counter() - t0)
