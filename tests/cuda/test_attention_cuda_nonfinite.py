"""NaN and inf in the inputs of the CUDA attention kernel reach exactly the output rows the
float64 reference says, and never through a masked key (the same cases as the CPU kernel's
tests/ops/test_attention_nonfinite.py, on every backend of tests/cuda/conftest.py)."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

from fastembed.ops._reference import attention_reference  # noqa: E402

from ..ops.test_attention_nonfinite import BAD, PLACES, case  # noqa: E402
from .test_attention_cuda import run_ours  # noqa: E402


@pytest.mark.parametrize("tensor,bad,place", list(itertools.product("qkv", BAD, PLACES)))
def test_non_finite_inputs_reach_the_rows_the_reference_says(gpu, tensor, bad, place):
    (q, k, v), kw = case(tensor, bad, place, torch.float64)
    want = attention_reference(q, k, v, exact_masking=True, **kw)
    dout = torch.zeros_like(q, dtype=torch.float32)
    got = run_ours(gpu, *(x.float().to(gpu.device) for x in (q, k, v)), dout.to(gpu.device), **kw)[0]
    got = got.double().cpu()
    assert torch.equal(torch.isnan(got), torch.isnan(want)), "NaN in different places"
    assert torch.equal(torch.isinf(got), torch.isinf(want)), "inf in different places"
    fin = torch.isfinite(want)
    torch.testing.assert_close(got[fin], want[fin], rtol=2e-5, atol=2e-5)


def test_rows_whose_visible_scores_are_all_minus_inf_are_nan_not_zero(gpu):
    q = torch.full((1, 3, 1, 4), float("-inf"))
    k, v = torch.ones(1, 3, 1, 4), torch.randn(1, 3, 1, 4)
    dout = torch.zeros(1, 3, 1, 4)
    out = run_ours(gpu, *(x.to(gpu.device) for x in (q, k, v, dout)))[0].cpu()
    assert torch.isnan(out).all()
    out = run_ours(gpu, *(x.to(gpu.device) for x in (q, k, v, dout)), lengths=torch.tensor([0]))[0].cpu()
    assert torch.equal(out, torch.zeros_like(out))   # no visible key at all: zeros, as before


@pytest.mark.parametrize("tensor,place", [("v", "padded-inside"), ("v", "past-length"), ("v", "causal-future"),
                                          ("k", "padded-inside"), ("k", "past-length")])
def test_gradients_of_a_masked_non_finite_value_match_the_reference(gpu, tensor, place):
    (q, k, v), kw = case(tensor, "nan", place, torch.float64)
    ref = [x.clone().requires_grad_() for x in (q, k, v)]
    dout = torch.randn(q.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    attention_reference(*ref, exact_masking=True, **kw).backward(dout)
    got = run_ours(gpu, *(x.float().to(gpu.device) for x in (q, k, v, dout)), **kw)
    for name, a, r in zip(("dq", "dk", "dv"), got[1:], ref):
        torch.testing.assert_close(a.double().cpu(), r.grad, rtol=5e-5, atol=5e-5, equal_nan=True, msg=name)
