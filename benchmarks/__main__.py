"""Command line: ``python -m benchmarks list`` and ``python -m benchmarks NAME [--quick] ...``.

Runs one benchmark, prints its table and writes its JSON-lines results. Run it from the
repository root so that ``benchmarks`` is importable.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import sys
from pathlib import Path
from types import ModuleType

# Benchmark name -> module; adding a benchmark is one line here.
REGISTRY = {
    "attention": "benchmarks.attention",
    "axpy": "benchmarks.axpy",
    "bpe_encode": "benchmarks.bpe_encode",
    "bpe_train": "benchmarks.bpe_train",
    "continued_pretraining": "benchmarks.continued_pretraining",
    "elmo": "benchmarks.elmo",
    "embed": "benchmarks.embed",
    "finetune": "benchmarks.finetune",
    "generate": "benchmarks.generate",
    "isa": "benchmarks.isa",
    "panel": "benchmarks.panel",
    "portable": "benchmarks.portable",
    "portable_paired": "benchmarks.portable_paired",
    "predict": "benchmarks.predict",
    "tokenize": "benchmarks.tokenize",
    "pretrain": "benchmarks.pretrain",
    "word2vec": "benchmarks.word2vec",
}

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _load(name: str) -> ModuleType:
    return importlib.import_module(REGISTRY[name])


def _default_out(name: str) -> Path:
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return RESULTS_DIR / f"{name}-{stamp}.jsonl"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the available benchmarks")
    for name in REGISTRY:
        module = _load(name)
        sub = commands.add_parser(name, help=module.DESCRIPTION, description=module.DESCRIPTION)
        sub.add_argument("--quick", action="store_true", help="small sizes and few repeats: checks that it runs")
        sub.add_argument("--threads", type=int, metavar="N", help="fastembed.set_num_threads(N) before running")
        sub.add_argument("--out", type=Path, metavar="PATH",
                         help=f"JSON-lines results file (default: benchmarks/results/{name}-<UTC time>.jsonl)")
        module.add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list":
        for name in REGISTRY:
            print(f"{name:<12} {_load(name).DESCRIPTION}")
        return 0

    import fastembed

    from .harness import Recorder, format_table, machine_info, warn_if_busy

    if args.threads is not None:
        fastembed.set_num_threads(args.threads)
    machine = machine_info()  # after set_num_threads, so the meta record has the thread count used
    warn_if_busy(machine)
    options = {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()}
    recorder = Recorder(args.command, machine, options)
    _load(args.command).run(args, recorder)
    print(format_table(recorder.records))
    out = recorder.write(args.out or _default_out(args.command))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
