"""Progress bars for long native calls, and Ctrl-C that stops them.

The native call runs in a worker thread with the GIL released and reports through a
``_C.Progress`` object; the calling thread polls it, draws a bar on stderr when asked to (by
default when stderr is a terminal), and on KeyboardInterrupt cancels the native work, waits for it
to stop and re-raises.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, TypeVar

from ._native import _C

T = TypeVar("T")


def _bar(desc: str, done: int, total: int, unit: str, elapsed: float) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    if total > 0:
        frac = min(done / total, 1.0)
        filled = int(frac * 24)
        return f"\r{desc}: {frac:6.1%} |{'#' * filled}{'.' * (24 - filled)}| {done:,}/{total:,} {unit} [{elapsed:.1f}s, {rate:,.0f} {unit}/s]"
    return f"\r{desc}: {done:,} {unit} [{elapsed:.1f}s, {rate:,.0f} {unit}/s]"


def run_native(fn: Callable[[Any], T], *, desc: str, unit: str, show: bool | None = None) -> T:
    """Call ``fn(progress)`` in a worker thread; draw a bar while it runs; Ctrl-C cancels it."""
    if show is None:
        show = sys.stderr.isatty()
    progress = _C.Progress()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = fn(progress)
        except BaseException as e:  # re-raised in the calling thread
            box["error"] = e

    thread = threading.Thread(target=work, name=f"fastembed: {desc}", daemon=True)
    start = time.monotonic()
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
            if show:
                sys.stderr.write(_bar(desc, progress.done, progress.total, unit, time.monotonic() - start))
                sys.stderr.flush()
    except KeyboardInterrupt:
        progress.cancel()
        thread.join()
        raise
    finally:
        if show:
            sys.stderr.write(_bar(desc, progress.done, progress.total, unit, time.monotonic() - start) + "\n")
    if "error" in box:
        raise box["error"]
    return box["result"]
