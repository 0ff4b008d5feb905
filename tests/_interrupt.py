"""Ctrl-C on a real ``fastembed`` process: start it, wait for a progress line on stderr (progress
lines are printed every FASTEMBED_PROGRESS_EVERY seconds when stderr is not a terminal), send
SIGINT, and check what a user must see: exit 130, one last line, no traceback, no abort, no
temporary file left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli_env(**extra: str) -> dict[str, str]:
    return dict(os.environ, FASTEMBED_PROGRESS_EVERY="0.2",
                PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p), **extra)


def interrupt(argv: list[str], progress_line: str, env: dict[str, str] | None = None,
              script: Path | None = None, delay: float = 0.0) -> tuple[int, str]:
    """Run ``fastembed ARGV`` (or ``python SCRIPT ARGV``), send SIGINT ``delay`` seconds after a
    stderr line matches ``progress_line``; (exit status, stderr)."""
    head = [str(script)] if script is not None else ["-m", "fastembed.cli"]
    proc = subprocess.Popen([sys.executable, *head, *argv], cwd=ROOT, env=env or cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines, seen = [], threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if re.search(progress_line, line):
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert seen.wait(120), "no progress line on stderr:\n" + "".join(lines)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    proc.stderr.close()
    return status, "".join(lines)


def check_interrupted(status: int, err: str, command: str, out: Path) -> None:
    """Exit 130, ``fastembed COMMAND: interrupted`` as the last line, no traceback or abort, and no
    temporary or half-replaced file under ``out`` (a directory, or a file whose folder is searched)."""
    assert status == 130, err
    assert err.splitlines()[-1] == f"fastembed {command}: interrupted", err
    assert "Traceback" not in err and "terminate called" not in err, err
    root = out if out.is_dir() else out.parent
    leftovers = [str(p) for p in root.rglob("*") if ".tmp" in p.name or ".old-" in p.name]
    assert not leftovers, leftovers
