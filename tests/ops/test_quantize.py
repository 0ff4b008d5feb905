"""The int8 path's native pieces (csrc/nn/quantize.h and the epilogues' row_scale) against plain
PyTorch, and the int8 layer's oneDNN product against torch._int_mm's."""

import numpy as np
import pytest
import torch

from fastembed._native import _C
from fastembed.ops import epilogue
from fastembed.ops._reference import bias_gelu_reference, bias_residual_layer_norm_reference
from fastembed.ops.quantize import quantize_rows, quantize_rows_reference


def rand(*shape, scale=1.0, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


@pytest.mark.parametrize("rows,cols", [(0, 8), (1, 1), (3, 13), (64, 384), (33, 1536)])
@pytest.mark.parametrize("scaled", [False, True])
def test_quantize_rows_equals_the_pytorch_expression_bit_for_bit(rows, cols, scaled):
    x = rand(rows, cols, scale=3.0) * torch.rand(rows, 1, generator=torch.Generator().manual_seed(5))
    if rows > 2:
        x[1] = 0.0                                        # an all-zero row: scale 0, codes 0
        x[2, 0] = 1e-38                                   # a denormal-scale row
    cs = torch.rand(cols, generator=torch.Generator().manual_seed(6)) + 0.5 if scaled else None
    q, s = quantize_rows(x, cs)
    qr, sr = quantize_rows_reference(x, cs)
    assert q.dtype == torch.int8 and s.shape == (rows, 1)
    assert torch.equal(q, qr) and torch.equal(s, sr)
    if rows > 2:
        assert s[1].item() == 0.0 and not q[1].any()
    if rows:
        assert q.abs().amax(1).le(127).all() and q.abs().amax(1)[s.view(-1) > 0].eq(127).all()


def test_quantize_rows_reconstructs_within_half_a_step():
    x = rand(50, 200, scale=4.0)
    q, s = quantize_rows(x)
    assert ((q.float() * s - x).abs() <= s / 2 * (1 + 1e-5)).all()


def test_a_non_finite_row_comes_out_nan_not_garbage():
    x = rand(4, 9)
    x[1, 3], x[2, 0] = float("nan"), float("inf")
    q, s = quantize_rows(x)
    assert torch.isnan(s[1:3]).all() and not q[1:3].any()
    assert torch.isfinite(s[[0, 3]]).all()


def test_quantize_rows_reads_a_row_stride_and_refuses_bad_arguments():
    base = rand(6, 40)
    q, s = quantize_rows(base[:, 5:30])
    qr, sr = quantize_rows_reference(base[:, 5:30].contiguous())
    assert torch.equal(q, qr) and torch.equal(s, sr)
    with pytest.raises(TypeError, match="2-D float32 CPU tensor"):
        quantize_rows(base.double())
    with pytest.raises(ValueError, match="col_scale.*shape \\(40,\\)"):
        quantize_rows(base, torch.ones(7))
    with pytest.raises(ValueError, match="'q' must have the shape"):
        _C.quantize_rows_s8(base.numpy(), None, np.zeros((6, 39), np.int8), np.zeros(6, np.float32))
    with pytest.raises(ValueError, match="'row_scale' must have shape \\(6,\\)"):
        _C.quantize_rows_s8(base.numpy(), None, np.zeros((6, 40), np.int8), np.zeros(5, np.float32))


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 13), (40, 384)])
def test_epilogues_apply_the_row_scale_first(rows, cols):
    y, r = rand(rows, cols, scale=50.0), rand(rows, cols, seed=1)
    b, g, beta = rand(cols, seed=2), rand(cols, seed=3), rand(cols, seed=4)
    s = torch.rand(rows, 1, generator=torch.Generator().manual_seed(7)) * 0.05
    ys = y.double() * s.double()
    with torch.no_grad():
        torch.testing.assert_close(epilogue.bias_(y.clone(), b, s).double(), ys + b.double(), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(epilogue.bias_gelu_(y.clone(), b, s).double(),
                                   bias_gelu_reference(ys, b.double()), rtol=1e-6, atol=2e-6)
        got = epilogue.bias_residual_layer_norm_(y.clone(), b, r, g, beta, 1e-12, row_scale=s)
    ref = bias_residual_layer_norm_reference(ys, b.double(), r.double(), g.double(), beta.double(), 1e-12)
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=1e-5)


def test_no_row_scale_is_bit_for_bit_the_old_epilogue():
    y, r = rand(9, 70, scale=3.0), rand(9, 70, seed=1)
    b, g, beta = rand(70, seed=2), rand(70, seed=3), rand(70, seed=4)
    ones = torch.ones(9)
    with torch.no_grad():
        assert torch.equal(epilogue.bias_gelu_(y.clone(), b), epilogue.bias_gelu_(y.clone(), b, ones))
        assert torch.equal(epilogue.bias_residual_layer_norm_(y.clone(), b, r, g, beta, 1e-5),
                           epilogue.bias_residual_layer_norm_(y.clone(), b, r, g, beta, 1e-5, row_scale=ones))
    with pytest.raises(ValueError, match="row_scale.*shape \\(9,\\)"):
        epilogue.bias_(y.clone(), b, torch.ones(8))


def test_int8_layer_onednn_and_int_mm_give_the_same_product(monkeypatch):
    from fastembed.models import precision as P

    lin = torch.nn.Linear(96, 40)
    x = rand(23, 96, scale=2.0)
    layer = P.Int8Linear(lin, input_amax=x.abs().amax(0))
    with torch.no_grad():
        fast = layer(x)
        monkeypatch.setattr(layer, "_pack", lambda: None)    # torch._int_mm instead of oneDNN
        plain = layer(x)
    # int32 sums are exact either way; the float rescale may round in another order
    torch.testing.assert_close(fast, plain, rtol=1e-6, atol=1e-6)
    if not P._onednn_int8_ok():
        pytest.skip("oneDNN's int8 linear is not usable here: only the torch._int_mm path ran")
