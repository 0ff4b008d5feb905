"""Fused masked attention of the CUDA module (csrc/attention/attention_cuda.cu) against the float64
reference and the CPU kernel, on every backend (tests/cuda/conftest.py: a GPU, or the emulator).

The kernels are called through the bindings exactly as fastembed.ops does for CUDA tensors
(fastembed.ops._torch.cuda_attention_forward / _backward), on buffers of the backend's device.
fp32 is compared with the float64 reference and with the CPU kernel (forward and the three
gradients); fp16 / bf16 with an error-relative bound: the kernel's error against float64 must stay
within twice the error of the same reference run in the low precision, plus a small epsilon.
Dropout is compared with the reference given the kernel's own keep-mask (fastembed.ops.dropout_mask).
Outputs start as NaN, so an element the kernel fails to write shows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fastembed import _native, ops  # noqa: E402
from fastembed.ops._reference import attention_reference  # noqa: E402
from fastembed.ops._torch import cuda_attention_backward, cuda_attention_forward  # noqa: E402

from .conftest import Backend  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Helpers


def randn(shape, dtype, seed, device="cpu"):
    """Unit normal values, the same on every backend (drawn on the CPU)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float32).to(dtype).to(device)


def qkv_dout(gpu, B, H, Tq, Tk, D, dtype, layout="bthd", seed=0):
    """q, k, v and an upstream gradient in `layout` ("bthd": (B, T, H, D), "bhtd": (B, H, T, D))."""
    def shape(T):
        return (B, T, H, D) if layout == "bthd" else (B, H, T, D)
    return tuple(randn(shape(T), dtype, seed + i, gpu.device) for i, T in enumerate((Tq, Tk, Tk, Tq)))


def strides3(t):
    """(b, t, h) element strides of a (B, T, H, D) tensor."""
    return (t.stride(0), t.stride(1), t.stride(2))


def run_ours(gpu, q, k, v, dout, *, causal=False, lengths=None, key_padding_mask=None, dropout_p=0.0,
             dropout_seed=0, layout="bthd"):
    """out and (dq, dk, dv) of the backend's kernels, inputs used as given (strides kept)."""
    if layout == "bhtd":
        q, k, v, dout = (t.transpose(1, 2) for t in (q, k, v, dout))
    B, Tq, H, D = q.shape
    out = torch.full((B, Tq, H, D), math.nan, dtype=q.dtype, device=gpu.device)
    lse = torch.full((B, H, Tq), math.nan, dtype=torch.float32, device=gpu.device)
    dq, dk, dv = (torch.full(t.shape, math.nan, dtype=t.dtype, device=gpu.device) for t in (q, k, v))
    lens = None if lengths is None else lengths.to(device=gpu.device, dtype=torch.int64).contiguous()
    mask = None if key_padding_mask is None else key_padding_mask.to(gpu.device).contiguous()
    args = (lens, mask, causal, D**-0.5, dropout_p, dropout_seed, 0, gpu.stream())
    cuda_attention_forward(gpu.module, q, k, v, out, lse, *args)
    cuda_attention_backward(gpu.module, dout, q, k, v, out, lse, dq, dk, dv, *args)
    gpu.sync()
    result = (out, dq, dk, dv)
    return tuple(t.transpose(1, 2) for t in result) if layout == "bhtd" else result


def run_ref(q, k, v, dout, dtype=torch.float64, **kw):
    """The same through attention_reference, computed in `dtype`."""
    q, k, v = (t.detach().to(dtype).requires_grad_() for t in (q, k, v))
    out = attention_reference(q, k, v, **kw)
    out.backward(dout.to(dtype))
    return out.detach(), q.grad, k.grad, v.grad


def run_cpu(q, k, v, dout, **kw):
    """The same through the CPU kernel (fastembed.ops.attention on CPU float32 tensors)."""
    q, k, v = (t.detach().cpu().float().requires_grad_() for t in (q, k, v))
    kw = {key: (x.cpu() if isinstance(x, torch.Tensor) else x) for key, x in kw.items()}
    out = ops.attention(q, k, v, **kw)
    out.backward(dout.cpu().float())
    return out.detach(), q.grad, k.grad, v.grad


NAMES = ("out", "dq", "dk", "dv")


