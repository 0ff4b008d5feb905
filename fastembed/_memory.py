"""Refuse an allocation the machine cannot hold, before making it.

A size the user chooses (``vector_size=10**9``) or a file's header claims ("3000000000 300")
would otherwise reach numpy or the native core as one huge allocation: Linux overcommits, the
pages are touched while filling them, and the OOM killer ends the process with no message. Call
:func:`check_allocation` with an estimate first and the user gets a ValueError naming the setting:

    check_allocation(2 * V * D * 4, f"Word2Vec: vector_size={D} x {V} words (two float32 matrices)",
                     hint="lower vector_size or raise min_count")
    # ValueError: Word2Vec: vector_size=1000000000 x 4 words (two float32 matrices) needs 29.8 GB,
    #             this machine has 22.5 GB available; lower vector_size or raise min_count

"Available" is what the kernel says can be had without swapping (/proc/meminfo MemAvailable,
else free physical pages), lowered to the container's cgroup limit when one is set. It moves
while other programs run, so the check is for sizes that cannot fit at all, not a fine budget.
"""

from __future__ import annotations

import os
from pathlib import Path

GB = 1024**3
# cgroup v1 writes a page-rounded 2**63 for "no limit"; anything this large is no limit.
_NO_CGROUP_LIMIT = 2**60


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the value is in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_available() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not on this platform
        return None


def _cgroup_headroom() -> int | None:
    """Limit minus usage of this process's memory cgroup (v2, then v1), or None when unlimited."""
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit_text = Path(limit_file).read_text().strip()
            if limit_text == "max":
                return None
            limit, usage = int(limit_text), int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        return None if limit >= _NO_CGROUP_LIMIT else max(0, limit - usage)
    return None


def available_bytes() -> int | None:
    """Bytes this process could allocate now without swapping, or None when unknown."""
    found = [n for n in (_meminfo_available() or _sysconf_available(), _cgroup_headroom()) if n is not None]
    return min(found) if found else None


def format_bytes(n: float) -> str:
    """1.5 GB / 12.0 MB / 512 B: one decimal in the largest unit under the value."""
    for unit, size in (("TB", 1024**4), ("GB", GB), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def check_allocation(nbytes: int, what: str, *, hint: str = "") -> None:
    """Raise ValueError when ``nbytes`` exceed the memory available now.

    ``what`` names the setting or file that drives the size (the message starts with it); ``hint``
    says what to change. Nothing is checked when the available memory cannot be read."""
    available = available_bytes()
    if available is None or nbytes <= available:
        return
    raise ValueError(f"{what} needs {format_bytes(nbytes)}, this machine has {format_bytes(available)} available"
                     + (f"; {hint}" if hint else ""))
