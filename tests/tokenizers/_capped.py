"""Running code in a child Python whose address space is capped, so that a test can show a bound
on memory without the cap (setrlimit) touching the pytest process."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

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


def serve(loaders: dict[str, Callable[[list[str]], Any]]) -> None:
    """The loop of a capped loader child (``python -m MODULE EXTRA_BYTES``): cap the address space
    at EXTRA_BYTES above its size now, say ``ready``, then answer each JSON request on stdin,
    ``{"loader": name, "paths": [...]}``, with ``{"outcome": "ok"}`` or the exception's class, its
    bases and message. A MemoryError is answered like any exception; a crash ends the process."""
    import json

    def answer(request: dict) -> dict:
        try:
            loaders[request["loader"]](request["paths"])
        except Exception as e:  # noqa: BLE001 - every exception is reported to the test
            return {"outcome": type(e).__name__, "bases": [c.__name__ for c in type(e).__mro__],
                    "message": str(e)[:500]}
        return {"outcome": "ok"}

    cap_address_space(int(sys.argv[1]))
    print(json.dumps({"outcome": "ready"}), flush=True)
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line))), flush=True)
