"""axpy (CPU) against numpy, and its argument checking."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed import _native


def reference(alpha, x, y):
    return (y.astype(np.float64) + alpha * x.astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 1000, 100_003])
def test_matches_numpy(dtype, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    want = reference(-1.75, x, y)
    _native.axpy(-1.75, x, y)
    rtol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(y, want, rtol=rtol, atol=rtol)


def test_strided_and_reversed_views():
    base_x = np.arange(40, dtype=np.float32)
    base_y = np.ones(60, dtype=np.float32)
    x, y = base_x[::-2], base_y[1::3]  # negative and non-unit strides
    want_base = base_y.copy()
    want_base[1::3] = reference(2.0, x, y)
    _native.axpy(2.0, x, y)
    np.testing.assert_array_equal(base_y, want_base)


def test_x_may_be_y_itself():
    y = np.arange(10, dtype=np.float64)
    _native.axpy(0.5, y, y)
    np.testing.assert_array_equal(y, np.arange(10) * 1.5)


def test_interleaved_views_of_one_buffer_are_allowed():
    a = np.arange(20, dtype=np.float32)
    _native.axpy(1.0, a[0::2], a[1::2])
    np.testing.assert_array_equal(a[1::2], np.arange(1, 20, 2) + np.arange(0, 20, 2))


def test_partial_overlap_is_rejected():
    a = np.zeros(10, dtype=np.float32)
    with pytest.raises(ValueError, match="overlap"):
        _native.axpy(1.0, a[:8], a[2:])


def test_broadcast_x_with_zero_stride():
    x = np.lib.stride_tricks.as_strided(np.array([3.0], dtype=np.float32), shape=(5,), strides=(0,))
    y = np.zeros(5, dtype=np.float32)
    _native.axpy(2.0, x, y)
    np.testing.assert_array_equal(y, np.full(5, 6.0, dtype=np.float32))


def test_result_is_the_same_on_any_thread_count(restore_threads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1_000_003, dtype=np.float32)
    y0 = rng.standard_normal(1_000_003, dtype=np.float32)
    results = []
    for threads in (1, 2, 3):
        _native.set_num_threads(threads)
        y = y0.copy()
        _native.axpy(0.3, x, y)
        results.append(y)
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])


def test_torch_cpu_tensors_are_updated_in_place():
    torch = pytest.importorskip("torch")
    x = torch.arange(5, dtype=torch.float32)
    y = torch.ones(5, dtype=torch.float32)
    _native.axpy(2.0, x, y)
    assert y.tolist() == [1.0, 3.0, 5.0, 7.0, 9.0]


f32 = np.zeros(4, dtype=np.float32)


@pytest.mark.parametrize("alpha,x,y,exc,message", [
    (1.0, np.zeros(4, dtype=np.int64), f32, TypeError, "argument 'x' must have dtype float32, got int64"),
    (1.0, np.zeros(4), f32, TypeError, "argument 'x' must have dtype float32, got float64"),
    (1.0, f32, np.zeros(4, dtype=np.int32), TypeError, "argument 'y' must have dtype float32 or float64, got int32"),
    (1.0, f32, [0.0] * 4, TypeError, "argument 'y' must be a numpy.ndarray .* updated in place"),
    (1.0, [0.0] * 4, f32, TypeError, "argument 'x' must be a numpy.ndarray of float32, got list"),
    (1.0, f32, np.zeros(5, dtype=np.float32), ValueError, "'x' and 'y' must have the same length, got 4 and 5"),
    (1.0, np.zeros((2, 2), dtype=np.float32), f32, ValueError, r"argument 'x' must be 1-D, got shape \(2, 2\)"),
    ("2", f32, f32, TypeError, "argument 'alpha' must be a real number, got str"),
    (True, f32, f32, TypeError, "argument 'alpha' must be a real number, got bool"),
])
def test_bad_calls_raise_and_name_the_argument(alpha, x, y, exc, message):
    with pytest.raises(exc, match=message):
        _native.axpy(alpha, x, y)


def test_read_only_y_is_rejected_not_copied():
    y = np.zeros(4, dtype=np.float32)
    y.flags.writeable = False
    with pytest.raises(ValueError, match="argument 'y' is read-only"):
        _native.axpy(1.0, np.ones(4, dtype=np.float32), y)
    assert not y.any()


def test_stride_that_is_not_a_whole_item_is_rejected():
    rec = np.zeros(4, dtype=[("a", np.float32), ("b", np.int8)])  # 5-byte records
    with pytest.raises(ValueError, match="argument 'y' has stride 5 bytes"):
        _native.axpy(1.0, np.ones(4, dtype=np.float32), rec["a"])
