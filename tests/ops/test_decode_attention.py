"""One decoding step's attention over a KV cache (csrc/attention/decode.h) against a float64
softmax over the visible scores; CI runs this file once per dispatch level."""

import math

import numpy as np
import pytest
import torch

import fastembed
from fastembed._native import _C
from fastembed.ops.decode import decode_attention, decode_attention_reference

U = 2.0 ** -24  # float32's unit roundoff


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def case(B, H, D, cap, seed=0):
    return rand(B, 3 * H * D, seed=seed), rand(B, H, cap, D, seed=seed + 1), rand(B, H, cap, D, seed=seed + 2)


def assert_close(out, qkv, k, v, n, padded=None):
    """Each score carries at most D·u of its |q|·|k| sum; softmax turns an absolute error δ of the
    scores into a relative one of about 2δ in every weight, exp adds 2e-7, the normaliser n·u; the
    weighted sum of the values adds n·u of Σ p|v|. Twice that, as an a priori bound."""
    ref = decode_attention_reference(qkv, k, v, n, padded)
    B, H, _, D = k.shape
    C = H * D
    keys = k[:, :, :n].double().clone()
    keys[:, :, n - 1] = qkv[:, C:2 * C].double().view(B, H, D)
    values = v[:, :, :n].double().clone()
    values[:, :, n - 1] = qkv[:, 2 * C:].double().view(B, H, D)
    s = (qkv[:, :C].double().view(B, H, 1, D).abs() @ keys.abs().transpose(-1, -2)).amax((-1, -2)) / math.sqrt(D)
    rel = 2 * (D * U * s + 4 * U + n * U) + n * U                     # (B, H)
    bound = 2 * rel[:, :, None] * values.abs().amax(2) + 1e-30         # (B, H, D)
    err = (out.double() - ref).view(B, H, D).abs()
    assert (err <= bound).all(), f"max error {err.max().item():.3g}, max error/bound {(err / bound).max().item():.3g}"


@pytest.mark.parametrize("B,H,D", [(1, 1, 64), (8, 12, 64), (3, 4, 16), (2, 3, 7), (2, 2, 1)])
@pytest.mark.parametrize("n", [1, 2, 9, 40])
def test_matches_the_float64_softmax(B, H, D, n):
    qkv, k, v = case(B, H, D, 40, seed=n)
    kk, vv = k.clone(), v.clone()
    out = decode_attention(qkv, kk, vv, n)
    assert out.shape == (B, H * D) and out.dtype == torch.float32
    assert_close(out, qkv, k, v, n)


def test_the_new_key_and_value_go_into_the_cache_and_nothing_else_changes():
    B, H, D, cap, n = 3, 4, 16, 12, 7
    qkv, k, v = case(B, H, D, cap, seed=3)
    kk, vv = k.clone(), v.clone()
    decode_attention(qkv, kk, vv, n)
    C = H * D
    assert torch.equal(kk[:, :, n - 1], qkv[:, C:2 * C].view(B, H, D))
    assert torch.equal(vv[:, :, n - 1], qkv[:, 2 * C:].view(B, H, D))
    for a, b in ((kk, k), (vv, v)):
        keep = torch.ones(cap, dtype=torch.bool)
        keep[n - 1] = False
        assert torch.equal(a[:, :, keep], b[:, :, keep])


def test_padded_keys_are_hidden_and_a_row_that_sees_none_gets_zeros():
    B, H, D, cap, n = 4, 3, 64, 30, 25
    qkv, k, v = case(B, H, D, cap, seed=5)
    padded = torch.rand(B, cap, generator=torch.Generator().manual_seed(6)) < 0.4
    padded[0] = False
    padded[3] = True                                             # row 3 sees nothing
    padded[2, :n] = True
    padded[2, 5] = False                                         # row 2 sees one key
    vv = v.clone()
    vv[1, :, padded[1, :n - 1].nonzero()[0, 0]] = float("nan")   # a hidden key's value cannot leak in
    out = decode_attention(qkv, k.clone(), vv, n, padded)
    assert_close(out[:3], qkv[:3], k[:3], v[:3], n, padded[:3])
    assert torch.equal(out[3], torch.zeros(H * D))
    assert torch.allclose(out[2].view(H, D), v[2, :, 5], rtol=0, atol=0)   # one key: exactly its value
    assert out[:3].isfinite().all()


