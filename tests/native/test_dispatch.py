"""Runtime dispatch of the hot kernels (csrc/dispatch, csrc/README.md "Runtime dispatch").

- every level this CPU supports gives the same results: the kernels run in a fresh process per
  FASTEMBED_ISA level (tests/native/_dispatch_child.py) and the outputs are compared, bitwise where
  the arithmetic is exact (Philox dropout masks, int8 codes) and within fp32 tolerances where a
  level's FMA contraction changes roundings (attention, epilogues, word2vec);
- a FASTEMBED_ISA above what the CPU has falls back with a warning (the CPU's level is lowered
  with FASTEMBED_TEST_CPU_LEVEL, so no unsupported instruction is ever run), a bad name is a
  ValueError;
- build_info()["dispatch"] and the `fastembed info` line;
- no code outside the avx2/avx512 namespaces touches a YMM/ZMM register (the link-order rule in
  setup.py's compile_levels and the namespaces of common/isa.h).

Set FASTEMBED_ISA yourself to run any other test file at one level (.ci/run loops over them).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastembed
from fastembed import _native
from fastembed.cli.info import format_info

ROOT = Path(__file__).resolve().parents[2]
LEVELS = ["baseline", "avx2", "avx512"]
INFO = _native.build_info()["dispatch"]


def env(**kw) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("FASTEMBED_ISA", "FASTEMBED_TEST_CPU_LEVEL")}
    e.update(kw)
    return e


def run_python(code: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env(**kw),
                          timeout=300)


def supported_levels() -> list[str]:
    """The compiled levels this CPU can run (each one a FASTEMBED_ISA value that is honoured)."""
    cpu = LEVELS.index(INFO["cpu"])
    return [x for x in INFO["compiled"] if x in LEVELS and LEVELS.index(x) <= cpu]


def test_build_info_reports_the_dispatch():
    d = fastembed.build_info()["dispatch"]
    assert set(d) == {"level", "compiled", "flags", "cpu", "cap", "warning"}
    assert d["level"] in d["compiled"] and d["cpu"] in LEVELS
    assert list(d["flags"]) == d["compiled"]
    if fastembed.build_info()["arch"] == "dispatch" and d["compiled"] != ["baseline"]:
        assert d["compiled"] == LEVELS  # x86-64: lowest first
        assert d["flags"]["avx2"] in ("-march=x86-64-v3", "") or "-mavx2" in d["flags"]["avx2"]
    if d["cap"] is None and "native" not in d["compiled"]:
        assert d["level"] == supported_levels()[-1]  # the best the CPU supports
    line = next(x for x in format_info(fastembed.build_info()).splitlines() if x.startswith("dispatch"))
    assert d["level"] in line and " ".join(d["compiled"]) in line and d["cpu"] in line


@pytest.mark.parametrize("level", LEVELS)
def test_a_cap_is_honoured_when_the_cpu_has_it(level):
    if level not in supported_levels():
        pytest.skip(f"{level} is not compiled here or this CPU lacks it")
    r = run_python("import json, fastembed; print(json.dumps(fastembed.build_info()['dispatch']))",
                   FASTEMBED_ISA=level)
    assert r.returncode == 0, r.stderr
    assert f'"level": "{level}"' in r.stdout and "RuntimeWarning" not in r.stderr


def test_a_cap_above_the_cpu_falls_back_with_a_warning():
    """FASTEMBED_ISA=avx512 on a CPU that (pretends to) have only the baseline: a RuntimeWarning that
    says so, the baseline kernels, and they work."""
    if "baseline" not in INFO["compiled"]:
        pytest.skip("a single-level build (FASTEMBED_ARCH=native/portable)")
    code = ("import fastembed, numpy as np; from fastembed.ops import attention_numpy; "
            "q = np.ones((1, 5, 1, 8), np.float32); print(fastembed.build_info()['dispatch']['level'], "
            "float(attention_numpy(q, q, q).sum()))")
    r = run_python(code, FASTEMBED_ISA="avx512", FASTEMBED_TEST_CPU_LEVEL="baseline")
    assert r.returncode == 0, r.stderr
    assert "RuntimeWarning" in r.stderr and "asks for more than this CPU supports (baseline)" in r.stderr
    assert r.stdout.split() == ["baseline", "40.0"]


def test_a_pretended_cpu_never_raises_the_level():
    r = run_python("import fastembed; print(fastembed.build_info()['dispatch']['cpu'])",
                   FASTEMBED_TEST_CPU_LEVEL="avx512")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == INFO["cpu"]  # min(detected, pretended)


@pytest.mark.parametrize("var", ["FASTEMBED_ISA", "FASTEMBED_TEST_CPU_LEVEL"])
def test_an_unknown_level_is_a_clear_error(var):
    r = run_python("import fastembed", **{var: "sse9"})
    assert r.returncode != 0
    assert f"ValueError: {var}=sse9: expected baseline, avx2 or avx512" in r.stderr


@pytest.fixture(scope="module")
def level_outputs(tmp_path_factory):
    levels = supported_levels()
    if len(levels) < 2:
        pytest.skip(f"only {levels} can run here: nothing to compare")
    out = {}
    for level in levels:
        path = tmp_path_factory.mktemp("dispatch") / f"{level}.npz"
        r = subprocess.run([sys.executable, "-m", "tests.native._dispatch_child", str(path)], capture_output=True,
                           text=True, cwd=ROOT, env=env(FASTEMBED_ISA=level), timeout=300)
        assert r.returncode == 0, r.stderr
        data = np.load(path)
        assert str(data["level"]) == level
        out[level] = {k: data[k] for k in data.files if k != "level"}
    return out


EXACT = ("dropout_mask", "philox", "quantize_codes", "quantize_scales")


def test_every_level_gives_the_same_results(level_outputs):
    (base_level, base), *others = level_outputs.items()
    for level, got in others:
        assert set(got) == set(base)
        for key, want in base.items():
            msg = f"{key}: {level} against {base_level}"
            if key in EXACT:
                np.testing.assert_array_equal(got[key], want, err_msg=msg)
            elif key.startswith("w2v_epoch"):  # an epoch of updates carries FMA roundings further
                np.testing.assert_allclose(got[key], want, rtol=0, atol=1e-4, err_msg=msg)
            else:
                scale = max(1.0, float(np.abs(want).max()))
                np.testing.assert_allclose(got[key], want, rtol=0, atol=2e-5 * scale, err_msg=msg)
            assert np.isfinite(got[key]).all() if got[key].dtype.kind == "f" else True


def test_the_outputs_are_not_trivial(level_outputs):
    """The comparison above would pass on all-zero outputs: they are not."""
    out = next(iter(level_outputs.values()))
    for key, x in out.items():
        assert np.count_nonzero(x) > 0.5 * x.size or key.startswith(("dropout", "quantize_codes")), key
    assert 0.5 < out["dropout_mask"].mean() < 0.9


@functools.lru_cache(maxsize=1)
def _disassembly(so: Path) -> str:
    """objdump of the module, once per session (several tests scan it)."""
    return subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", str(so)], capture_output=True, text=True,
                          check=True, timeout=120).stdout


def _functions_using(so: Path, pattern: re.Pattern) -> dict[str, int]:
    dis = _disassembly(so)
    found: dict[str, int] = {}
    current = None
    for line in dis.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            current = m.group(1)
        elif current and pattern.search(line):
            found[current] = found.get(current, 0) + 1
    return found


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump")
def test_wide_registers_only_in_their_levels_namespaces():
    """An inline function compiled for AVX-512 and merged by the linker into a baseline caller would
    crash an older CPU. Checked on the machine code: YMM registers only in fe::isa_avx2 /
    fe::isa_avx512 code, ZMM, opmask and xmm16-31 (EVEX) only in fe::isa_avx512."""
    if INFO["compiled"] != LEVELS:
        pytest.skip("not an x86-64 dispatch build")
    so = Path(_native._C.__file__)
    wide = _functions_using(so, re.compile(r"%ymm|%zmm|%k[1-7]\b|%xmm(1[6-9]|2\d|3[01])\b"))
    evex = {f for f in wide if re.search(r"isa_avx512::", f)}
    avx2 = {f for f in wide if re.search(r"isa_avx2::", f)}
    assert evex and avx2, "the scan found no vector code in the level namespaces: the check would be blind"
    assert set(wide) - evex - avx2 == set()
    evex_regs = _functions_using(so, re.compile(r"%zmm|%k[1-7]\b|%xmm(1[6-9]|2\d|3[01])\b"))
    assert {f for f in evex_regs if "isa_avx512::" not in f} == set()


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump")
@pytest.mark.parametrize("kernel", ["attention", "axpy", "decode_attention", "gelu", "panel_linear", "quantize", "w2v"])
def test_each_hot_kernel_has_a_wide_copy_per_level(kernel):
    """The kernels setup.py compiles per level (DISPATCHED) have avx2 and avx512 copies, and those
    copies use YMM/ZMM registers (axpy was once compiled for the baseline only)."""
    if INFO["compiled"] != LEVELS:
        pytest.skip("not an x86-64 dispatch build")
    if _native.build_info()["sanitizers"]:
        pytest.skip("a sanitizer build compiles at -O1, which does not auto-vectorize (axpy, epilogues)")
    so = Path(_native._C.__file__)
    wide = _functions_using(so, re.compile(r"%ymm|%zmm"))
    for level in ("avx2", "avx512"):
        found = [f for f in wide if f"isa_{level}::" in f and kernel in f]
        assert found, f"no {level} code of {kernel} uses YMM/ZMM registers"


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump")
def test_word2vec_prefetches_rows_for_writing_at_every_level():
    """word2vec prefetches the rows it is about to update with PREFETCHW (fetch for ownership)
    where the CPU has it. -march=x86-64-v3/v4 do not include the instruction, so each level's copy
    must emit it itself (common/prefetch.h); with read prefetches only, the dispatched build ran
    at 0.8x a -march=native build on two threads."""
    if INFO["compiled"] != LEVELS:
        pytest.skip("not an x86-64 dispatch build")
    so = Path(_native._C.__file__)
    found = _functions_using(so, re.compile(r"\sprefetchw\s"))
    for level in LEVELS:
        assert any(f"w2v::isa_{level}::" in f for f in found), f"the {level} word2vec copy has no PREFETCHW"
