"""Demo step 0: the native core checks itself against numpy and known answers (an axpy kernel
vs float64, Philox4x32-10 vs Random123's known-answer vector and across thread counts, a wrong
dtype turned into a TypeError, a parallel loop in a forked child)."""

from __future__ import annotations

import os
import time

import numpy as np

from .. import _native

# Random123's known-answer vector for Philox4x32-10 with counter 0 and key 0.
PHILOX_KAT = [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]


def _check_axpy() -> bool:
    n = 4_000_000
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    want = y.astype(np.float64) + 0.5 * x.astype(np.float64)
    t0 = time.perf_counter()
    _native.axpy(0.5, x, y)
    dt = time.perf_counter() - t0
    err = float(np.max(np.abs(y - want)))
    ok = err <= 1e-6 * float(np.max(np.abs(want)))
    print(f"  axpy, {n:,} float32 on {_native.get_num_threads()} threads: max |error| vs float64 numpy "
          f"{err:.1e} in {dt * 1e3:.1f} ms -> {'ok' if ok else 'WRONG'}")
    return ok


def _check_philox() -> bool:
    kat = [int(v) for v in _native.philox_u32(0, 4)]
    ok_kat = kat == PHILOX_KAT
    threads = _native.get_num_threads()
    a = _native.philox_uniform(42, 1_000_003, offset=7)
    _native.set_num_threads(1)
    try:
        b = _native.philox_uniform(42, 1_000_003, offset=7)
    finally:
        _native.set_num_threads(threads)
    ok_threads = bool(np.array_equal(a, b))
    print(f"  Philox4x32-10: Random123 known answer {'ok' if ok_kat else 'WRONG'}; "
          f"same bits on 1 and {threads} threads: {'ok' if ok_threads else 'WRONG'}; "
          f"mean of 1M uniforms {a.mean():.4f}")
    return ok_kat and ok_threads


def _check_errors() -> bool:
    try:
        _native.axpy(1.0, np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.float32))
    except TypeError as e:
        print(f"  a wrong dtype raises TypeError: {e}")
        return True
    print("  a wrong dtype did not raise: WRONG")
    return False


def _check_fork() -> bool:
    if not hasattr(os, "fork"):
        print("  no fork() on this platform: skipped")
        return True
    _native._C._testing.parallel_sum(1_000_000, 1)  # start the parent's thread pool first
    pid = os.fork()
    if pid == 0:  # child: this is where GNU OpenMP would deadlock without the fork guard
        total, _ = _native._C._testing.parallel_sum(1_000_000, 1)
        os._exit(0 if total == 1_000_000 * 999_999 // 2 else 1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            ok = os.waitstatus_to_exitcode(status) == 0
            print(f"  a forked child ran a parallel loop after the parent had: {'ok' if ok else 'WRONG'}")
            return ok
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print("  a forked child hung in a parallel loop: WRONG")
    return False


def native_checks() -> bool:
    """Run every check (each prints one line); True when all pass."""
    results = [_check_axpy(), _check_philox(), _check_errors(), _check_fork()]
    if _native.cuda_available():
        print("  CUDA: a GPU is visible; run `pytest -m cuda` for the CUDA checks")
    return all(results)
