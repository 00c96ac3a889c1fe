"""Evaluation: run metric plugins over generated videos and report the numbers.

``evaluate(samples, metric_names, options) -> EvaluationReport``; samples come from
:func:`samples_from_args` (a video or folder) or :func:`read_manifest` (CSV / YAML). Writers in
:mod:`.report`, plots in :mod:`.plots`, the ``emoavatar evaluate`` command in :mod:`.cli`.

Convention shared with metric plugins: the runner decodes the generated video once into
``sample.cache[("frames", str(sample.video))]`` (uint8 ``[T, H, W, 3]``).
"""

_EXPORTS = {
    "read_manifest": "manifest", "samples_from_args": "manifest", "EvaluationOptions": "runner",
    "EvaluationReport": "runner", "MetricOutcome": "runner", "SampleResult": "runner", "evaluate": "runner",
}


def __getattr__(name: str):
    """Lazy exports: the CLI imports ``evaluation.cli`` at start-up without loading numpy."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)


__all__ = [
           "EvaluationOptions",
           "EvaluationReport",
           "MetricOutcome",
           "SampleResult",
           "evaluate",
           "read_manifest",
           "samples_from_args",
]
