"""Thread control: set/get, OMP_NUM_THREADS, and parallel_for's split of the work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fastembed
from fastembed import _native

testing = _native._C._testing
OPENMP = fastembed.build_info()["openmp"]


def test_set_and_get(restore_threads):
    fastembed.set_num_threads(3)
    assert fastembed.get_num_threads() == (3 if OPENMP else 1)
    fastembed.set_num_threads(1)
    assert fastembed.get_num_threads() == 1


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-4, ValueError), (2.0, TypeError), ("2", TypeError),
                                     (None, TypeError)])
def test_bad_thread_counts_are_rejected(bad, exc, restore_threads):
    with pytest.raises(exc, match="set_num_threads: argument 'n'"):
        fastembed.set_num_threads(bad)
    assert fastembed.get_num_threads() == restore_threads


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_parallel_for_uses_the_set_thread_count_and_covers_the_range(threads, restore_threads):
    fastembed.set_num_threads(threads)
    total, used = testing.parallel_sum(1_000_001, 1)
    assert total == 1_000_000 * 1_000_001 // 2
    assert used == (threads if OPENMP else 1)


def test_small_loops_stay_on_one_thread(restore_threads):
    fastembed.set_num_threads(4)
    total, used = testing.parallel_sum(100, 1000)  # grain larger than the loop
    assert (total, used) == (4950, 1)


def test_empty_range():
    assert testing.parallel_sum(0, 1) == (0, 0)


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_omp_num_threads_sets_the_default():
    code = "import fastembed; print(fastembed.get_num_threads(), fastembed.build_info()['default_threads'])"
    env = dict(os.environ, OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["3", "3"]


@pytest.mark.skipif(not OPENMP, reason="built without OpenMP")
def test_a_thread_can_override_the_count_for_itself(restore_threads):
    import threading

    fastembed.set_num_threads(3)
    seen = {}

    def worker():
        with _native.local_num_threads(1):
            seen["inside"] = fastembed.get_num_threads(), testing.parallel_sum(1_000_001, 1)[1]
            with _native.local_num_threads(2):
                seen["nested"] = fastembed.get_num_threads()
            seen["restored"] = fastembed.get_num_threads()
        seen["after"] = fastembed.get_num_threads()

    with _native.local_num_threads(2):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert fastembed.get_num_threads() == 2                  # this thread's own override
    assert seen == {"inside": (1, 1), "nested": 2, "restored": 1, "after": 3}
    assert fastembed.get_num_threads() == 3                      # the process-wide count is untouched


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_local_thread_counts_are_rejected(bad):
    with pytest.raises(ValueError, match="local_num_threads: n must be an int >= 1"):
        with _native.local_num_threads(bad):
            pass
    assert _native._C.local_num_threads() == 0
