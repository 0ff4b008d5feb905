"""The default build (portable, kernels dispatched at run time) against a ``-march=native`` build,
on the other benchmarks of this folder, same machine, same run.

The default build compiles its module for x86-64-v2 and only the hot kernels for each level
(csrc/README.md, "Runtime dispatch"); ``FASTEMBED_ARCH=native`` compiles everything for this CPU.
The question is what portability costs. This benchmark builds the native core once into
``build/portable-bench/`` (``setup.py build_ext`` with ``FASTEMBED_ARCH=native``, no CUDA; the
build cache keeps it for later runs), lays a copy of the package around it, then runs each chosen
benchmark as a subprocess against the one build and the other in turn, ``--rounds`` times,
alternating which goes first. Only fastembed's own rows are compared (the incumbents run in both,
and do not change with our build): the ratio is the dispatched build's throughput over the native
build's, median over the rounds, so 1.00 means portability costs nothing.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from .harness import Recorder, Stats, load_jsonl

NAME = "portable"
DESCRIPTION = "default dispatched build vs a -march=native build, on the other benchmarks"
ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "portable-bench"
# Fast enough to repeat; the rest (minutes each) are opt-in through --benches.
DEFAULT_BENCHES = ("attention", "axpy", "bpe_encode", "bpe_train", "tokenize", "word2vec", "embed")
SKIP = {"portable", "portable_paired", "isa"}  # these; isa switches levels inside one build


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benches", default=",".join(DEFAULT_BENCHES),
                        help="comma-separated benchmarks to compare, or 'all' (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each benchmark per build (default 3)")
    parser.add_argument("--bench-args", default="", metavar="ARGS",
                        help="extra arguments for every benchmark, e.g. '--threads 2' (--quick is passed on)")


def native_build(variant: str = "", cflags: str = "") -> Path:
    """A folder holding a ``fastembed`` package whose ``_C`` is compiled with -march=native.
    ``variant`` names a separate build (its own folders) made with extra ``cflags``."""
    lib = BUILD / f"{variant}lib"
    env = dict(os.environ, FASTEMBED_ARCH="native", FASTEMBED_SKIP_CUDA="1", FASTEMBED_SKIP_CUDA_EMU="1")
    # setuptools compiles C++ with CXXFLAGS, and a CFLAGS/CXXFLAGS in the environment replaces
    # Python's own (-fwrapv -O3 -DNDEBUG ...) instead of adding to them: start from Python's, or
    # the native build would differ from the default one in more than -march (without -fwrapv
    # GCC optimizes word2vec's loops harder, which showed as a 13% "portability" loss).
    for var in ("CFLAGS", "CXXFLAGS") if cflags else ():
        base = os.environ.get(var, sysconfig.get_config_var("CFLAGS") or "")
        env[var] = f"{base} {cflags}".strip()
    print("portable: building the -march=native core (cached after the first time) ...", file=sys.stderr)
    subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--build-lib", str(lib),
                    "--build-temp", str(BUILD / f"{variant}temp")], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    built = sorted(lib.glob("fastembed/_C.*"))
    if not built:
        raise SystemExit(f"portable: the native build left no fastembed/_C module under {lib}")
    tree = BUILD / f"{variant}tree"
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(ROOT / "fastembed", tree / "fastembed",
                    ignore=shutil.ignore_patterns("_C.*", "__pycache__"))
    shutil.copy2(built[0], tree / "fastembed" / built[0].name)
    (tree / "benchmarks").symlink_to(ROOT / "benchmarks")
    return tree


def _arch_of(tree: Path, env: dict) -> str:
    out = subprocess.run([sys.executable, "-c", "import fastembed; print(fastembed.build_info()['arch'])"],
                         cwd=tree, env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _run(name: str, cwd: Path, extra: list[str], out: Path, env: dict) -> list[dict]:
    cmd = [sys.executable, "-m", "benchmarks", name, *extra, "--out", str(out)]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"portable: {shlex.join(cmd)} failed in {cwd}:\n{done.stderr[-2000:]}")
    return [r for r in load_jsonl(out) if r["type"] == "result" and r["impl"].startswith("fastembed")]


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    from benchmarks.__main__ import REGISTRY
    from fastembed._data import data_dir

    names = [n for n in REGISTRY if n not in SKIP] if args.benches == "all" else \
        [n.strip() for n in args.benches.split(",") if n.strip()]
    unknown = [n for n in names if n not in REGISTRY or n in SKIP]
    if unknown:
        raise SystemExit(f"portable: --benches {','.join(unknown)}: not a benchmark this can compare")
    extra = shlex.split(args.bench_args) + (["--quick"] if args.quick else [])
    if args.threads is not None and "--threads" not in extra:
        extra += ["--threads", str(args.threads)]
    env = dict(os.environ, PYTHONPATH="")
    if data_dir() is not None:
        env["FASTEMBED_DATA"] = str(data_dir())
    builds = {"dispatch": ROOT, "native": native_build()}
    for build, tree in builds.items():
        arch = _arch_of(tree, env)
        if arch != build:
            raise SystemExit(f"portable: the {build} tree imports a fastembed built with FASTEMBED_ARCH={arch}; "
                             f"rebuild it ({'pip install -e .' if build == 'dispatch' else 'remove ' + str(BUILD)})")
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            seen: dict[tuple[str, str], dict[str, list[dict]]] = {}
            for k in range(rounds):
                order = list(builds) if k % 2 == 0 else list(builds)[::-1]
                for build in order:
                    print(f"portable: {name}, round {k + 1}/{rounds}, {build} build", file=sys.stderr)
                    for r in _run(name, builds[build], extra, Path(tmp) / f"{name}-{build}-{k}.jsonl", env):
                        seen.setdefault((r["case"], r["impl"]), {b: [] for b in builds})[build].append(r)
            for (case, impl), by in seen.items():
                if not all(by.values()):
                    missing = ", ".join(b for b, rows in by.items() if not rows)
                    print(f"portable: {name}: '{case}' [{impl}] has no row from the {missing} build; not compared",
                          file=sys.stderr)
                    continue
                for build, rows in by.items():          # each round's median time; their median and spread
                    t = [r["median_s"] for r in rows]
                    recorder.add(case=f"{name}: {case} [{impl}]", impl=f"{build} build", stats=Stats.of(t),
                                 work=rows[0]["work"], unit=rows[0]["unit"], incumbent=build == "native",
                                 note=f"{len(t)} runs" if build == "dispatch" else "")
