"""fastembed.ops.attention (CPU kernel) against the float64 PyTorch reference: forward and all
three gradients over shapes, masks, strides and dropout; determinism; bad input."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fastembed import _native  # noqa: E402
from fastembed.ops import attention, dropout_mask  # noqa: E402
from fastembed.ops._reference import attention_reference  # noqa: E402


def make(B, Tq, Tk, H, D, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, Tq, H, D, generator=g, dtype=dtype)
    k = torch.randn(B, Tk, H, D, generator=g, dtype=dtype)
    v = torch.randn(B, Tk, H, D, generator=g, dtype=dtype)
    return q, k, v


def masks(kind, B, Tk, seed=0):
    g = torch.Generator().manual_seed(seed + 1)
    kw = {}
    if kind in ("lengths", "both"):
        kw["lengths"] = torch.randint(0, Tk + 1, (B,), generator=g)
    if kind in ("bool", "both"):
        kw["key_padding_mask"] = torch.rand(B, Tk, generator=g) < 0.3
    return kw


def run_both(q, k, v, dtype, ref_kw=None, **kw):
    """Ours in `dtype` and the float64 reference: outputs and gradients for one random dout."""
    ours = [x.detach().to(dtype).requires_grad_() for x in (q, k, v)]
    ref = [x.detach().double().requires_grad_() for x in (q, k, v)]
    out = attention(*ours, **kw)
    ref_kw = dict(kw) if ref_kw is None else ref_kw
    r = attention_reference(*ref, **ref_kw)
    dout = torch.randn(r.shape, generator=torch.Generator().manual_seed(99), dtype=torch.float64)
    out.backward(dout.to(dtype))
    r.backward(dout)
    return [out.detach()] + [x.grad for x in ours], [r.detach()] + [x.grad for x in ref]


def assert_close(got, want, rel):
    for name, a, b in zip(("out", "dq", "dk", "dv"), got, want):
        assert torch.isfinite(a).all(), f"{name} has non-finite values"
        scale = max(1.0, float(b.abs().max()))
        err = float((a.double() - b).abs().max())
        assert err <= rel * scale, f"{name}: max error {err:.3g} > {rel:g} x {scale:.3g}"


# A deterministic sample of the grid: every value of every axis appears, with and
# without causal and each mask kind.
T_VALUES = [1, 7, 97, 128, 513]
GRID = list(itertools.product([1, 3], [1, 4], T_VALUES, T_VALUES, [16, 64, 80, 128], [False, True],
                              ["none", "lengths", "bool", "both"]))
CASES = random.Random(2026).sample(GRID, 40) + [
    (1, 1, 1, 1, 16, False, "none"), (3, 513, 513, 4, 64, True, "both"), (1, 7, 513, 1, 80, True, "none"),
    (3, 128, 97, 4, 128, False, "lengths"), (1, 97, 7, 4, 16, True, "bool"),
    # head dims that are not a multiple of 8 (the tile packing's transposes leave a tail)
    (2, 70, 70, 3, 20, True, "lengths"), (1, 13, 77, 2, 33, False, "bool"), (1, 9, 9, 1, 3, True, "none")]


@pytest.mark.parametrize("B,Tq,Tk,H,D,causal,mask", CASES)
def test_matches_reference_fp32(B, Tq, Tk, H, D, causal, mask):
    if B * H * Tq * Tk * D > 3 * 4 * 513 * 513 * 64:
        pytest.skip("keep the suite fast")  # the largest grid corner is covered by a fixed case
    q, k, v = make(B, Tq, Tk, H, D)
    got, want = run_both(q, k, v, torch.float32, causal=causal, **masks(mask, B, Tk))
    assert_close(got, want, 2e-5)


@pytest.mark.parametrize("B,Tq,Tk,H,D,causal,mask", CASES[:12])
def test_matches_reference_fp64(B, Tq, Tk, H, D, causal, mask):
    q, k, v = make(B, Tq, Tk, H, D)
    got, want = run_both(q, k, v, torch.float64, causal=causal, **masks(mask, B, Tk))
    assert_close(got, want, 1e-11)


def test_gradcheck_float64():
    q, k, v = (x.requires_grad_() for x in make(2, 5, 6, 2, 4))
    lengths = torch.tensor([6, 3])
    assert torch.autograd.gradcheck(lambda a, b, c: attention(a, b, c, causal=True, lengths=lengths), (q, k, v))
    kpm = torch.tensor([[False, True, False, False, True, False], [False] * 6])
    assert torch.autograd.gradcheck(lambda a, b, c: attention(a, b, c, key_padding_mask=kpm), (q, k, v))


@pytest.mark.parametrize("layout", ["bthd", "bhtd"])
def test_strided_packed_qkv(layout):
    """q, k, v as slices of one packed projection are read in place (no copies needed)."""
    B, T, H, D = 2, 97, 4, 64
    g = torch.Generator().manual_seed(3)
    if layout == "bthd":
        qkv = torch.randn(B, T, 3, H, D, generator=g)
        q, k, v = qkv.unbind(2)
    else:
        qkv = torch.randn(B, 3, H, T, D, generator=g)
        q, k, v = qkv.unbind(1)
    assert not q.is_contiguous()
    got, want = run_both(q, k, v, torch.float32, layout=layout, causal=True)
    assert_close(got, want, 2e-5)
    assert got[0].shape == q.shape


def test_fully_masked_rows_are_zero():
    q, k, v = make(2, 9, 9, 2, 16, dtype=torch.float32)
    q, k, v = (x.requires_grad_() for x in (q, k, v))
    lengths = torch.tensor([0, 4])
    kpm = torch.zeros(2, 9, dtype=torch.bool)
    kpm[1, :4] = True  # batch 1: every key masked by one mask or the other
    out = attention(q, k, v, lengths=lengths, key_padding_mask=kpm)
    assert torch.equal(out, torch.zeros_like(out))
    out.sum().backward()
    for x in (q, k, v):
        assert torch.equal(x.grad, torch.zeros_like(x.grad))
    # causal with Tq > Tk: the first Tq - Tk queries see nothing (bottom-right alignment)
    q2, k2, v2 = make(1, 6, 3, 1, 16, dtype=torch.float32)
    out2 = attention(q2, k2, v2, causal=True)
    assert torch.equal(out2[0, :3], torch.zeros_like(out2[0, :3]))
    assert bool((out2[0, 3:] != 0).any())


def test_empty_sequences():
    q, k, v = make(2, 0, 5, 2, 16, dtype=torch.float32)
    assert attention(q, k, v).shape == (2, 0, 2, 16)
    q, k, v = (x.requires_grad_() for x in make(2, 4, 0, 2, 16, dtype=torch.float32))
    out = attention(q, k, v)
    assert torch.equal(out, torch.zeros_like(out))
    out.sum().backward()
    assert torch.equal(q.grad, torch.zeros_like(q.grad))


@pytest.mark.parametrize("causal", [False, True])
def test_dropout_matches_reference_with_kernel_mask(causal):
    B, T, H, D, p, seed = 2, 130, 3, 64, 0.1, 1234
    q, k, v = make(B, T, T, H, D)
    mask = torch.from_numpy(dropout_mask(B, H, T, T, p, seed))
    kw = dict(causal=causal, dropout_p=p, dropout_seed=seed, lengths=torch.tensor([130, 77]))
    ref_kw = dict(causal=causal, dropout_p=p, dropout_mask=mask, lengths=kw["lengths"])
    got, want = run_both(q, k, v, torch.float32, ref_kw=ref_kw, **kw)
    assert_close(got, want, 2e-5)


def test_dropout_keep_fraction_and_randomness():
    p = 0.1
    m = dropout_mask(4, 4, 256, 256, p, seed=5)
    assert m.shape == (4, 4, 256, 256) and m.dtype == np.bool_
    assert abs(m.mean() - (1 - p)) < 0.003  # 1M draws: std 0.0003
    assert not np.array_equal(m, dropout_mask(4, 4, 256, 256, p, seed=6))
    # the op draws a fresh seed from torch's generator each call; manual_seed repeats it
    q, k, v = make(1, 64, 64, 2, 16, dtype=torch.float32)
    torch.manual_seed(0)
    a = attention(q, k, v, dropout_p=0.5)
    b = attention(q, k, v, dropout_p=0.5)
    torch.manual_seed(0)
    c = attention(q, k, v, dropout_p=0.5)
    assert not torch.equal(a, b) and torch.equal(a, c)


def test_results_do_not_depend_on_thread_count(restore_threads):
    q, k, v = (x.float().requires_grad_() for x in make(1, 300, 300, 2, 64))  # B*H small: split backward
    outs = []
    for n in (1, 2, 3):
        _native.set_num_threads(n)
        for x in (q, k, v):
            x.grad = None
        o = attention(q, k, v, causal=True, dropout_p=0.2, dropout_seed=7)
        o.square().sum().backward()
        outs.append([o.detach(), q.grad, k.grad, v.grad])
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            assert torch.equal(a, b)


def test_layouts_agree():
    q, k, v = make(2, 33, 40, 3, 16, dtype=torch.float32)
    a = attention(q, k, v, causal=True)
    b = attention(*(x.transpose(1, 2) for x in (q, k, v)), causal=True, layout="bhtd")
    assert torch.equal(a, b.transpose(1, 2))


def test_bad_input_errors():
    q, k, v = make(2, 5, 6, 2, 16, dtype=torch.float32)
    with pytest.raises(ValueError, match="'k' must match q"):
        attention(q, k[:, :, :1], v[:, :, :1])
    with pytest.raises(ValueError, match="'v' must have the shape of 'k'"):
        attention(q, k, v[:, :5])
    with pytest.raises(ValueError, match="'q' must be 4-D"):
        attention(q[0], k, v)
    with pytest.raises(TypeError, match="'k' has dtype"):
        attention(q, k.double(), v)
    with pytest.raises(TypeError, match="float32 or float64"):
        attention(q.half(), k.half(), v.half())
    with pytest.raises(TypeError, match="'q' must be a torch.Tensor"):
        attention(q.numpy(), k, v)
    with pytest.raises(ValueError, match="dropout_p"):
        attention(q, k, v, dropout_p=1.0)
    with pytest.raises(ValueError, match="layout"):
        attention(q, k, v, layout="tbhd")
    with pytest.raises(ValueError, match="'lengths'"):
        attention(q, k, v, lengths=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"key_lengths\[0\] = 7 is outside"):
        attention(q, k, v, lengths=torch.tensor([7, 2]))
    with pytest.raises(TypeError, match="key_padding_mask"):
        attention(q, k, v, key_padding_mask=torch.zeros(2, 6))
    with pytest.raises(ValueError, match="key_padding_mask"):
        attention(q, k, v, key_padding_mask=torch.zeros(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="scale"):
        attention(q, k, v, scale=float("nan"))
