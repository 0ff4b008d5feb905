"""Batches side by side on worker threads (fastembed/_workers.py)."""

import threading

import pytest
import torch

import fastembed
from fastembed._workers import MAX_AUTO_WORKERS, plan_workers, run_in_workers


@pytest.mark.parametrize("threads,pieces,workers,expect", [
    (2, 63, None, (2, 1)), (1, 63, None, (1, 1)), (8, 3, None, (3, 2)), (16, 100, None, (MAX_AUTO_WORKERS, 2)),
    (2, 1, None, (1, 2)), (4, 10, 1, (1, 4)), (4, 10, 3, (3, 1)), (2, 0, None, (1, 2))])
def test_plan(threads, pieces, workers, expect):
    assert plan_workers(threads, pieces, workers) == expect


def test_every_item_runs_once_with_the_workers_thread_counts(restore_threads):
    torch_before, ours_before = torch.get_num_threads(), fastembed.get_num_threads()
    seen, lock = [], threading.Lock()

    def fn(item):
        with lock:
            seen.append((item, threading.current_thread().name, torch.get_num_threads(), fastembed.get_num_threads()))

    run_in_workers(range(50), fn, workers=3, threads_each=1)
    assert sorted(s[0] for s in seen) == list(range(50))
    assert {s[2:] for s in seen} == {(1, 1)}
    assert all(s[1].startswith("fastembed-worker-") for s in seen)
    assert (torch.get_num_threads(), fastembed.get_num_threads()) == (torch_before, ours_before)


def test_the_first_error_is_raised_and_stops_the_rest():
    done = []

    def fn(item):
        if item == 3:
            raise KeyError("item 3 is bad")
        done.append(item)

    with pytest.raises(KeyError, match="item 3 is bad"):
        run_in_workers(range(10_000), fn, workers=2, threads_each=1)
    assert len(done) < 10_000 - 1                             # the workers stopped early


def test_an_error_from_the_items_themselves_is_raised():
    def items():
        yield 1
        raise ValueError("the source failed")

    with pytest.raises(ValueError, match="the source failed"):
        run_in_workers(items(), lambda item: None, workers=2, threads_each=1)
