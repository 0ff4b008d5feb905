"""The layer epilogue kernels through their numpy binding, against float64 numpy/math references,
without torch: this file also runs in the sanitizer build (.ci/sanitize)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastembed._native import _C

erf = np.vectorize(math.erf)


def gelu64(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 7), (5, 9), (3, 33), (4, 100)])   # vector tails of every width
def test_bias_gelu(rows, cols):
    rng = np.random.default_rng(cols)
    y = (rng.standard_normal((rows, cols)) * 3).astype(np.float32)
    b = rng.standard_normal(cols).astype(np.float32)
    want = gelu64(y.astype(np.float64) + b)
    _C.bias_gelu_(y, b)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=2e-6)


@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 7), (5, 9), (3, 33), (4, 100)])
def test_bias_residual_layer_norm(rows, cols):
    rng = np.random.default_rng(cols + 1)
    y, r = (rng.standard_normal((rows, cols)).astype(np.float32) for _ in range(2))
    b, g, beta = (rng.standard_normal(cols).astype(np.float32) for _ in range(3))
    x = y.astype(np.float64) + b + r
    mu = x.mean(-1, keepdims=True)
    want = (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * g + beta
    _C.bias_residual_layer_norm_(y, b, r, g, beta, 1e-5)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=4e-6)


def test_a_view_with_a_row_stride_touches_only_its_columns():
    base = np.arange(60, dtype=np.float32).reshape(5, 12) / 10
    before = base.copy()
    _C.bias_gelu_(base[1:4, 2:11], np.zeros(9, np.float32))
    np.testing.assert_allclose(base[1:4, 2:11], gelu64(before[1:4, 2:11].astype(np.float64)), rtol=1e-6, atol=2e-6)
    mask = np.ones_like(base, dtype=bool)
    mask[1:4, 2:11] = False
    assert (base[mask] == before[mask]).all()
