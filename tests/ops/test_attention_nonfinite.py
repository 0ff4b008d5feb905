"""NaN and inf in attention inputs: they reach exactly the rows the float64 reference says
(a diverging run must show NaN, not zeros), and never through a masked key.

The semantics (fastembed.ops._reference.attention_reference): a NaN or inf in q, or in a key or
value that a row sees, reaches that row as in plain softmax math; a row whose visible scores are
all -inf gives NaN; a masked key (padding, lengths, the causal future) does not exist for the
rows it is hidden from, whatever its K and V hold. T = 80 spans two 64-key blocks of the CPU
kernel, so the causal diagonal block (partly hidden keys) and whole blocks are both exercised.
"""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

from fastembed.ops import attention  # noqa: E402
from fastembed.ops._reference import attention_reference  # noqa: E402

B, T, H, D = 2, 80, 2, 16
BAD = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
# where the bad value goes: (batch, time) and the masks that make it visible or not
PLACES = {
    "visible": dict(at=(0, 10)),
    "padded-inside": dict(at=(0, 10), pad=[10, 11]),
    "padded-at-end": dict(at=(1, 78), pad=[78, 79]),
    "past-length": dict(at=(1, 70), length=65),
    "causal-future": dict(at=(0, 70), causal=True),          # hidden from rows < 70, seen by rows >= 70
    "causal-first-block": dict(at=(0, 20), causal=True),
}


def case(tensor: str, bad: str, place: str, dtype):
    g = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(B, T, H, D, generator=g, dtype=torch.float64) for _ in range(3))
    spec = PLACES[place]
    b, t = spec["at"]
    {"q": q, "k": k, "v": v}[tensor][b, t, 1, 3] = BAD[bad]
    kw = {"causal": spec.get("causal", False)}
    if "pad" in spec:
        kpm = torch.zeros(B, T, dtype=torch.bool)
        kpm[b, spec["pad"]] = True
        kw["key_padding_mask"] = kpm
    if "length" in spec:
        kw["lengths"] = torch.tensor([T, spec["length"]] if b == 1 else [spec["length"], T])
    return (q, k, v), kw


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["fp64", "fp32"])
@pytest.mark.parametrize("tensor,bad,place", list(itertools.product("qkv", BAD, PLACES)))
def test_non_finite_inputs_reach_the_rows_the_reference_says(tensor, bad, place, dtype):
    (q, k, v), kw = case(tensor, bad, place, dtype)
    want = attention_reference(q, k, v, exact_masking=True, **kw)
    got = attention(q.to(dtype), k.to(dtype), v.to(dtype), **kw).double()
    assert torch.equal(torch.isnan(got), torch.isnan(want)), "NaN in different places"
    assert torch.equal(torch.isinf(got), torch.isinf(want)), "inf in different places"
    fin = torch.isfinite(want)
    tol = 1e-12 if dtype == torch.float64 else 2e-5
    torch.testing.assert_close(got[fin], want[fin], rtol=tol, atol=tol)
    if place == "visible" and (tensor != "k" or bad == "nan"):
        assert not torch.isfinite(want).all()   # the case means something: the bad value is seen


def test_rows_whose_visible_scores_are_all_minus_inf_are_nan_not_zero():
    q = torch.full((1, 3, 1, 4), float("-inf"), dtype=torch.float64)
    k = torch.ones(1, 3, 1, 4, dtype=torch.float64)
    v = torch.randn(1, 3, 1, 4, dtype=torch.float64)
    want = attention_reference(q, k, v)
    assert torch.isnan(want).all()
    assert torch.isnan(attention(q, k, v)).all() and torch.isnan(attention(q.float(), k.float(), v.float())).all()
    lengths = torch.tensor([0])   # no visible key at all: zeros, as before
    assert torch.equal(attention(q, k, v, lengths=lengths), torch.zeros_like(q))


@pytest.mark.parametrize("tensor,place", [("v", "padded-inside"), ("v", "past-length"), ("v", "causal-future"),
                                          ("k", "padded-inside"), ("k", "past-length")])
def test_gradients_of_a_masked_non_finite_value_match_the_reference(tensor, place):
    """A NaN in a padded key or value leaves every gradient finite; one in the causal future poisons only
    what the rows that see it touch (dQ of rows < 70 stays finite)."""
    (q, k, v), kw = case(tensor, "nan", place, torch.float64)
    ours = [x.clone().requires_grad_() for x in (q, k, v)]
    ref = [x.clone().requires_grad_() for x in (q, k, v)]
    dout = torch.randn(B, T, H, D, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    attention(*ours, **kw).backward(dout)
    attention_reference(*ref, exact_masking=True, **kw).backward(dout)
    for name, a, r in zip("qkv", ours, ref):
        torch.testing.assert_close(a.grad, r.grad, rtol=1e-10, atol=1e-10, equal_nan=True, msg=f"d{name}")
    if place == "causal-future":
        assert torch.isfinite(ours[0].grad[0, :70]).all() and not torch.isfinite(ours[0].grad[0, 70:]).all()
    else:
        assert all(torch.isfinite(x.grad).all() for x in ours)
