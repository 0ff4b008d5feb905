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


def run(args: argparse.Namespace) -> int:
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "__main__.py").exists():
        log.error("the benchmarks ship with the source tree, not the installed package; clone the repository, "
                  "install it with pip install -e ., and run from there.")
        return 2
    return subprocess.call([sys.executable, "-m", "benchmarks", *args.bench_args], cwd=root)
