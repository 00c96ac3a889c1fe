"""Evaluation: run metric plugins over generated videos and report the numbers.

``evaluate(samples, metric_names, options) -> EvaluationReport``; samples come from
:func:`samples_from_args` (a video or folder) or :func:`read_manifest` (CSV / YAML). Writers in
:mod:`.report`, plots in :mod:`.plots`, the ``emoavatar evaluate`` command in :mod:`.cli`.

Convention shared with metric plugins: the runner decodes the generated video once into
``sample.cache[("frames", str(sample.video))]`` (uint8 ``[T, H, W, 3]``).
"""

from .manifest import read_manifest, samples_from_args
from .runner import EvaluationOptions, EvaluationReport, MetricOutcome, SampleResult, evaluate

__all__ = [
           "EvaluationOptions",
           "EvaluationReport",
           "MetricOutcome",
           "SampleResult",
           "evaluate",
           "read_manifest",
           "samples_from_args",
]
