"""Where batch jobs run: worker processes on this machine, or actors on a Ray cluster.

An engine takes job dicts and yields result rows as jobs finish (in any order). Each worker
(process or actor) keeps its pipelines between jobs (:mod:`.worker`), so models load once per
worker. Ray is an optional extra (``pip install "emoavatar[ray]"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError

ENGINES = ("local", "ray")


def local_results(jobs: list[dict[str, Any]], workers: int, overwrite: bool) -> Iterator[dict[str, Any]]:
    """``workers`` processes (1: this process). On interruption, pending jobs are cancelled and the
    workers stopped; a job that was rendering leaves no output (outputs are written atomically)."""
    from .worker import run_job

    if workers <= 1:
        for job in jobs:
            yield run_job(job, overwrite)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        futures = [pool.submit(run_job, job, overwrite) for job in jobs]
        for fut in as_completed(futures):
            yield fut.result()
    except BaseException:
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()  # the pipeline's signal handler removes the job's temporaries
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


class _RayWorker:
    """One Ray actor: a long-lived worker that keeps its pipelines (and models) between jobs."""

    def __init__(self, overwrite: bool) -> None:
        self.overwrite = overwrite

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        from .worker import run_job

        return run_job(job, self.overwrite)


def ray_init(address: str | None, workers: int | None) -> Any:
    """Join the cluster at ``address`` (``auto``: the one this node belongs to) or start a local
    Ray with ``workers`` CPUs. Returns the ``ray`` module."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray", fix='pip install "emoavatar[ray]"') from None
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        try:
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=max(1, workers or 1), **kwargs)
        except ConnectionError as e:
            raise ConfigError(f"cannot reach a Ray cluster at {address}: {e}",
                              fix="start one with `ray start --head` or omit --address for a local Ray") from None
    return ray


def ray_results(jobs: list[dict[str, Any]], workers: int | None, overwrite: bool,
                address: str | None = None) -> Iterator[dict[str, Any]]:
    """One actor per worker (default: one per CPU of the cluster), jobs handed out as actors free up."""
    ray = ray_init(address, workers)
    from ray.util import ActorPool

    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    actor = ray.remote(num_cpus=1)(_RayWorker)
    actors = [actor.remote(overwrite) for _ in range(min(n, max(1, len(jobs))))]
    try:
        yield from ActorPool(actors).map_unordered(lambda a, job: a.run.remote(job), jobs)
    finally:
        for a in actors:
            ray.kill(a)
