"""Independent pieces of one job (batches of texts) run side by side on worker threads.

A small batch splits badly across cores inside each operator: a 600×384 by 384×1536 product or
an attention over 18 tokens is too small for the split and the join to pay off, and between
the operators the other cores wait for Python. Whole batches side by side, each worker on one
core, keep every core in long single-threaded kernels, and one worker's Python runs while the
others compute (torch and fastembed release the GIL inside their kernels).

Each worker sets torch's and fastembed's thread counts for itself only (both are per thread:
OpenMP's and MKL's counts for torch, :func:`fastembed._native.local_num_threads` for ours), so
the caller's settings are unchanged afterwards.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterable

from ._native import local_num_threads
from ._threads import Gate, wait_through_interrupts

__all__ = ["plan_workers", "run_in_workers"]

MAX_AUTO_WORKERS = 8      # past this the GIL held between operators starts to limit small batches


def plan_workers(threads: int, pieces: int, workers: int | None = None) -> tuple[int, int]:
    """(workers, threads per worker) for ``pieces`` independent pieces on ``threads`` cores.
    ``workers=None`` picks one worker per core, at most :data:`MAX_AUTO_WORKERS` and never more
    than there are pieces; the cores are shared out evenly (each worker gets at least one)."""
    threads = max(1, int(threads))
    n = min(threads, MAX_AUTO_WORKERS) if workers is None else int(workers)
    n = max(1, min(n, pieces))
    return n, max(1, threads // n)


def run_in_workers(items: Iterable[Any], fn: Callable[[Any], None], *, workers: int, threads_each: int) -> None:
    """Call ``fn(item)`` for every item, on ``workers`` threads that take the items in order as
    they free up, each thread with torch's and fastembed's thread counts set to ``threads_each``.
    ``fn`` runs on a worker thread: thread-local state such as ``torch.inference_mode`` must be
    entered inside it. The first exception stops the handing out of items and is raised here
    once every worker has returned; so is an interrupt of the waiting caller, re-raised once
    every worker has finished its item (a worker still inside torch or fastembed when the
    interpreter exits would abort the process). Completion is an Event per worker, not
    ``Thread.join``, for the reason :func:`fastembed._threads.wait_through_interrupts` gives."""
    import torch

    todo = iter(items)
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        torch.set_num_threads(threads_each)      # this thread's count only (OpenMP and MKL are per thread)
        with local_num_threads(threads_each):
            try:
                while not stop.is_set():
                    with lock:
                        item = next(todo, stop)  # `stop` doubles as the end marker
                    if item is stop:
                        return
                    fn(item)
            except BaseException as e:           # noqa: BLE001 (re-raised on the calling thread)
                with lock:
                    errors.append(e)
                stop.set()

    done = [threading.Event() for _ in range(workers)]

    gate = Gate()

    def run(i: int) -> None:
        try:
            if gate.wait():
                work()
        finally:
            done[i].set()

    pool = [threading.Thread(target=run, args=(i,), name=f"fastembed-worker-{i}", daemon=True) for i in range(workers)]
    for t in pool:
        t.start()            # an interrupt here leaves the started threads waiting at the gate
    try:
        gate.open()
        for d in done:
            while not d.wait(0.1):
                pass
    except BaseException:                        # Ctrl-C, SystemExit from a signal handler, ...
        stop.set()                               # the workers finish their item and end
        gate.close()
        wait_through_interrupts(done)
        raise
    if errors:
        raise errors[0]
