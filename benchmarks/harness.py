"""Shared benchmark machinery: timing, machine facts, JSON-lines results and the ratio table.

A benchmark times each implementation of one operation with :func:`measure`, hands the
:class:`Stats` to a :class:`Recorder` together with the work done per call, and the recorder
writes JSON lines: one ``meta`` record (machine and arguments), then one ``result`` record per
(case, implementation) and one ``skip`` record per implementation that could not run because its
package is missing. :func:`format_table` turns those records into a table of times, throughputs
and ratios against the incumbent (the implementation fastembed has to beat) of each case.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable

# Packages fastembed is compared against; their versions go into the meta record when installed.
COMPETITORS = ("torch", "tiktoken", "tokenizers", "gensim", "transformers", "scipy")
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE")

# Throughput unit -> how many units of work make one unit (GB/s: work is bytes, 1e9 per GB).
UNIT_SCALE = {
    "B/s": 1.0,
    "MB/s": 1e6,
    "GB/s": 1e9,
    "GFLOP/s": 1e9,
    "words/s": 1.0,
    "tokens/s": 1.0,
    "texts/s": 1.0,
    "calls/s": 1.0,
}


# --------------------------------------------------------------------------------------------
# Timing


@dataclass(frozen=True)
class Stats:
    """Seconds per call over ``repeats`` repeats of ``number`` back-to-back calls each."""

    median: float
    min: float
    max: float
    mean: float
    repeats: int
    number: int

    @classmethod
    def of(cls, seconds: list[float], number: int = 1) -> Stats:
        """Summary of per-call times in seconds, one per repeat of ``number`` calls."""
        if not seconds:
            raise ValueError("no times to summarise")
        return cls(median=statistics.median(seconds), min=min(seconds), max=max(seconds),
                   mean=statistics.fmean(seconds), repeats=len(seconds), number=number)


def _time_calls(fn: Callable[[], object], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def _autorange(fn: Callable[[], object], min_time: float) -> int:
    """Smallest ``number`` in 1, 2, 5, 10, 20, 50, ... whose calls together last ``min_time``."""
    base = 1
    while True:
        for number in (base, 2 * base, 5 * base):
            if _time_calls(fn, number) >= min_time:
                return number
        base *= 10


def measure(
    fn: Callable[[], object],
    *,
    warmup: int = 2,
    repeats: int = 7,
    min_time: float = 0.05,
    number: int | None = None,
) -> Stats:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timings of ``number`` calls.

    Without ``number``, the inner loop count is chosen like :meth:`timeit.Timer.autorange` so that
    each repeat lasts at least ``min_time`` seconds. The result is in seconds per call.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    if number is None:
        number = _autorange(fn, min_time)
    elif number < 1:
        raise ValueError(f"number must be >= 1, got {number}")
    per_call = [_time_calls(fn, number) / number for _ in range(repeats)]
    return Stats.of(per_call, number)


def alternate(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds of one call of each function per round, the functions taking turns call by call.

    Interleaving puts every implementation under the same machine load (on a shared machine the
    load changes between back-to-back measurements more than the ratios we report), and who goes
    first alternates between rounds so that no function always runs after the same neighbour.
    Warm-up is the caller's business.
    """
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


# --------------------------------------------------------------------------------------------
# The machine