def test_without_a_mask_equals_a_mask_that_hides_nothing():
    qkv, k, v = case(2, 3, 64, 20, seed=7)
    a = decode_attention(qkv, k.clone(), v.clone(), 17)
    b = decode_attention(qkv, k.clone(), v.clone(), 17, torch.zeros(2, 20, dtype=torch.bool))
    assert torch.equal(a, b)


def test_a_nan_query_stays_in_its_head():
    qkv, k, v = case(2, 3, 16, 10, seed=8)
    qkv[1, 16 + 2] = float("nan")                                # row 1, head 1's query
    out = decode_attention(qkv, k.clone(), v.clone(), 10).view(2, 3, 16)
    assert out[1, 1].isnan().all()
    assert out[0].isfinite().all() and out[1, [0, 2]].isfinite().all()


def test_results_do_not_depend_on_the_thread_count():
    qkv, k, v = case(8, 12, 64, 130, seed=9)
    outs = []
    before = fastembed.get_num_threads()
    try:
        for t in (1, 2, 3):
            fastembed.set_num_threads(t)
            outs.append(decode_attention(qkv, k.clone(), v.clone(), 120))
    finally:
        fastembed.set_num_threads(before)
    assert all(torch.equal(o, outs[0]) for o in outs[1:])


def test_bad_arguments_are_clear_errors():
    qkv, k, v = (t.numpy() for t in case(2, 3, 4, 5))
    out = np.zeros((2, 12), np.float32)
    with pytest.raises(ValueError, match=r"'qkv' must have shape \(B, 3·H·D\) = \(2, 36\)"):
        _C.decode_attention(qkv[:, :30], k, v, 3, None, 0.5, out)
    with pytest.raises(ValueError, match=r"'v' must have the shape of 'k'"):
        _C.decode_attention(qkv, k, v[:, :, :4], 3, None, 0.5, out)
    with pytest.raises(ValueError, match=r"'n' must be in \[1, 5\], got 6"):
        _C.decode_attention(qkv, k, v, 6, None, 0.5, out)
    with pytest.raises(ValueError, match=r"'n' must be in \[1, 5\], got 0"):
        _C.decode_attention(qkv, k, v, 0, None, 0.5, out)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.decode_attention(qkv, np.ascontiguousarray(k.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3), v, 3, None,
                            0.5, out)
    with pytest.raises(ValueError, match=r"'padded' must have shape \(B, >= n\) = \(2, >= 3\)"):
        _C.decode_attention(qkv, k, v, 3, np.zeros((2, 2), bool), 0.5, out)
    with pytest.raises(ValueError, match=r"'out' must have shape \(B, H·D\) = \(2, 12\)"):
        _C.decode_attention(qkv, k, v, 3, None, 0.5, np.zeros((2, 13), np.float32))
    with pytest.raises(ValueError, match="'out' must not overlap 'qkv'"):
        _C.decode_attention(qkv, k, v, 3, None, 0.5, qkv[:, :12])
    with pytest.raises(ValueError, match="'out' must not overlap 'k'"):
        _C.decode_attention(qkv, k, v, 3, None, 0.5, k.reshape(2, -1)[:, :12])
    with pytest.raises(ValueError, match="must be finite"):
        _C.decode_attention(qkv, k, v, 3, None, float("nan"), out)
    with pytest.raises(TypeError):
        _C.decode_attention(qkv.astype(np.float64), k, v, 3, None, 0.5, out)
    with pytest.raises(ValueError, match="writeable|read-only"):
        ro = k.copy()
        ro.flags.writeable = False
        _C.decode_attention(qkv, ro, v, 3, None, 0.5, out)
    with pytest.raises(TypeError, match="float32 CPU tensor"):
        decode_attention(torch.zeros(2, 36, dtype=torch.float64), *case(2, 3, 4, 5)[1:], 3)
    with pytest.raises(TypeError, match="bool tensor"):
        decode_attention(*case(2, 3, 4, 5), 3, torch.zeros(2, 5))