def assert_fp32_close(ours, ref, rtol=1e-5):
    """max |ours - ref| <= rtol · max(max |ref|, 1), per tensor (inputs are unit-scale randn)."""
    for name, a, r in zip(NAMES, ours, ref):
        assert not torch.isnan(a).any(), f"{name} has NaN"
        if r.numel() == 0:
            continue
        err = (a.double().cpu() - r.double().cpu()).abs().max().item()
        tol = rtol * max(r.abs().max().item(), 1.0)
        assert err <= tol, f"{name}: max error {err:.3g} > {tol:.3g}"


def assert_lowp_close(ours, lowp, ref, eps=1e-4):
    """|ours - ref64| <= 2 · |torch_lowp - ref64| + eps · max |ref64| (max norms, per tensor)."""
    for name, a, lo, r in zip(NAMES, ours, lowp, ref):
        assert not torch.isnan(a).any(), f"{name} has NaN"
        if r.numel() == 0:
            continue
        err = (a.double().cpu() - r.cpu()).abs().max().item()
        base = (lo.double().cpu() - r.cpu()).abs().max().item()
        bound = 2 * base + eps * r.abs().max().item()
        assert err <= bound, f"{name}: error {err:.3g} > 2 x torch's {base:.3g} + eps"


def kernel_mask(B, H, Tq, Tk, p, seed, device):
    """fastembed.ops.dropout_mask (the kernels' keep-mask) as a bool tensor."""
    return torch.as_tensor(ops.dropout_mask(B, H, Tq, Tk, p, seed), device=device)


def keep_mask_from_philox(B, H, Tq, Tk, p, seed, offset):
    """The keep-mask of params.h built straight from the CPU Philox stream (independently of
    ops.dropout_mask), for an arbitrary stream offset."""
    t = p * 4294967296.0
    thr = 4294967295 if t >= 4294967295.0 else int(t)
    mask = np.empty((B, H, Tq, Tk), dtype=bool)
    for b in range(B):
        for h in range(H):
            for i in range(Tq):
                sub = (offset + (b * H + h) * Tq + i) % 2**64
                mask[b, h, i] = _native.philox_u32(seed, Tk, subsequence=sub) >= thr
    return torch.from_numpy(mask)


# ---------------------------------------------------------------------------------------------
# fp32 against float64 and the CPU kernel


