"""``emoavatar evaluate --engine ray``: the samples of a large evaluation set, spread over Ray.

Each Ray task evaluates a share of the samples with :func:`~emoavatar.evaluation.runner.evaluate`
(so models load once per task, not per video); the per-sample results are put back in the
order of the input. Values pooled over all samples (e.g. FID over every frame of the set) need
all samples in one process, so with Ray they are reported as skipped with that reason.
"""

from __future__ import annotations

from typing import Any

from ..interfaces import EvalSample
from .runner import EvaluationOptions, EvaluationReport, MetricOutcome


def _evaluate_share(samples: list[EvalSample], names: list[str] | None, options: EvaluationOptions) -> EvaluationReport:
    from .runner import evaluate

    return evaluate(samples, names, options)


def evaluate_ray(samples: list[EvalSample], names: list[str] | None, options: EvaluationOptions, *,
                 address: str | None = None, workers: int | None = None) -> EvaluationReport:
    from ..batch.engines import ray_init
    from .manifest import unique_names

    ray = ray_init(address, workers)
    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    n = max(1, min(n, len(samples)))
    shares = [list(range(i, len(samples), n)) for i in range(n)]
    task = ray.remote(num_cpus=1)(_evaluate_share)
    refs = [task.remote([samples[i] for i in idx], names, options) for idx in shares]
    reports: list[EvaluationReport] = ray.get(refs)
    by_index: dict[int, Any] = {}
    for idx, rep in zip(shares, reports):
        for i, res in zip(idx, rep.samples):
            by_index[i] = res
    ordered = [by_index[i] for i in range(len(samples))]
    for res, name in zip(ordered, unique_names([r.sample for r in ordered])):
        res.name = name
    metrics = reports[0].metrics if reports else list(names or [])
    merged = EvaluationReport(metrics, ordered)
    merged.specs = reports[0].specs if reports else {}  # columns' directions and plots, from the metrics' specs
    for rep in reports:
        for m in rep.pooled:
            merged.pooled[m] = MetricOutcome(m, skipped="pooled over all samples only without --engine ray "
                                                         "(each Ray task sees a share of the samples)")
    return merged
