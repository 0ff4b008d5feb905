"""Waiting for worker threads in a way that Ctrl-C cannot break.

A thread still inside native code (fastembed's or torch's) when the interpreter shuts down is
killed while it holds C++ frames, and the process aborts ("terminate called without an active
exception", SIGABRT). So whoever starts such a thread must, on KeyboardInterrupt, tell it to stop
and wait until it has really returned before re-raising.

``Thread.join`` cannot be trusted for that: on CPython 3.11, a join that a signal interrupts can
mark a thread that is still running as stopped (the interrupted ``lock.acquire`` leaves the
thread's state lock looking released), and every later join returns at once. Each worker sets a
:class:`threading.Event` as its last act instead, and the caller waits on those.
"""

from __future__ import annotations

import threading
from typing import Iterable


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