def optional_import(name: str) -> ModuleType | None:
    """The module ``name``, or None when it is not installed (or fails to import)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                return value.strip()
    return platform.processor() or "unknown"


def _load_average() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except (AttributeError, OSError):  # Windows has no getloadavg
        return None


def machine_info() -> dict[str, Any]:
    """Facts that decide how fast code runs here; no host name or user name."""
    import fastembed  # lazily: the harness itself stays importable without the native core
    import numpy

    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "load_average": _load_average(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "fastembed_build": fastembed.build_info(),
        "fastembed_threads": fastembed.get_num_threads(),
        "competitors": {name: _package_version(name) for name in COMPETITORS},
        "env": {name: os.environ.get(name) for name in THREAD_ENV_VARS},
        "utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def busy_threshold(cores: int) -> float:
    """1-minute load average above which timings are likely disturbed by other work."""
    return 0.5 if cores <= 2 else 0.25 * cores


def warn_if_busy(info: dict[str, Any]) -> None:
    """Print a warning to stderr when the 1-minute load average says the machine is busy."""
    load, cores = info["load_average"], info["logical_cores"] or 1
    if load is not None and load[0] > busy_threshold(cores):
        print(
            f"warning: machine is busy; ratios may be noisy (1-minute load {load[0]:.2f} on {cores} cores)",
            file=sys.stderr,
        )


def benchmark_corpus(name: str) -> Path:
    """``text.txt`` or ``words.txt``, built once by the shared data's ``make_corpus.py`` into
    ``benchmarks/results/corpus/`` (gitignored); FileNotFoundError if the shared data is absent."""
    from fastembed._data import data_path

    out = Path(__file__).resolve().parent / "results" / "corpus"
    path = out / name
    if not path.is_file():
        import subprocess

        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(data_path("make_corpus.py")), str(out)], check=True)
    return path


# --------------------------------------------------------------------------------------------
# Results: JSON lines


class Recorder:
    """Collects one benchmark run's records: the meta record first, then results and skips."""

    def __init__(self, bench: str, machine: dict[str, Any], args: dict[str, Any]) -> None:
        self.bench = bench
        self.records: list[dict[str, Any]] = [{"type": "meta", "bench": bench, "machine": machine, "args": args}]

    def add(self, *, case: str, impl: str, stats: Stats, work: float, unit: str, incumbent: bool = False,
            note: str = "") -> None:
        """Record ``stats`` of ``impl`` on ``case``; ``work`` is units of work per call (bytes for GB/s);
        ``note`` is printed after the ratio (e.g. peak memory)."""
        if unit not in UNIT_SCALE:
            raise ValueError(f"unknown unit {unit!r}; known: {', '.join(UNIT_SCALE)}")
        self.records.append({
            "type": "result",
            "bench": self.bench,
            "case": case,
            "impl": impl,
            "incumbent": incumbent,
            "median_s": stats.median,
            "min_s": stats.min,
            "max_s": stats.max,
            "mean_s": stats.mean,
            "repeats": stats.repeats,
            "number": stats.number,
            "work": float(work),
            "unit": unit,
            "note": note,
        })

    def skip(self, *, case: str, impl: str, missing: str, incumbent: bool = False) -> None:
        """Record that ``impl`` did not run on ``case`` because package ``missing`` is not installed."""
        self.records.append({
            "type": "skip",
            "bench": self.bench,
            "case": case,
            "impl": impl,
            "incumbent": incumbent,
            "missing": missing,
        })

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the records as JSON lines, atomically: a temp file beside ``path``, then a rename."""
        from fastembed.io import atomic_write_text

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, "".join(json.dumps(record) + "\n" for record in self.records))
        return path


def load_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a results file, in order."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --------------------------------------------------------------------------------------------
# The table


def throughput(record: dict[str, Any]) -> float:
    """Work per second of a result record, in its unit (GB/s: bytes / median seconds / 1e9)."""
    return record["work"] / record["median_s"] / UNIT_SCALE[record["unit"]]


def _format_seconds(s: float) -> str:
    for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if s >= scale:
            return f"{s / scale:.3g} {suffix}"
    return f"{s / 1e-9:.3g} ns"


def _format_ratio(ratio: float) -> str:
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"  # keep digits when far slower


def format_table(records: Iterable[dict[str, Any]]) -> str:
    """Results grouped by case: median, min-max, throughput and ratio against the incumbent."""
    cases: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record["type"] in ("result", "skip"):
            cases.setdefault(record["case"], []).append(record)

    header = f"  {'impl':<20} {'median':>10} {'min - max':>21} {'throughput':>16} {'ratio':>8}"
    lines = ["ratio = throughput / incumbent's throughput: > 1 means faster than the incumbent (*)"]
    for case, rows in cases.items():
        results = [r for r in rows if r["type"] == "result"]
        incumbent = next((r for r in results if r["incumbent"]), None)
        lines += ["", f"case {case}", header]
        for r in results:
            ratio = _format_ratio(throughput(r) / throughput(incumbent)) if incumbent else "n/a"
            name = r["impl"] + (" *" if r["incumbent"] else "")
            spread = f"{_format_seconds(r['min_s'])} - {_format_seconds(r['max_s'])}"
            rate = f"{throughput(r):.3g} {r['unit']}"
            note = f"  {r['note']}" if r.get("note") else ""
            lines.append(f"  {name:<20} {_format_seconds(r['median_s']):>10} {spread:>21} {rate:>16} {ratio:>8}{note}")
        for r in rows:
            if r["type"] == "skip":
                role = "incumbent " if r["incumbent"] else ""
                lines.append(f"  note: {role}{r['impl']} skipped: package {r['missing']!r} is not installed")
        if incumbent is None and not any(r["type"] == "skip" and r["incumbent"] for r in rows):
            lines.append("  note: no incumbent recorded for this case")
    return "\n".join(lines)
