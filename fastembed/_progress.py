"""Progress: for long native calls (with Ctrl-C that stops them) and for Python loops.

Where it goes (``show``): True draws a bar on stderr, redrawn in place; False shows nothing;
None (the default) draws the bar when stderr is a terminal and otherwise (a log file, a pipe,
a batch job) writes a plain line every ``FASTEMBED_PROGRESS_EVERY`` seconds (default 30), so
a long command in a log is never silent for minutes.

:func:`run_native`: the native call runs in a worker thread with the GIL released and reports through a
``_C.Progress`` object; the calling thread polls it, reports, and on KeyboardInterrupt cancels the
native work, waits for it to stop and re-raises.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, Callable, TypeVar

from ._native import _C
from ._threads import Gate, wait_through_interrupts

T = TypeVar("T")


DEFAULT_LOG_EVERY = 30.0


def _log_every() -> float:
    """Seconds between progress lines when stderr is not a terminal (FASTEMBED_PROGRESS_EVERY)."""
    raw = os.environ.get("FASTEMBED_PROGRESS_EVERY", "")
    try:
        value = float(raw) if raw else DEFAULT_LOG_EVERY
    except ValueError:
        value = DEFAULT_LOG_EVERY
    return value if value > 0 else DEFAULT_LOG_EVERY


def _line(desc: str, done: int, total: int, unit: str, elapsed: float) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    if total > 0:
        frac = min(done / total, 1.0)
        filled = int(frac * 24)
        return f"{desc}: {frac:6.1%} |{'#' * filled}{'.' * (24 - filled)}| {done:,}/{total:,} {unit} [{elapsed:.1f}s, {rate:,.0f} {unit}/s]"
    return f"{desc}: {done:,} {unit} [{elapsed:.1f}s, {rate:,.0f} {unit}/s]"


def run_native(fn: Callable[[Any], T], *, desc: str, unit: str, show: bool | None = None,
               bar: ProgressBar | None = None, base: int = 0) -> T:
    """Call ``fn(progress)`` in a worker thread; draw a bar while it runs; Ctrl-C cancels it.

    On KeyboardInterrupt the native work is told to stop, and this call returns (re-raising the
    interrupt) only once the worker has left native code (see :mod:`fastembed._threads`).

    ``bar``: report into this bar instead of a new one (its count is ``base`` + the call's own,
    and it stays open), for a job made of many native calls, such as the epochs of a training
    run: one bar over the whole job, where a log would get no line from calls shorter than its
    interval.
    """
    progress = _C.Progress()
    box: dict[str, Any] = {}
    gate, finished = Gate(), threading.Event()

    def work() -> None:
        try:
            if gate.wait():
                box["result"] = fn(progress)
        except BaseException as e:  # re-raised in the calling thread
            box["error"] = e
        finally:
            finished.set()

    thread = threading.Thread(target=work, name=f"fastembed: {desc}", daemon=True)
    own = bar is None
    if bar is None:
        bar = ProgressBar(0, desc=desc, unit=unit, show=show)
    thread.start()             # an interrupt here leaves the thread waiting at the gate, outside native code
    try:
        gate.open()
        while not finished.wait(min(bar.interval, 1.0)):
            bar.update_to(base + progress.done, progress.total if own else bar.total)
    except BaseException:  # Ctrl-C, or SystemExit from a signal handler: stop the native work first
        progress.cancel()
        gate.close()
        wait_through_interrupts([finished])
        raise
    finally:
        if own:
            bar.done, bar.total = int(progress.done), int(progress.total)
            bar.close()
    if "error" in box:
        raise box["error"]
    return box["result"]


class ProgressBar:
    """Progress on stderr for a Python loop (training steps, files): ``update(n, **postfix)``.

    ``show``: see the module docstring (None: a bar on a terminal, a line every 30 s otherwise).
    A bar is redrawn at most every 0.1 s; ``postfix`` items (e.g. ``loss=2.31``) follow the rate.
    Use as a context manager so the line ends.
    """

    def __init__(self, total: int, *, desc: str, unit: str, show: bool | None = None, initial: int = 0) -> None:
        self.total, self.desc, self.unit = int(total), desc, unit
        if show is None:
            self.mode = "bar" if sys.stderr is not None and sys.stderr.isatty() else "log"
        else:
            self.mode = "bar" if show else "off"
        self.show = self.mode == "bar"
        self.interval = 0.1 if self.mode == "bar" else _log_every()
        self.done = int(initial)
        self._initial = self.done
        self._start = time.monotonic()
        self._last = self._start if self.mode == "log" else 0.0   # a log's first line comes after one interval
        self._drawn = False
        self._postfix = ""

    def update(self, n: int = 1, **postfix: Any) -> None:
        self.update_to(self.done + n, self.total, **postfix)

    def update_to(self, done: int, total: int, **postfix: Any) -> None:
        """Set the count (and total) outright: for a native call that reports its own."""
        self.done, self.total = int(done), int(total)
        if postfix:
            self._postfix = "  " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                            for k, v in postfix.items())
        if self.mode == "off":
            return
        now = time.monotonic()
        if now - self._last >= self.interval or (self.mode == "bar" and self.done >= self.total > 0):
            self._last = now
            self._draw()

    def _draw(self) -> None:
        line = _line(self.desc, self.done - self._initial, self.total - self._initial, self.unit,
                     time.monotonic() - self._start) + self._postfix
        try:
            if self.mode == "bar":
                sys.stderr.write("\r" + line + "\x1b[K")
            else:
                sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed or gone (a broken pipe): progress is not worth dying for
            self.mode = "off"
            return
        self._drawn = True

    def close(self) -> None:
        """End the bar's line; a log gets a last line only if it printed one before (a long task)."""
        if self.mode == "bar" or (self.mode == "log" and self._drawn):
            self._draw()
            if self.mode == "bar":
                try:
                    sys.stderr.write("\n")
                    sys.stderr.flush()
                except (OSError, ValueError):
                    pass
        self.mode = "off"

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
