"""The packed inference product of csrc/nn/linear.h on numpy arrays (no torch, so the sanitizer
build runs it): shapes around the 6-row tile, the 16-column panel and the 384-row K block."""

import numpy as np
import pytest

from fastembed._native import _C


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def product(x, w, b=None):
    y = np.empty((x.shape[0], w.shape[0]), np.float32)
    _C.linear_packed(x, _C.pack_linear_weight(w), w.shape[0], b, y)
    return y


def assert_matches_float64(y, x, w, b=None):
    ref = x.astype(np.float64) @ w.astype(np.float64).T + (0 if b is None else b.astype(np.float64))
    bound = np.abs(x.astype(np.float64)) @ np.abs(w.astype(np.float64)).T
    assert (np.abs(y - ref) <= 2e-6 * bound + 1e-30).all()


@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (6, 384, 16), (7, 385, 17), (13, 769, 33), (100, 20, 47), (5, 1000, 3)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_matches_float64(M, K, N, with_bias):
    x, w = rand(M, K), rand(N, K, seed=1)
    b = rand(N, seed=2) if with_bias else None
    assert_matches_float64(product(x, w, b), x, w, b)


def test_empty_sizes():
    b = rand(3, seed=2)
    assert product(np.zeros((0, 4), np.float32), rand(3, 4)).shape == (0, 3)
    np.testing.assert_array_equal(product(np.zeros((2, 0), np.float32), np.zeros((3, 0), np.float32), b),
                                  np.broadcast_to(b, (2, 3)))


def test_strided_rows_in_and_out():
    """x and y go through their row strides; y's other columns stay as they were."""
    base_x, w, b = rand(9, 50), rand(20, 30, seed=1), rand(20, seed=2)
    x = base_x[:, 7:37]                                       # 30 columns, rows 50 apart
    out = np.full((9, 45), 7.0, np.float32)
    _C.linear_packed(x, _C.pack_linear_weight(w), 20, b, out[:, 5:25])
    assert_matches_float64(out[:, 5:25], x, w, b)
    assert (out[:, :5] == 7).all() and (out[:, 25:] == 7).all()


def test_bad_arguments_are_named():
    pk = _C.pack_linear_weight(rand(4, 3))
    x, y = np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match=r"'packed' must be the contiguous packed form of an \(5, 3\) weight"):
        _C.linear_packed(x, pk, 5, None, np.zeros((2, 5), np.float32))   # same size as (4, 3): the header tells
    with pytest.raises(ValueError, match=r"'packed' must be the contiguous packed form of an \(4, 2\) weight"):
        _C.linear_packed(np.zeros((2, 2), np.float32), pk, 4, None, y)
    with pytest.raises(ValueError, match=r"'y' must have shape \(2, 4\)"):
        _C.linear_packed(x, pk, 4, None, np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match="'x' must have dtype float32"):
        _C.linear_packed(x.astype(np.float64), pk, 4, None, y)
    with pytest.raises(ValueError, match=r"'bias' must have shape \(4,\)"):
        _C.linear_packed(x, pk, 4, np.zeros(3, np.float32), y)
    with pytest.raises(ValueError, match="contiguous last axis"):
        _C.pack_linear_weight(rand(3, 4).T)
    buf = np.zeros((2, 8), np.float32)
    with pytest.raises(ValueError, match="'y' must not overlap 'x'"):
        _C.linear_packed(buf[:, :3], pk, 4, None, buf[:, 2:6])
