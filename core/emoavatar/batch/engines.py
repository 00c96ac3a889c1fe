"""Where batch jobs run: worker processes on this machine, or actors on a Ray cluster.

An engine takes job dicts and yields result rows as jobs finish (in any order). Each worker
(process or actor) keeps its pipelines between jobs (:mod:`.worker`), so models load once per
worker. Ray is an optional extra (``pip install "emoavatar[ray]"``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..errors import ConfigError

ENGINES = ("local", "ray")
_HELD_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


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

    def where(self) -> tuple[str, int]:
        """(Ray node id, process id) of this actor, so that the driver can wait for its exit."""
        import ray

        return ray.get_runtime_context().get_node_id(), os.getpid()


def ray_init(address: str | None, workers: int | None) -> Any:
    """Join the cluster at ``address`` (``auto``: the one this node belongs to) or start a local
    Ray with ``workers`` CPUs. Returns the ``ray`` module."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray", fix='pip install "emoavatar[ray]"') from None
    if not ray.is_initialized():
        # ray.init puts its own SIGTERM handler in (log and die): keep ours, which stops the workers
        held = {sig: signal.getsignal(sig) for sig in _HELD_SIGNALS}
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
        if threading.current_thread() is threading.main_thread():
            for sig, handler in held.items():
                if handler is not None:
                    signal.signal(sig, handler)
    return ray


def ray_results(jobs: list[dict[str, Any]], workers: int | None, overwrite: bool,
                address: str | None = None) -> Iterator[dict[str, Any]]:
    """One actor per worker (default: one per CPU of the cluster), jobs handed out as actors free up."""
    ray = ray_init(address, workers)
    from ray.util import ActorPool

    n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
    actor = ray.remote(num_cpus=1)(_RayWorker)
    actors = [actor.remote(overwrite) for _ in range(min(n, max(1, len(jobs))))]
    here = ray.get_runtime_context().get_node_id()
    local_pids = [pid for node, pid in ray.get([a.where.remote() for a in actors]) if node == here]
    try:
        yield from ActorPool(actors).map_unordered(lambda a, job: a.run.remote(job), jobs)
    finally:
        for a in actors:
            ray.kill(a, no_restart=True)
        _wait_exited(local_pids)


def _wait_exited(pids: list[int], grace: float = 5.0) -> None:
    """Wait until the actors' processes on this machine are gone: ``ray.kill`` only asks, and a
    killed batch must not leave a worker that still publishes a video after ``emoavatar batch``
    has exited (a restart would count it as not done and then find it there). A worker still
    there after ``grace`` seconds (its raylet may be gone with the same signal) is killed here;
    its temporaries are replaced by the restart."""
    for last in (False, True):
        end = time.monotonic() + grace
        while pids and time.monotonic() < end:
            pids = [pid for pid in pids if _alive(pid)]
            if pids:
                time.sleep(0.05)
        if not pids or last:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; its parent (the raylet) just has not reaped it yet
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
