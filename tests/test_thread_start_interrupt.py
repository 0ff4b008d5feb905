"""Ctrl-C in the instant after a worker thread was started, before its caller could stop it.

``fastembed demo`` aborted now and then in CI ("terminate called without an active exception"):
SIGINT came while ``Thread.start`` was returning between two word2vec epochs, the interrupt
left ``run_native`` before its ``try``, nobody cancelled the epoch, and the interpreter exited
under a thread still in native code. Here the interrupt is raised at exactly that point (a
``Thread.start`` that starts the thread, then raises), and the test asks that no work is still
running once the interrupt has reached the caller.
"""

from __future__ import annotations

import threading
import time

import pytest

from fastembed._progress import run_native
from fastembed._workers import run_in_workers


@pytest.fixture
def interrupt_after_start(monkeypatch):
    """Thread.start on fastembed's threads starts the thread, then raises KeyboardInterrupt (once)."""
    start = threading.Thread.start
    fired = []

    def start_then_interrupt(self):
        start(self)
        if self.name.startswith("fastembed") and not fired:
            fired.append(self.name)
            raise KeyboardInterrupt
    monkeypatch.setattr(threading.Thread, "start", start_then_interrupt)
    return fired


class Work:
    """A stand-in for a long native call: runs up to 5 s; records whether it is still running."""

    def __init__(self) -> None:
        self.running = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, *_) -> None:
        self.running.set()
        time.sleep(5)
        self.running.clear()

    def still_running_after(self, seconds: float) -> bool:
        time.sleep(seconds)             # time for a thread that got through to reach the work
        return self.running.is_set()


def test_run_native_leaves_no_work_running(interrupt_after_start):
    work = Work()
    with pytest.raises(KeyboardInterrupt):
        run_native(work, desc="job", unit="items", show=False)
    assert interrupt_after_start == ["fastembed: job"]
    assert not work.still_running_after(0.5)


def test_run_in_workers_leaves_no_work_running(interrupt_after_start):
    work = Work()
    with pytest.raises(KeyboardInterrupt):
        run_in_workers(range(10), work, workers=2, threads_each=1)
    assert interrupt_after_start == ["fastembed-worker-0"]
    assert not work.still_running_after(0.5)


def test_gate_says_what_the_caller_decided():
    from fastembed._threads import Gate

    for decide, expect in ((Gate.open, True), (Gate.close, False)):
        gate, seen = Gate(), []
        waiter = threading.Thread(target=lambda g=gate: seen.append(g.wait()))
        waiter.start()
        time.sleep(0.05)
        assert seen == []               # still waiting
        decide(gate)
        waiter.join(5)
        assert seen == [expect]
