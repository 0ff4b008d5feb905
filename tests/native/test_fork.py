"""Fork safety: a child forked after the parent used native threads must not deadlock.

GNU libgomp's thread pool does not survive fork(): a child that enters a parallel region after
the parent used one waits forever for threads that do not exist. PyTorch DataLoader workers are
forked, so this is the everyday case. The last test shows the guard is what prevents the hang.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import warnings

import numpy as np
import pytest

import fastembed
from fastembed import _native

testing = _native._C._testing
N = 1_000_000
EXPECTED = N * (N - 1) // 2

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()"),
    # Python 3.12+ warns that fork() in a multi-threaded process may deadlock: that is the case
    # under test.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


def run_in_child(body, timeout: float) -> int | None:
    """Fork, run body() in the child (its return value is the exit code); the exit code, or
    None if the child had to be killed after `timeout` seconds."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = body()
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def warm_parent_pool(restore_threads):
    fastembed.set_num_threads(max(2, restore_threads))
    assert testing.parallel_sum(N, 1) == (EXPECTED, 2 if fastembed.build_info()["openmp"] else 1)


def test_forked_child_runs_parallel_loops_serially(restore_threads):
    warm_parent_pool(restore_threads)

    def child():
        ok = (_native._C.in_forked_child() and fastembed.get_num_threads() == 1
              and testing.parallel_sum(N, 1) == (EXPECTED, 1))
        x = np.ones(N, dtype=np.float32)
        y = np.zeros(N, dtype=np.float32)
        _native.axpy(2.0, x, y)
        return 0 if ok and y.sum() == 2 * N else 3

    assert run_in_child(child, timeout=60) == 0
    assert not _native._C.in_forked_child()  # the parent is unaffected
    assert testing.parallel_sum(N, 1)[0] == EXPECTED


def test_forked_multiprocessing_pool(restore_threads):
    warm_parent_pool(restore_threads)
    ctx = multiprocessing.get_context("fork")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with ctx.Pool(2) as pool:
            result = pool.map_async(_child_sum, [N, N + 1, N + 2])
            assert result.get(timeout=60) == [(n * (n - 1) // 2, 1) for n in (N, N + 1, N + 2)]


def _child_sum(n: int):
    return testing.parallel_sum(n, 1)


@pytest.mark.slow
@pytest.mark.skipif(not (fastembed.build_info()["openmp"] and fastembed.build_info()["compiler"].startswith("gcc")),
                    reason="the hang is GNU libgomp's; other OpenMP runtimes may survive fork")
def test_without_the_guard_a_forked_child_deadlocks(restore_threads):
    """Negative control: clear the child's forked flag and the same loop hangs (killed after 3 s)."""
    warm_parent_pool(restore_threads)

    def child():
        testing.set_forked_child_flag(False)
        testing.parallel_sum(N, 1)
        return 0

    assert run_in_child(child, timeout=3) is None
