"""Repository-wide test policy (the repo's own tests only; plugin authors get the kit from emoavatar.testing).

Every test module starts with ONE torch thread, whatever the module before it chose. torch's default is one
thread per core, and OpenMP threads spin while they wait for each other: on a 2-core CI machine that also runs
an encoder, a worker process or another job, two threads made small models many times slower (the 1/16-width
FID Inception test: 3.4 s with one thread, 19-27 s with two; plugins/metrics + plugins/controllers/mixture
tests: 94 -> 53 s). A module that wants more threads sets them itself; they no longer leak into the modules
after it (tests/test_emohead_e2e.py used to leave two).

`make test` runs the suite in two xdist workers, one file at a time each (`-n 2 --dist loadfile`: a file's
module- and session-scoped fixtures are built once, in one worker). The files that take longest start first,
so that they overlap the many short ones instead of running alone at the end (README, "Install").
"""

from __future__ import annotations

import pytest

#: the longest test files (`pytest --durations=40`; seconds in two workers on the 2-core CI machine):
#: MoEE's two training stages ~470, the Ray batch tests ~210, the plugin CLI ~130, EmoHead's end-to-end
#: preprocessing ~110, the readability renders ~100, the wheelhouse installs ~100
LONGEST_FIRST = (
    "plugins/renderers/diffusion/tests/test_train.py",
    "tests/test_batch.py",
    "tests/test_plugins_cli.py",
    "tests/test_emohead_e2e.py",
    "tests/test_emotion_readability.py",
    "tests/test_wheelhouse.py",
)


def pytest_collection_modifyitems(items):
    """Start the longest files first (a stable sort: every other test keeps its place and order)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # nodeid: rootdir-relative path


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread_per_module():
    try:  # imported here, not left to the first test that uses it (which would start with torch's default)
        import torch
    except ImportError:  # a core-only install
        yield
        return
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    yield
