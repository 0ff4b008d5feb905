"""Progress bars: for long native calls (with Ctrl-C that stops them) and for Python loops.

:func:`run_native`: the native call runs in a worker thread with the GIL released and reports through a
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


class ProgressBar:
    """A bar on stderr for a Python loop (training steps, files): ``update(n, **postfix)``.

    Drawn at most every 0.1 s, by default only when stderr is a terminal; ``postfix`` items
    (e.g. ``loss=2.31``) are shown after the rate. Use as a context manager so the line ends.
    """

    def __init__(self, total: int, *, desc: str, unit: str, show: bool | None = None, initial: int = 0) -> None:
        self.total, self.desc, self.unit = int(total), desc, unit
        self.show = sys.stderr.isatty() if show is None else show
        self.done = int(initial)
        self._initial = self.done
        self._start = time.monotonic()
        self._last = 0.0
        self._postfix = ""

    def update(self, n: int = 1, **postfix: Any) -> None:
        self.done += n
        if postfix:
            self._postfix = "  " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                            for k, v in postfix.items())
        now = time.monotonic()
        if self.show and (now - self._last >= 0.1 or self.done >= self.total):
            self._last = now
            self._draw()

    def _draw(self) -> None:
        elapsed = time.monotonic() - self._start
        line = _bar(self.desc, self.done - self._initial, self.total - self._initial, self.unit, elapsed)
        sys.stderr.write(line + self._postfix + "\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.show:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
