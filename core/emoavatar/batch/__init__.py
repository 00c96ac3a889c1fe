"""Batch rendering: ``emoavatar batch JOBS`` over local worker processes or a Ray cluster."""

from .manifest import Job, read_jobs
from .runner import BatchSummary, run_batch

__all__ = ["BatchSummary", "Job", "read_jobs", "run_batch"]
