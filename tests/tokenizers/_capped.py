"""Running code in a child Python whose address space is capped, so that a test can show a bound
on memory without the cap (setrlimit) touching the pytest process."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: `tests` and `fastembed` import from it


def address_space_bytes() -> int:
    """This process's virtual size (Linux /proc), what RLIMIT_AS limits."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def cap_address_space(extra: int) -> None:
    """Let this process grow by at most ``extra`` bytes of address space from here on."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = address_space_bytes() + extra
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def run_capped(code: str, extra: int = 1 << 30, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter after importing fastembed.tokenizers and capping its
    address space at ``extra`` bytes above what the imports took."""
    prelude = ("import fastembed.tokenizers\n"
               "from tests.tokenizers._capped import cap_address_space\n"
               f"cap_address_space({extra})\n")
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)
