"""fastembed bench: a benchmark from the source tree's benchmarks/ folder (python -m benchmarks)."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

from ._common import set_command

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark (fastembed bench list shows them)", add_help=False,
                       description="Run a benchmark from the source tree's benchmarks/ folder; every argument "
                                   "goes to python -m benchmarks.")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="arguments for python -m benchmarks")
    set_command(p, run)


# The source tree the package was installed from in editable mode (its parent's parent).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def benchmarks_root() -> "Path | None":
    """Where ``benchmarks/`` lives: the source tree of an editable install, else the current
    directory when it is a checkout (an installed wheel run from a clone); None when neither."""
    for root in (SOURCE_ROOT, Path.cwd()):
        if (root / "benchmarks" / "__main__.py").exists():
            return root
    return None


def run(args: argparse.Namespace) -> int:
    root = benchmarks_root()
    if root is None:
        log.error("no benchmarks/ folder here: the benchmarks ship with the source tree, not the installed "
                  "package; run this from a clone of the repository (or install that clone with pip install -e .)")
        return 2
    return subprocess.call([sys.executable, "-m", "benchmarks", *args.bench_args], cwd=root)