@pytest.mark.parametrize("layout", ["bthd", "bhtd"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("D", [16, 64, 80, 128])
def test_fp32_matches_float64_and_the_cpu_kernel(gpu, D, causal, layout):
    q, k, v, g = qkv_dout(gpu, 2, 3, 37, 45, D, torch.float32, layout, seed=D)
    ours = run_ours(gpu, q, k, v, g, causal=causal, layout=layout)
    assert_fp32_close(ours, run_ref(q, k, v, g, causal=causal, layout=layout))
    assert_fp32_close(ours, run_cpu(q, k, v, g, causal=causal, layout=layout))


@pytest.mark.parametrize("Tq,Tk", [(1, 50), (45, 37), (64, 64), (65, 130), (130, 65), (200, 3)])
def test_fp32_causal_shapes(gpu, Tq, Tk):
    # Tq > Tk: the first Tq - Tk query rows see no key (bottom-right alignment).
    q, k, v, g = qkv_dout(gpu, 2, 2, Tq, Tk, 64, torch.float32, seed=Tq + Tk)
    ours = run_ours(gpu, q, k, v, g, causal=True)
    assert_fp32_close(ours, run_cpu(q, k, v, g, causal=True))
    if Tq > Tk:
        blind = slice(0, Tq - Tk)
        assert torch.equal(ours[0][:, blind], torch.zeros_like(ours[0][:, blind]))
        assert torch.equal(ours[1][:, blind], torch.zeros_like(ours[1][:, blind]))
        seen = slice(Tq - Tk, Tq)
        ref = run_ref(q[:, seen], k, v, g[:, seen], causal=True)
        assert_fp32_close((ours[0][:, seen], ours[1][:, seen], ours[2], ours[3]), ref)
    else:
        assert_fp32_close(ours, run_ref(q, k, v, g, causal=True))


@pytest.mark.parametrize("D", [1, 3, 32, 33, 200, 256])
def test_fp32_head_dims(gpu, D):
    # Every D in [1, 256] runs on the next template size (32, 64, 128, 256), zero-padded.
    q, k, v, g = qkv_dout(gpu, 1, 2, 70, 33, D, torch.float32, seed=D)
    assert_fp32_close(run_ours(gpu, q, k, v, g), run_ref(q, k, v, g))


# ---------------------------------------------------------------------------------------------
# Masks


def test_lengths(gpu):
    q, k, v, g = qkv_dout(gpu, 3, 2, 33, 47, 64, torch.float32, seed=1)
    lengths = torch.tensor([47, 20, 1], dtype=torch.int64)
    assert_fp32_close(run_ours(gpu, q, k, v, g, lengths=lengths), run_ref(q, k, v, g, lengths=lengths.to(q.device)))


def test_key_padding_mask(gpu):
    q, k, v, g = qkv_dout(gpu, 2, 2, 33, 47, 64, torch.float32, seed=2)
    mask = torch.rand(2, 47, generator=torch.Generator().manual_seed(3)) < 0.3
    mask[:, 0] = False  # every row keeps a key: the reference stays finite
    ours = run_ours(gpu, q, k, v, g, key_padding_mask=mask)
    assert_fp32_close(ours, run_ref(q, k, v, g, key_padding_mask=mask.to(q.device)))
    assert_fp32_close(ours, run_cpu(q, k, v, g, key_padding_mask=mask))


@pytest.mark.parametrize("causal", [False, True])
def test_lengths_and_padding_together(gpu, causal):
    q, k, v, g = qkv_dout(gpu, 2, 2, 30, 47, 128, torch.float32, seed=4)
    lengths = torch.tensor([40, 33], dtype=torch.int64)
    mask = torch.zeros(2, 47, dtype=torch.bool)
    mask[0, 5:12] = True
    mask[1, 20:] = True  # past the length as well: the kernel skips those blocks
    ours = run_ours(gpu, q, k, v, g, causal=causal, lengths=lengths, key_padding_mask=mask)
    kw = dict(causal=causal, lengths=lengths.to(q.device), key_padding_mask=mask.to(q.device))
    assert_fp32_close(ours, run_ref(q, k, v, g, **kw))
    assert_fp32_close(ours, run_cpu(q, k, v, g, **kw))


def test_fully_masked_rows_are_zero(gpu):
    # Batch 0 is normal, batch 1 has length 0, batch 2 has every key padded.
    B, H, T, D = 3, 2, 21, 64
    q, k, v, g = qkv_dout(gpu, B, H, T, T, D, torch.float32, seed=5)
    lengths = torch.tensor([T, 0, T], dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.bool)
    mask[2] = True
    out, dq, dk, dv = run_ours(gpu, q, k, v, g, lengths=lengths, key_padding_mask=mask)
    for t in (out, dq, dk, dv):
        assert not torch.isnan(t).any()
        assert torch.equal(t[1:], torch.zeros_like(t[1:]))
    ref = run_ref(q[:1], k[:1], v[:1], g[:1])
    assert_fp32_close((out[:1], dq[:1], dk[:1], dv[:1]), ref)


def test_empty_sequences(gpu):
    q, k, v, g = qkv_dout(gpu, 2, 2, 0, 9, 64, torch.float32)
    out, dq, dk, dv = run_ours(gpu, q, k, v, g)
    assert out.shape == (2, 0, 2, 64) and dq.shape == (2, 0, 2, 64)
    assert torch.equal(dk, torch.zeros_like(dk)) and torch.equal(dv, torch.zeros_like(dv))

    q, k, v, g = qkv_dout(gpu, 2, 2, 7, 0, 64, torch.float32)
    out, dq, dk, dv = run_ours(gpu, q, k, v, g)
    assert torch.equal(out, torch.zeros_like(out)) and torch.equal(dq, torch.zeros_like(dq))
    assert dk.shape == (2, 0, 2, 64) and dv.shape == (2, 0, 2, 64)


# ---------------------------------------------------------------------------------------------
# Dropout


@pytest.mark.parametrize("causal,lengths", [(False, None), (True, [30, 41])])
@pytest.mark.parametrize("D", [64, 128])
def test_dropout_matches_reference_with_kernel_mask(gpu, D, causal, lengths):
    B, H, Tq, Tk, p, seed = 2, 2, 37, 41, 0.3, 1234
    q, k, v, g = qkv_dout(gpu, B, H, Tq, Tk, D, torch.float32, seed=6)
    lens = None if lengths is None else torch.tensor(lengths, dtype=torch.int64)
    ours = run_ours(gpu, q, k, v, g, causal=causal, lengths=lens, dropout_p=p, dropout_seed=seed)
    mask = kernel_mask(B, H, Tq, Tk, p, seed, q.device)
    lens = None if lens is None else lens.to(q.device)
    assert_fp32_close(ours, run_ref(q, k, v, g, causal=causal, lengths=lens, dropout_mask=mask, dropout_p=p))
    assert_fp32_close(ours, run_cpu(q, k, v, g, causal=causal, lengths=lens, dropout_p=p, dropout_seed=seed))


def test_dropout_is_seeded(gpu):
    q, k, v, g = qkv_dout(gpu, 2, 2, 29, 29, 64, torch.float32, seed=7)
    a = run_ours(gpu, q, k, v, g, dropout_p=0.5, dropout_seed=11)
    b = run_ours(gpu, q, k, v, g, dropout_p=0.5, dropout_seed=11)
    c = run_ours(gpu, q, k, v, g, dropout_p=0.5, dropout_seed=12)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


def _forward_kwargs(gpu, tensors, **over):
    """Keyword arguments of attention_forward for tensors (q, k, v, out, lse), fp32, overridden by `over`."""
    q, k, v, out, lse = tensors
    kw = dict(q=q.data_ptr(), k=k.data_ptr(), v=v.data_ptr(), out=out.data_ptr(), lse=lse.data_ptr(), B=q.shape[0],
              H=q.shape[2], Tq=q.shape[1], Tk=k.shape[1], D=q.shape[3], q_strides=strides3(q),
              k_strides=strides3(k), v_strides=strides3(v), out_strides=strides3(out), dtype="float32",
              causal=False, scale=q.shape[3]**-0.5, dropout_p=0.0, seed=0, offset=0, key_lengths=0, key_padding=0,
              key_padding_sb=0, stream=gpu.stream())
    kw.update(over)
    return kw


def test_dropout_offset_through_bindings(gpu):
    # The stream offset is part of the contract (params.h) even where the Python op passes 0.
    B, H, Tq, Tk, D, p, seed, offset = 2, 2, 19, 23, 32, 0.25, 2**40 + 3, 2**63 + 5
    q, k, v, g = qkv_dout(gpu, B, H, Tq, Tk, D, torch.float32, seed=8)
    out = torch.full_like(q, math.nan)
    lse = torch.full((B, H, Tq), math.nan, device=gpu.device)
    dq, dk, dv = torch.full_like(q, math.nan), torch.full_like(k, math.nan), torch.full_like(v, math.nan)
    common = _forward_kwargs(gpu, (q, k, v, out, lse), dropout_p=p, seed=seed, offset=offset)
    gpu.module.attention_forward(**common)
    gpu.module.attention_backward(dout=g.data_ptr(), dq=dq.data_ptr(), dk=dk.data_ptr(), dv=dv.data_ptr(),
                                  dout_strides=strides3(g), dq_strides=strides3(dq), dk_strides=strides3(dk),
                                  dv_strides=strides3(dv), **common)
    gpu.sync()
    mask = keep_mask_from_philox(B, H, Tq, Tk, p, seed, offset).to(gpu.device)
    assert_fp32_close((out, dq, dk, dv), run_ref(q, k, v, g, dropout_mask=mask, dropout_p=p))


# ---------------------------------------------------------------------------------------------
# fp16 / bf16: error-relative bounds


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("D", [16, 64, 80, 128])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_within_twice_torch_error(gpu, dtype, D, causal):
    q, k, v, g = qkv_dout(gpu, 2, 4, 129, 257, D, dtype, seed=9)
    lengths = torch.tensor([257, 100], dtype=torch.int64)
    ours = run_ours(gpu, q, k, v, g, causal=causal, lengths=lengths)
    assert all(t.dtype == dtype for t in ours)
    kw = dict(causal=causal, lengths=lengths.to(q.device))
    assert_lowp_close(ours, run_ref(q, k, v, g, dtype=dtype, **kw), run_ref(q, k, v, g, **kw))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_dropout_and_padding(gpu, dtype):
    B, H, T, D, p, seed = 2, 2, 65, 64, 0.2, 77
    q, k, v, g = qkv_dout(gpu, B, H, T, T, D, dtype, seed=10)
    pad = torch.zeros(B, T, dtype=torch.bool)
    pad[1, 50:] = True
    ours = run_ours(gpu, q, k, v, g, causal=True, key_padding_mask=pad, dropout_p=p, dropout_seed=seed)
    mask = kernel_mask(B, H, T, T, p, seed, q.device)
    kw = dict(causal=True, key_padding_mask=pad.to(q.device), dropout_mask=mask, dropout_p=p)
    assert_lowp_close(ours, run_ref(q, k, v, g, dtype=dtype, **kw), run_ref(q, k, v, g, **kw))


# ---------------------------------------------------------------------------------------------
# Strides


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_packed_qkv_is_read_in_place(gpu, dtype):
    # A fused projection (B, T, 3, H, D) sliced into q, k, v: strides (T·3·H·D, 3·H·D, D).
    B, T, H, D = 2, 50, 3, 64
    qkv = randn((B, T, 3, H, D), dtype, 11, gpu.device)
    g = randn((B, T, H, D), dtype, 12, gpu.device)
    q, k, v = qkv.unbind(2)
    assert q.stride() == (T * 3 * H * D, 3 * H * D, D, 1)
    ours = run_ours(gpu, q, k, v, g, causal=True)
    parts = [t.contiguous() for t in (q, k, v)]
    ref = run_ref(*parts, g, causal=True)
    if dtype == torch.float32:
        assert_fp32_close(ours, ref)
    else:
        assert_lowp_close(ours, run_ref(*parts, g, dtype=dtype, causal=True), ref)


def test_strided_output_gradient(gpu):
    # dout that is not contiguous (a transposed view) must be read through its strides.
    q, k, v, _ = qkv_dout(gpu, 2, 2, 31, 31, 64, torch.float32, seed=13)
    g = randn((2, 2, 31, 64), torch.float32, 14, gpu.device).transpose(1, 2)
    assert not g.is_contiguous()
    assert_fp32_close(run_ours(gpu, q, k, v, g), run_ref(q, k, v, g))


# ---------------------------------------------------------------------------------------------
# Determinism, lse, argument errors


def test_backward_is_bitwise_deterministic(gpu):
    q, k, v, g = qkv_dout(gpu, 2, 4, 200, 200, 64, torch.float16, seed=15)
    a = run_ours(gpu, q, k, v, g, causal=True)
    b = run_ours(gpu, q, k, v, g, causal=True)
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_lse_through_bindings(gpu):
    B, H, Tq, Tk, D = 2, 3, 9, 12, 64
    q, k, v, _ = qkv_dout(gpu, B, H, Tq, Tk, D, torch.float32, seed=16)
    lengths = torch.tensor([12, 0], dtype=torch.int64, device=gpu.device)
    out = torch.full_like(q, math.nan)
    lse = torch.full((B, H, Tq), math.nan, device=gpu.device)
    gpu.module.attention_forward(**_forward_kwargs(gpu, (q, k, v, out, lse), causal=True,
                                                   key_lengths=lengths.data_ptr()))
    gpu.sync()
    s = torch.einsum("bihd,bjhd->bhij", q.double(), k.double()) * D**-0.5
    i, j = torch.arange(Tq, device=gpu.device)[:, None], torch.arange(Tk, device=gpu.device)[None, :]
    visible = (j <= i + (Tk - Tq))[None, None] & (j < lengths.view(B, 1, 1, 1))
    want = torch.logsumexp(s.masked_fill(~visible, -math.inf), dim=-1)
    assert torch.equal(torch.isinf(lse), torch.isinf(want)) and (lse[1] == -math.inf).all()
    finite = torch.isfinite(want)
    assert (lse.double()[finite] - want[finite]).abs().max().item() < 1e-5
    assert torch.equal(out[1], torch.zeros_like(out[1]))


def test_backward_with_no_queries_zeroes_dk_dv(gpu):
    B, H, Tk, D = 1, 2, 9, 32
    k, v = randn((B, Tk, H, D), torch.float32, 17, gpu.device), randn((B, Tk, H, D), torch.float32, 18, gpu.device)
    dk, dv = torch.full_like(k, math.nan), torch.full_like(v, math.nan)
    z = (0, 0, 0)
    gpu.module.attention_backward(
        dout=0, q=0, k=k.data_ptr(), v=v.data_ptr(), out=0, lse=0, dq=0, dk=dk.data_ptr(), dv=dv.data_ptr(), B=B,
        H=H, Tq=0, Tk=Tk, D=D, dout_strides=z, q_strides=z, k_strides=strides3(k), v_strides=strides3(v),
        out_strides=z, dq_strides=z, dk_strides=strides3(dk), dv_strides=strides3(dv), dtype="float32",
        causal=False, scale=1.0, dropout_p=0.0, seed=0, offset=0, key_lengths=0, key_padding=0, key_padding_sb=0,
        stream=gpu.stream())
    gpu.sync()
    assert torch.equal(dk, torch.zeros_like(dk)) and torch.equal(dv, torch.zeros_like(dv))


@pytest.mark.parametrize("over,exc,match", [
    (dict(q=0), ValueError, "argument 'q' is a null pointer"),
    (dict(key_lengths="host"), TypeError, "argument 'key_lengths' must be an integer"),
    (dict(q_strides=(1, 2)), ValueError, "argument 'q_strides' must have 3 items"),
    (dict(k_strides=(1, 2, 3.5)), TypeError, r"argument 'k_strides\[2\]' must be an integer"),
    (dict(dtype="float64"), TypeError, "argument 'dtype'"),
    (dict(causal=1), TypeError, "argument 'causal' must be a bool"),
    (dict(dropout_p=1.0), ValueError, "dropout_p"),
    (dict(D=257), ValueError, "D=257"),
    (dict(Tq=-1), ValueError, "argument 'Tq'"),
])
def test_binding_argument_errors(gpu, over, exc, match):
    q = randn((1, 8, 1, 64), torch.float32, 20, gpu.device)
    out, lse = torch.empty_like(q), torch.empty((1, 1, 8), device=gpu.device)
    with pytest.raises(exc, match=match):
        gpu.module.attention_forward(**_forward_kwargs(gpu, (q, q, q, out, lse), **over))


# ---------------------------------------------------------------------------------------------
# The library's CUDA path (needs a GPU): CUDA tensors into fastembed.ops.attention.


@pytest.mark.cuda
def test_ops_attention_routes_cuda_tensors_with_autograd():
    B, T, H, D = 2, 50, 3, 64
    qkv = randn((B, T, 3, H, D), torch.bfloat16, 11, "cuda").requires_grad_()
    g = randn((B, T, H, D), torch.bfloat16, 12, "cuda")
    q, k, v = qkv.unbind(2)
    out = ops.attention(q, k, v, causal=True)
    out.backward(g)
    dq, dk, dv = qkv.grad.unbind(2)
    parts = [t.detach().contiguous() for t in (q, k, v)]
    assert_lowp_close((out.detach(), dq, dk, dv), run_ref(*parts, g, dtype=torch.bfloat16, causal=True),
                      run_ref(*parts, g, causal=True))


@pytest.mark.cuda
def test_ops_attention_bad_cuda_inputs():
    q = randn((1, 8, 2, 64), torch.float32, 1, "cuda")
    with pytest.raises((TypeError, ValueError)):
        ops.attention(q, q.cpu(), q)
    big = randn((1, 4, 1, 300), torch.float32, 19, "cuda")
    with pytest.raises(ValueError, match="300"):
        ops.attention(big, big, big)


@pytest.mark.cuda
def test_binding_rejects_host_memory():
    q = randn((1, 8, 1, 64), torch.float32, 21, "cuda")
    out, lse = torch.empty_like(q), torch.empty((1, 1, 8), device="cuda")
    host = np.zeros(8, dtype=np.int64)
    with pytest.raises(ValueError, match="argument 'key_lengths' .* is not CUDA device memory"):
        _native._C_cuda.attention_forward(
            **_forward_kwargs(Backend("cuda"), (q, q, q, out, lse), key_lengths=host.ctypes.data))
