"""Repository-wide test policy (the repo's own tests only; plugin authors get the kit from emoavatar.testing).

Every test module starts with ONE torch thread, whatever the module before it chose. torch's default is one
thread per core, and OpenMP threads spin while they wait for each other: on a 2-core CI machine that also runs
an encoder, a worker process or another job, two threads made small models many times slower (the 1/16-width
FID Inception test: 3.4 s with one thread, 19-27 s with two; plugins/metrics + plugins/controllers/mixture
tests: 94 -> 53 s). A module that wants more threads sets them itself (tests/test_emohead_e2e.py trains with
two, as measured there); it no longer leaks them into the modules after it.
"""

from __future__ import annotations

import pytest


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
