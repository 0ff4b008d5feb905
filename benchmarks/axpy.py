"""axpy: ``y += alpha * x`` on float32 vectors, fastembed's native kernel against numpy and BLAS.

The operation is memory-bound, so throughput is in GB/s of traffic: each element reads x and y
and writes y, 12 bytes in all. The incumbent is the plain numpy idiom ``y += alpha * x``;
scipy's ``saxpy`` (BLAS) joins when scipy is installed.
"""

from __future__ import annotations

import argparse
import functools
from typing import Callable

import numpy as np

import fastembed._native

from .harness import Recorder, measure, optional_import

NAME = "axpy"
DESCRIPTION = "y += alpha * x on float32 vectors (GB/s): fastembed vs numpy vs scipy BLAS"

ALPHA = 0.5
SIZES = (10_000, 1_000_000, 10_000_000)
QUICK_SIZES = (10_000, 100_000)

# An axpy implementation updates y in place.
Axpy = Callable[[float, np.ndarray, np.ndarray], None]


def _numpy_axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    y += alpha * x


def _implementations() -> tuple[dict[str, Axpy], list[tuple[str, str]]]:
    """The implementations that can run here, and (impl, missing package) for those that cannot."""
    impls: dict[str, Axpy] = {"fastembed": fastembed._native.axpy, "numpy": _numpy_axpy}
    missing: list[tuple[str, str]] = []
    blas = optional_import("scipy.linalg.blas")
    if blas is None:
        missing.append(("scipy-blas", "scipy"))
    else:
        saxpy = blas.saxpy

        # f2py updates a contiguous float32 y in place and returns it; _check_correct verifies that.
        def scipy_axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
            saxpy(x, y, a=alpha)

        impls["scipy-blas"] = scipy_axpy
    return impls, missing


def _check_correct(name: str, impl: Axpy, n: int) -> None:
    """Run ``impl`` once on random data and compare y, updated in place, with a float64 reference."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    expected = y.astype(np.float64) + ALPHA * x.astype(np.float64)
    impl(ALPHA, x, y)
    error = float(np.max(np.abs(y - expected)))
    tolerance = 4 * np.finfo(np.float32).eps * float(np.max(np.abs(expected)))
    if not error <= tolerance:
        raise RuntimeError(f"axpy implementation {name!r} is wrong at n={n}: max error {error:.3g} > {tolerance:.3g}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """axpy has no options beyond the common ones (--quick, --threads, --out)."""


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    sizes = QUICK_SIZES if args.quick else SIZES
    timing = {"repeats": 3, "min_time": 0.01} if args.quick else {}
    impls, missing = _implementations()
    for name, impl in impls.items():
        _check_correct(name, impl, n=1001)  # odd length: exercises any vector tail
    rng = np.random.default_rng(1)
    for n in sizes:
        case = f"n={n:,}"
        x = rng.random(n, dtype=np.float32)
        for name, impl in impls.items():
            y = rng.random(n, dtype=np.float32)  # repeated calls grow y by at most ALPHA each: no overflow
            stats = measure(functools.partial(impl, ALPHA, x, y), **timing)
            recorder.add(case=case, impl=name, stats=stats, work=12 * n, unit="GB/s", incumbent=name == "numpy")
        for name, package in missing:
            recorder.skip(case=case, impl=name, missing=package)
