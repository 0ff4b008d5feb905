"""The numpy entry (inference without torch) and the native binding's own argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed import _native
from fastembed.ops import attention_numpy


def softmax_attention(q, k, v, causal=False, lengths=None):
    """Dense numpy reference, (B, T, H, D) layout, float64."""
    q, k, v = (x.astype(np.float64).transpose(0, 2, 1, 3) for x in (q, k, v))
    Tq, Tk = q.shape[2], k.shape[2]
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(q.shape[-1])
    vis = np.ones((q.shape[0], 1, Tq, Tk), dtype=bool)
    if causal:
        vis &= np.arange(Tk)[None, :] <= np.arange(Tq)[:, None] + (Tk - Tq)
    if lengths is not None:
        vis &= np.arange(Tk)[None, None, None, :] < np.asarray(lengths)[:, None, None, None]
    s = np.where(vis, s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    e = np.exp(s - m)
    den = e.sum(-1, keepdims=True)
    p = np.divide(e, den, out=np.zeros_like(e), where=den > 0)
    return (p @ v).transpose(0, 2, 1, 3)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_matches_dense_reference(causal, dtype, tol):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 70, 3, 32)).astype(dtype)
    k = rng.standard_normal((2, 90, 3, 32)).astype(dtype)
    v = rng.standard_normal((2, 90, 3, 32)).astype(dtype)
    lengths = np.array([90, 41])
    out = attention_numpy(q, k, v, causal=causal, lengths=lengths)
    assert out.dtype == dtype and out.shape == q.shape
    np.testing.assert_allclose(out, softmax_attention(q, k, v, causal, lengths), atol=tol * 10, rtol=0)
    bh = attention_numpy(*(x.transpose(0, 2, 1, 3) for x in (q, k, v)), causal=causal, lengths=lengths,
                         layout="bhtd")
    np.testing.assert_array_equal(bh.transpose(0, 2, 1, 3), out)


def test_bad_input():
    q = np.zeros((1, 4, 2, 8), np.float32)
    with pytest.raises(TypeError, match="'q' must be a numpy.ndarray"):
        attention_numpy([1.0], q, q)
    with pytest.raises(TypeError, match="float32 or float64"):
        attention_numpy(q.astype(np.float16), q, q)
    with pytest.raises(TypeError, match="dtype float32"):
        attention_numpy(q, q.astype(np.float64), q)
    with pytest.raises(ValueError, match="'k' must match q"):
        attention_numpy(q, q[:, :, :1], q[:, :, :1])
    with pytest.raises(TypeError, match="bool"):
        attention_numpy(q, q, q, key_padding_mask=np.zeros((1, 4)))
    with pytest.raises(ValueError, match="key_lengths"):
        attention_numpy(q, q, q, lengths=[9])


def test_binding_rejects_bad_buffers():
    C = _native._C
    q = np.zeros((1, 4, 2, 8), np.float32)
    lse = np.zeros((1, 2, 4), np.float32)
    ro = np.zeros_like(q)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="'out' is read-only"):
        C.attention_forward(q, q, q, ro, lse, False, 1.0, 0.0, 0, 0, None, None)
    with pytest.raises(ValueError, match="contiguous last"):
        C.attention_forward(q, q, q[..., ::-1], np.zeros_like(q), lse, False, 1.0, 0.0, 0, 0, None, None)
    with pytest.raises(ValueError, match="'lse' must have shape"):
        C.attention_forward(q, q, q, np.zeros_like(q), lse[:, :1], False, 1.0, 0.0, 0, 0, None, None)
    with pytest.raises(ValueError, match="dropout_p"):
        C.attention_forward(q, q, q, np.zeros_like(q), lse, False, 1.0, 1.5, 0, 0, None, None)
