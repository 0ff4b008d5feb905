"""The few-row product against column-panel-packed weights (csrc/nn/panel_linear.h) against the
float64 product of the unpacked weight; CI runs this file once per dispatch level."""

import numpy as np
import pytest
import torch

import fastembed
from fastembed._native import _C
from fastembed.ops.panel import PANEL, pack_panels, panel_linear, panel_linear_reference

U = 2.0 ** -24  # float32's unit roundoff


def rand(*shape, scale=1.0, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def assert_within_sum_bound(y, x, w, b):
    """|y - exact| <= (K + 2)·u·(|x|·|W|ᵀ + |b|) elementwise: the bound of a K-term float32 sum
    with the bias added last, whatever the order (Higham, Accuracy and Stability, §3.1)."""
    ref = panel_linear_reference(x, w, b)
    mag = x.double().abs() @ w.double().abs().T + (0 if b is None else b.double().abs())
    bound = (x.shape[1] + 2) * U * mag + 1e-30
    err = (y.double() - ref).abs()
    assert (err <= bound).all(), f"max error {err.max().item():.3g}, max error/bound {(err / bound).max().item():.3g}"


@pytest.mark.parametrize("M", [1, 2, 3, 7, 8, 9, 16, 17, 40])
@pytest.mark.parametrize("N,K", [(1, 1), (31, 5), (32, 64), (33, 200), (97, 768)])
def test_matches_the_float64_product(M, N, K):
    x, w, b = rand(M, K, seed=1), rand(N, K, scale=0.1, seed=2), rand(N, seed=3)
    y = panel_linear(x, pack_panels(w), N, b)
    assert y.shape == (M, N) and y.dtype == torch.float32
    assert_within_sum_bound(y, x, w, b)
    assert_within_sum_bound(panel_linear(x, pack_panels(w), N), x, w, None)


def test_gpt2_shapes_are_close_to_torch():
    x, w, b = rand(8, 768, seed=4), rand(2304, 768, scale=0.02, seed=5), rand(2304, scale=0.02, seed=6)
    y = panel_linear(x, pack_panels(w), 2304, b)
    torch.testing.assert_close(y, torch.nn.functional.linear(x, w, b), rtol=1e-5, atol=2e-6)
    assert_within_sum_bound(y, x, w, b)


def test_packing_layout():
    w = torch.arange(35 * 3, dtype=torch.float32).view(35, 3)        # out 35, in 3: two panels
    p = pack_panels(w)
    assert p.shape == (2, 3, PANEL) and p.is_contiguous()
    assert torch.equal(p[0], w[:32].T) and torch.equal(p[1, :, :3], w[32:].T)
    assert not p[1, :, 3:].any()                                      # zeros past the last output


def test_strided_rows_and_no_bias():
    big = rand(6, 100, seed=7)
    x = big[:, 10:74]                                                 # row stride 100, 64 columns
    w = rand(40, 64, seed=8)
    assert_within_sum_bound(panel_linear(x, pack_panels(w), 40), x.contiguous(), w, None)
    assert torch.equal(panel_linear(x, pack_panels(w), 40), panel_linear(x.contiguous(), pack_panels(w), 40))


def test_no_rows():
    assert panel_linear(torch.zeros(0, 8), pack_panels(rand(5, 8)), 5).shape == (0, 5)


def test_a_non_finite_input_stays_in_its_row():
    x, w = rand(4, 16, seed=9), rand(40, 16, seed=10)
    x[2, 3] = float("nan")
    y = panel_linear(x, pack_panels(w), 40)
    assert y[2].isnan().all() and y[[0, 1, 3]].isfinite().all()


def test_results_do_not_depend_on_the_thread_count():
    x, w, b = rand(8, 768, seed=11), rand(3000, 768, scale=0.02, seed=12), rand(3000, seed=13)
    p = pack_panels(w)
    outs = []
    before = fastembed.get_num_threads()
    try:
        for n in (1, 2, 3):
            fastembed.set_num_threads(n)
            outs.append(panel_linear(x, p, 3000, b))
    finally:
        fastembed.set_num_threads(before)
    assert all(torch.equal(o, outs[0]) for o in outs[1:])


def test_bad_arguments_are_clear_errors():
    x, p = np.zeros((2, 8), np.float32), pack_panels(rand(40, 8)).numpy()
    y, b = np.zeros((2, 40), np.float32), np.zeros(40, np.float32)
    with pytest.raises(ValueError, match=r"'packed' must have shape \(panels, 9, 32\) for x with 9 columns, "
                                         r"got \(2, 8, 32\)"):
        _C.panel_linear(np.zeros((2, 9), np.float32), p, b, np.zeros((2, 40), np.float32))
    with pytest.raises(ValueError, match="needs 1"):
        _C.panel_linear(x, p, None, np.zeros((2, 30), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.panel_linear(x, np.ascontiguousarray(p.transpose(1, 0, 2)).transpose(1, 0, 2), b, y)
    with pytest.raises(ValueError, match="2 rows"):
        _C.panel_linear(x, p, b, np.zeros((3, 40), np.float32))
    with pytest.raises(ValueError, match=r"'bias' must have shape \(40,\)"):
        _C.panel_linear(x, p, np.zeros(39, np.float32), y)
    with pytest.raises(ValueError, match="must not overlap"):
        buf = np.zeros((2, 48), np.float32)
        _C.panel_linear(buf[:, :8], pack_panels(rand(40, 8)).numpy(), None, buf[:, 8:])
    with pytest.raises(TypeError):
        _C.panel_linear(x.astype(np.float64), p, b, y)
    with pytest.raises(TypeError, match="2-D float32 CPU tensor"):
        panel_linear(torch.zeros(2, 8, dtype=torch.float64), torch.from_numpy(p), 40)
    with pytest.raises(TypeError, match="2-D tensor"):
        pack_panels(torch.zeros(3))


@pytest.mark.parametrize("M,N,K", [(1, 33, 64), (8, 3072, 768), (11, 97, 200)])
def test_gelu_tanh_epilogue_matches_float64(M, N, K):
    """GELU's tanh form on z = x·Wᵀ + b: the sum's bound carried through GELU (|GELU'| <= 1.13),
    plus the epilogue's own rounding (4e-7·|z|, decode.h / panel_linear.h)."""
    x, w, b = rand(M, K, seed=21), rand(N, K, scale=0.1, seed=22), rand(N, seed=23)
    y = panel_linear(x, pack_panels(w), N, b, epilogue="gelu_tanh")
    ref = panel_linear_reference(x, w, b, epilogue="gelu_tanh")
    z = panel_linear_reference(x, w, b)
    mag = x.double().abs() @ w.double().abs().T + b.double().abs()
    bound = 1.13 * (K + 2) * U * mag + 4e-7 * z.abs() + 1e-30
    err = (y.double() - ref).abs()
    assert (err <= bound).all(), f"max error/bound {(err / bound).max().item():.3g}"
    assert (y < 0).any() and (y > 0).any()                      # both sides of GELU are exercised


def test_gelu_tanh_epilogue_at_the_extremes():
    z = torch.tensor([[0.0, -0.0, 1e-20, -1e-20, 3.0, -3.0, 12.0, -12.0, 60.0, -60.0, 1e30, -1e30,
                       float("inf"), float("nan")]])
    n = z.shape[1]
    x, w = torch.ones(1, 1), torch.zeros(n, 1)                  # z = 0 + bias: the epilogue alone
    y = panel_linear(x, pack_panels(w), n, z[0], epilogue="gelu_tanh")[0]
    ref = torch.nn.functional.gelu(z[0].double(), approximate="tanh")
    finite = ref.isfinite()
    assert torch.allclose(y.double()[finite], ref[finite], rtol=4e-7, atol=1e-37)
    assert y[-2] == float("inf") and y[-1].isnan()
    assert y[9] == 0 and y[11] == 0                              # far left: exactly zero, not NaN


def test_accumulate_epilogue_adds_into_out():
    x, w, b = rand(5, 300, seed=24), rand(70, 300, scale=0.1, seed=25), rand(70, seed=26)
    h = rand(5, 70, seed=27)
    out = h.clone()
    y = panel_linear(x, pack_panels(w), 70, b, epilogue="accumulate", out=out)
    assert y is out
    ref = panel_linear_reference(x, w, b, epilogue="accumulate", out=h)
    mag = x.double().abs() @ w.double().abs().T + b.double().abs() + h.double().abs()
    assert ((y.double() - ref).abs() <= (300 + 3) * U * mag + 1e-30).all()
    # bitwise what "store" then an add in PyTorch gives: y = h + (x·W + b), one rounding each
    assert torch.equal(y, h + panel_linear(x, pack_panels(w), 70, b))


def test_bad_epilogues_are_clear_errors():
    x, p = torch.zeros(2, 8), pack_panels(rand(40, 8))
    with pytest.raises(ValueError, match="epilogue must be one of"):
        panel_linear(x, p, 40, epilogue="relu")
    with pytest.raises(ValueError, match="pass out="):
        panel_linear(x, p, 40, epilogue="accumulate")
    with pytest.raises(TypeError, match="out must be a float32 CPU tensor of shape"):
        panel_linear(x, p, 40, out=torch.zeros(2, 39))
    with pytest.raises(ValueError, match=r"'epilogue' must be 0 \(store\), 1 \(accumulate\) or 2"):
        _C.panel_linear(x.numpy(), p.numpy(), None, np.zeros((2, 40), np.float32), 3)
