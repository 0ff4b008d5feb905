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


def test_dropout_mask_is_the_documented_philox_stream():
    """keep(b, h, i, j) = philox_u32(seed, subsequence=(b*H + h)*Tq + i, element j) >= p * 2^32
    (csrc/attention/params.h), whichever code path (vectorized or scalar) made it."""
    from fastembed.ops import dropout_mask

    B, H, Tq, Tk, p, seed = 2, 3, 5, 37, 0.3, 2**40 + 17
    mask = dropout_mask(B, H, Tq, Tk, p, seed)
    threshold = int(p * 2**32)
    for b in range(B):
        for h in range(H):
            for i in range(Tq):
                bits = _native.philox_u32(seed, Tk, subsequence=(b * H + h) * Tq + i).astype(np.int64)
                np.testing.assert_array_equal(mask[b, h, i], bits >= threshold)


@pytest.mark.parametrize("causal", [False, True])
def test_native_backward_matches_dense_numpy_gradients(causal):
    """The binding's backward on numpy arrays (no torch: this also runs under the sanitizers)."""
    C = _native._C
    rng = np.random.default_rng(3)
    B, Tq, Tk, H, D = 2, 70, 90, 2, 16
    q, dout = (rng.standard_normal((B, Tq, H, D)) for _ in range(2))
    k, v = (rng.standard_normal((B, Tk, H, D)) for _ in range(2))
    lengths = np.array([90, 33])
    scale = D ** -0.5
    out, lse = np.empty_like(q), np.empty((B, H, Tq))
    C.attention_forward(q, k, v, out, lse, causal, scale, 0.0, 0, 0, lengths, None)
    dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    C.attention_backward(dout, q, k, v, out, lse, dq, dk, dv, causal, scale, 0.0, 0, 0, lengths, None)
    # dense reference, (B, H, T, D)
    Q, K, V, dO = (x.transpose(0, 2, 1, 3) for x in (q, k, v, dout))
    vis = np.ones((B, 1, Tq, Tk), dtype=bool)
    if causal:
        vis &= np.arange(Tk)[None, :] <= np.arange(Tq)[:, None] + (Tk - Tq)
    vis &= np.arange(Tk)[None, None, None, :] < lengths[:, None, None, None]
    S = np.where(vis, Q @ K.transpose(0, 1, 3, 2) * scale, -np.inf)
    m = np.max(S, axis=-1, keepdims=True)
    P = np.exp(S - np.where(np.isfinite(m), m, 0))
    P /= np.maximum(P.sum(-1, keepdims=True), 1e-300)
    dV = P.transpose(0, 1, 3, 2) @ dO
    dP = dO @ V.transpose(0, 1, 3, 2)
    dS = P * (dP - (dP * P).sum(-1, keepdims=True))
    dQ, dK = scale * dS @ K, scale * dS.transpose(0, 1, 3, 2) @ Q
    for got, want in ((dq, dQ), (dk, dK), (dv, dV)):
        np.testing.assert_allclose(got, want.transpose(0, 2, 1, 3), atol=1e-10, rtol=0)
