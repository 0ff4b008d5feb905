"""Waiting for worker threads in a way that Ctrl-C cannot break.

A thread still inside native code (fastembed's or torch's) when the interpreter shuts down is
killed while it holds C++ frames, and the process aborts ("terminate called without an active
exception", SIGABRT). So whoever starts such a thread must, on KeyboardInterrupt, tell it to stop
and wait until it has really returned before re-raising.

Starting the thread is itself a window: an interrupt can arrive once ``Thread.start`` has launched
the thread but before the caller is inside the ``try`` that would stop it (the test of the
``fastembed demo`` interrupt met it, between two epochs of word2vec). So a worker first waits at
a :class:`Gate`, which the caller opens inside its ``try`` and closes in its ``except``: a thread
that was started but never let through ends without entering native code.

``Thread.join`` cannot be trusted for that: on CPython 3.11, a join that a signal interrupts can
mark a thread that is still running as stopped (the interrupted ``lock.acquire`` leaves the
thread's state lock looking released), and every later join returns at once. Each worker sets a
:class:`threading.Event` as its last act instead, and the caller waits on those.
"""

from __future__ import annotations

import threading
from typing import Iterable


class Gate:
    """Where a worker waits until its caller lets it through (:meth:`open`) or sends it home
    (:meth:`close`); :meth:`wait` says which. The last call of the two wins for workers that have
    not read the decision yet; a worker let through earlier is stopped by the caller's own means."""

    def __init__(self) -> None:
        self._decided = threading.Event()
        self._go = False

    def open(self) -> None:
        self._go = True
        self._decided.set()

    def close(self) -> None:
        self._go = False
        self._decided.set()

    def wait(self) -> bool:
        """Block until the caller decides; True: go on, False: return at once."""
        self._decided.wait()
        return self._go


def wait_through_interrupts(events: Iterable[threading.Event]) -> None:
    """Wait until every event is set; further Ctrl-C presses do not cut the wait short (the
    workers were told to stop, and they check for that every few milliseconds)."""
    for event in events:
        while True:
            try:
                if event.wait(0.05):
                    break
            except KeyboardInterrupt:
                continue
