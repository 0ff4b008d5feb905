"""Blockwise linear + cross-entropy against autograd through the full logits, in float64."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from fastembed.models.loss import linear_cross_entropy  # noqa: E402


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("block_rows", [1, 16, 64, 1000])
def test_matches_full_logits(bias, block_rows):
    g = torch.Generator().manual_seed(block_rows)
    N, C, V = 70, 12, 301
    h = torch.randn(N, C, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(V, C, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(V, generator=g, dtype=torch.float64, requires_grad=True) if bias else None
    t = torch.randint(0, V, (N,), generator=g)
    t[::5] = -100                                        # ignored rows
    loss, correct = linear_cross_entropy(h, w, t, bias=b, block_rows=block_rows)
    (1.7 * loss).backward()
    got = [x.grad.clone() for x in (h, w, b) if x is not None]
    for x in (h, w, b):
        if x is not None:
            x.grad = None
    logits = h @ w.t() + (b if bias else 0)
    ref = F.cross_entropy(logits, t, ignore_index=-100, reduction="sum")
    (1.7 * ref).backward()
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=1e-10)
    for a, x in zip(got, [x for x in (h, w, b) if x is not None]):
        torch.testing.assert_close(a, x.grad, rtol=1e-10, atol=1e-12)
    scored = t != -100
    assert int(correct) == int((logits.argmax(1)[scored] == t[scored]).sum())


def test_no_grad_path_and_float32():
    g = torch.Generator().manual_seed(0)
    h, w = torch.randn(33, 8, generator=g), torch.randn(50, 8, generator=g)
    t = torch.randint(0, 50, (33,), generator=g)
    with torch.no_grad():
        loss, _ = linear_cross_entropy(h, w, t, block_rows=5)
    torch.testing.assert_close(loss, F.cross_entropy(h @ w.t(), t, reduction="sum"), rtol=1e-5, atol=1e-4)


def test_shape_errors():
    with pytest.raises(ValueError, match="weight \\(V, C\\)"):
        linear_cross_entropy(torch.zeros(3, 4), torch.zeros(5, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="targets must be"):
        linear_cross_entropy(torch.zeros(3, 4), torch.zeros(5, 4), torch.zeros(2, dtype=torch.long))
