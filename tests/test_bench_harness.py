"""The benchmark harness (``benchmarks/``): timing statistics, JSON-lines results, the ratio
table, and one quick end-to-end run of ``python -m benchmarks axpy``. Nothing here asserts
anything about speed: these tests check the machinery, not the numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# ``benchmarks`` is a top-level folder of the repository, not part of the installed package.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.harness import Recorder, Stats, alternate, format_table, load_jsonl, measure  # noqa: E402


def _result(case: str, impl: str, median_s: float, *, incumbent: bool = False) -> dict[str, Any]:
    return {
        "type": "result", "bench": "fake", "case": case, "impl": impl, "incumbent": incumbent,
        "median_s": median_s, "min_s": median_s, "max_s": median_s, "mean_s": median_s,
        "repeats": 1, "number": 1, "work": 1e9, "unit": "GB/s",
    }


def _rows(table: str, impl: str) -> list[str]:
    return [line for line in table.splitlines() if line.split()[:1] == [impl]]


def test_measure_orders_its_statistics() -> None:
    stats = measure(lambda: sum(range(10)), warmup=1, repeats=5, min_time=0.001)
    assert stats.min <= stats.median <= stats.max
    assert stats.min <= stats.mean <= stats.max
    assert stats.repeats == 5
    assert stats.number >= 1


def test_measure_keeps_a_given_number() -> None:
    calls = []
    stats = measure(lambda: calls.append(None), warmup=2, repeats=3, number=4)
    assert stats.number == 4
    assert len(calls) == 2 + 3 * 4


def test_stats_of_summarises_a_list_of_times() -> None:
    stats = Stats.of([3.0, 1.0, 2.0, 6.0], number=4)
    assert stats == Stats(median=2.5, min=1.0, max=6.0, mean=3.0, repeats=4, number=4)
    with pytest.raises(ValueError, match="no times"):
        Stats.of([])


def test_alternate_interleaves_the_calls_and_swaps_who_goes_first() -> None:
    calls: list[str] = []
    times = alternate({"a": lambda: calls.append("a"), "b": lambda: calls.append("b"),
                       "c": lambda: calls.append("c")}, 3)
    assert calls == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert list(times) == ["a", "b", "c"]
    assert all(len(ts) == 3 and all(t >= 0 for t in ts) for ts in times.values())
    assert alternate({"a": lambda: None}, 0) == {"a": []}
    with pytest.raises(ValueError, match="rounds must be >= 0"):
        alternate({"a": lambda: None}, -1)


def test_jsonl_round_trip_is_atomic(tmp_path: Path) -> None:
    recorder = Recorder("fake", {"logical_cores": 2}, {"quick": True})
    stats = Stats(median=2e-6, min=1e-6, max=3e-6, mean=2e-6, repeats=3, number=100)
    recorder.add(case="n=10", impl="numpy", stats=stats, work=120.0, unit="GB/s", incumbent=True)
    recorder.skip(case="n=10", impl="scipy-blas", missing="scipy")
    path = recorder.write(tmp_path / "r.jsonl")
    assert load_jsonl(path) == recorder.records
    assert [p.name for p in tmp_path.iterdir()] == ["r.jsonl"]  # no temp file left behind
    assert [r["type"] for r in recorder.records] == ["meta", "result", "skip"]


def test_recorder_rejects_an_unknown_unit() -> None:
    stats = Stats(median=1.0, min=1.0, max=1.0, mean=1.0, repeats=1, number=1)
    with pytest.raises(ValueError, match="unknown unit"):
        Recorder("fake", {}, {}).add(case="c", impl="i", stats=stats, work=1.0, unit="furlongs/s")


def test_format_table_ratios_against_the_incumbent() -> None:
    table = format_table([
        {"type": "meta", "bench": "fake", "machine": {}, "args": {}},
        _result("big", "numpy", 2.0, incumbent=True),
        _result("big", "fastembed", 1.0),
    ])
    assert "> 1 means faster than the incumbent" in table
    assert [row.split()[-1] for row in _rows(table, "numpy")] == ["1.00x"]
    assert [row.split()[-1] for row in _rows(table, "fastembed")] == ["2.00x"]


def test_format_table_without_an_incumbent_says_n_a_and_names_the_package() -> None:
    table = format_table([
        _result("text", "fastembed", 1.0),
        {"type": "skip", "bench": "fake", "case": "text", "impl": "tiktoken", "incumbent": True,
         "missing": "tiktoken"},
    ])
    assert [row.split()[-1] for row in _rows(table, "fastembed")] == ["n/a"]
    assert "'tiktoken' is not installed" in table


def test_axpy_quick_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "axpy", "--quick", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    records = load_jsonl(out)
    assert records[0]["type"] == "meta" and records[0]["bench"] == "axpy"
    results = [r for r in records if r["type"] == "result"]
    assert {"fastembed", "numpy"} <= {r["impl"] for r in results}
    assert all(r["incumbent"] == (r["impl"] == "numpy") for r in results)
    fastembed_rows = _rows(proc.stdout, "fastembed")
    assert len(fastembed_rows) == len({r["case"] for r in results})
    assert all(row.endswith("x") for row in fastembed_rows)
    assert [row.split()[-1] for row in _rows(proc.stdout, "numpy")] == ["1.00x"] * len(fastembed_rows)


def test_the_native_build_keeps_pythons_cflags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """setuptools lets a CFLAGS in the environment replace Python's own (-fwrapv -O3 ...). The
    paired benchmark passes extra flags that way, and once built its -march=native copy without
    -fwrapv: a difference in more than -march, which it then reported as a portability cost."""
    import sysconfig

    import benchmarks.portable as portable

    seen: dict[str, str] = {}

    def fake_run(cmd: list[str], *, env: dict, **kw: Any) -> None:
        seen.update(env)
        lib = Path(cmd[cmd.index("--build-lib") + 1]) / "fastembed"
        lib.mkdir(parents=True, exist_ok=True)
        (lib / "_C.fake.so").write_bytes(b"")

    root = tmp_path / "tree"                 # a source tree of its own: the installed-wheel suite has none
    (root / "fastembed").mkdir(parents=True)
    (root / "fastembed" / "__init__.py").write_text("")
    monkeypatch.setattr(portable, "ROOT", root)
    monkeypatch.setattr(portable, "BUILD", tmp_path / "build")
    monkeypatch.setattr(portable.subprocess, "run", fake_run)
    monkeypatch.delenv("CFLAGS", raising=False)
    monkeypatch.delenv("CXXFLAGS", raising=False)
    portable.native_build("t-", "-DEXTRA=1")
    python_flags = sysconfig.get_config_var("CFLAGS") or ""
    for var in ("CFLAGS", "CXXFLAGS"):
        assert seen[var].startswith(python_flags) and seen[var].endswith("-DEXTRA=1"), (var, seen[var])
    assert seen["FASTEMBED_ARCH"] == "native"
