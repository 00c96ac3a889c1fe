"""Shared command-line pieces of the trainers (``emoavatar train NAME ...``, :mod:`emoavatar.cli.train`).

Every in-repo trainer builds its parser with :func:`trainer_parser` (``prog``, the module docstring as the
description, the usual required ``--data``/``--out``), adds its own options, then ends with
:func:`add_run_options` (``--resume``, ``--seed``, ``--device``, ``--threads``), so the common flags read
the same everywhere. :func:`torch_threads` applies ``--threads`` for the length of a run; a trainer's
``train(args, ...)`` decorated with :func:`with_torch_threads` runs under its own ``args.threads``. No torch import
at module level: the core does not depend on torch, the trainers that call :func:`torch_threads` do.
"""

from __future__ import annotations

import argparse
import functools
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

R = TypeVar("R")

#: ``--resume`` of the trainers that keep a checkpoint at ``--out`` and an optimizer state beside it
#: (:mod:`emoavatar.optimizer_state`)
RESUME_HELP = "continue from --out and its optimizer state"
THREADS_HELP = "torch threads (0 = torch default)"


def trainer_parser(name: str, description: str | None = None, *, data: str | None = None,
                   data_nargs: str | None = None, out: str | None = None) -> argparse.ArgumentParser:
    """The parser of ``emoavatar train NAME``; ``description`` keeps its line breaks (a module docstring).

    ``data`` / ``out``: the help of the required ``--data`` (``data_nargs``: e.g. ``"+"``) and ``--out``
    options; left out when None (a trainer whose input is not ``--data``)."""
    p = argparse.ArgumentParser(prog=f"emoavatar train {name}", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    if data is not None:
        p.add_argument("--data", nargs=data_nargs, required=True, help=data)
    if out is not None:
        p.add_argument("--out", required=True, help=out)
    return p


def add_run_options(p: argparse.ArgumentParser, *, resume: str | None = RESUME_HELP, seed: bool = True,
                    device: bool = True, threads: int | None = 0, threads_help: str = THREADS_HELP) -> None:
    """``--resume`` (help ``resume``; None: no resuming), ``--seed`` (default 0), ``--device`` (default cpu) and
    ``--threads`` (default ``threads``; None: no such option), in this order, after the trainer's own options."""
    if resume is not None:
        p.add_argument("--resume", action="store_true", help=resume)
    if seed:
        p.add_argument("--seed", type=int, default=0)
    if device:
        p.add_argument("--device", default="cpu")
    if threads is not None:
        p.add_argument("--threads", type=int, default=threads, help=threads_help)


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch CPU threads (0: leave torch's setting), restoring the previous count afterwards
    (a test or a notebook that trains with ``--threads 1`` keeps its own count)."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def with_torch_threads(train: Callable[..., R]) -> Callable[..., R]:
    """Decorator of a trainer's ``train(args, ...)``: runs it with ``args.threads`` torch threads
    (:func:`torch_threads`: 0 leaves torch's setting; the previous count is restored afterwards)."""

    @functools.wraps(train)
    def run(args: argparse.Namespace, *rest, **options) -> R:
        with torch_threads(args.threads):
            return train(args, *rest, **options)

    return run
