"""The fused layer epilogues (csrc/nn/epilogue.h) against float64 PyTorch, and the BERT inference
path that uses them against the ordinary autograd path."""

import warnings

import numpy as np
import pytest
import torch

import fastembed
from fastembed._native import _C
from fastembed.models import BertConfig, BertModel
from fastembed.ops import epilogue
from fastembed.ops._reference import bias_gelu_reference, bias_residual_layer_norm_reference


def rand(*shape, scale=1.0, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


@pytest.mark.parametrize("rows,cols", [(0, 8), (1, 1), (3, 13), (7, 64), (97, 1536)])
def test_bias_gelu_matches_float64(rows, cols):
    y, b = rand(rows, cols, scale=3.0), rand(cols, seed=1)
    ref = bias_gelu_reference(y.double(), b.double())
    with torch.no_grad():
        got = epilogue.bias_gelu_(y.clone(), b)
    # |error| < 2e-6 + 1e-6·|y|: a few float32 ulps where GELU(x) ~ x, and at most ~1e-6 where it is
    # near 0 (the 1 + erf cancellation for negative x, which PyTorch's kernel has too)
    torch.testing.assert_close(got.double(), ref, rtol=1e-6, atol=2e-6)


def test_bias_gelu_sweep_and_tails():
    x = torch.linspace(-12, 12, 200_001)
    ref = torch.nn.functional.gelu(x.double())
    got = x.clone()[None]
    _C.bias_gelu_(got.numpy(), np.zeros(x.numel(), np.float32))
    err = (got[0].double() - ref).abs()
    assert err.max() < 2e-6
    assert (got[0][x < -6] <= 0).all() and (got[0][x < -6] > -1e-7).all()   # the far negative tail is ~0
    assert torch.equal(got[0][x > 6], x[x > 6])                              # and the positive one is x


def test_bias_gelu_reads_a_row_stride():
    base = rand(5, 24, scale=2.0)
    view = base.numpy()[:, 4:17]                       # rows 24 apart, 13 columns
    b = rand(13, seed=2)
    expect = bias_gelu_reference(base[:, 4:17].double(), b.double())
    untouched = base.clone()
    _C.bias_gelu_(view, b.numpy())
    torch.testing.assert_close(base[:, 4:17].double(), expect, rtol=1e-6, atol=2e-6)
    assert torch.equal(base[:, :4], untouched[:, :4]) and torch.equal(base[:, 17:], untouched[:, 17:])


@pytest.mark.parametrize("rows,cols", [(0, 8), (1, 1), (3, 13), (7, 64), (97, 384)])
def test_bias_residual_layer_norm_matches_float64(rows, cols):
    y, r = rand(rows, cols, scale=2.0), rand(rows, cols, seed=1)
    b, g, beta = rand(cols, seed=2), rand(cols, seed=3), rand(cols, seed=4)
    ref = bias_residual_layer_norm_reference(*(t.double() for t in (y, b, r, g, beta)), 1e-12)
    with torch.no_grad():
        got = epilogue.bias_residual_layer_norm_(y.clone(), b, r, g, beta, 1e-12)
    torch.testing.assert_close(got.double(), ref, rtol=1e-5, atol=4e-6)


def test_layer_norm_residual_may_be_y_itself():
    y, b, g, beta = rand(4, 40), rand(40, seed=1), rand(40, seed=2), rand(40, seed=3)
    ref = bias_residual_layer_norm_reference(y.double(), b.double(), y.double(), g.double(), beta.double(), 1e-5)
    z = y.clone()
    _C.bias_residual_layer_norm_(z.numpy(), b.numpy(), z.numpy(), g.numpy(), beta.numpy(), 1e-5)
    torch.testing.assert_close(z.double(), ref, rtol=1e-5, atol=4e-6)


def test_constant_row_gives_ln_bias():
    y = torch.full((2, 16), 3.0)
    g, beta = rand(16, seed=1), rand(16, seed=2)
    _C.bias_residual_layer_norm_(y.numpy(), np.zeros(16, np.float32), np.zeros((2, 16), np.float32), g.numpy(),
                                 beta.numpy(), 1e-12)
    torch.testing.assert_close(y, beta.expand(2, 16), rtol=0, atol=0)


def test_results_do_not_depend_on_the_thread_count():
    y, r = rand(300, 384, scale=2.0), rand(300, 384, seed=1)
    b, g, beta = rand(384, seed=2), rand(384, seed=3), rand(384, seed=4)
    outs = []
    before = fastembed.get_num_threads()
    try:
        for n in (1, 2, 3):
            fastembed.set_num_threads(n)
            a, c = y.clone(), y.clone()
            _C.bias_gelu_(a.numpy(), b.numpy())
            _C.bias_residual_layer_norm_(c.numpy(), b.numpy(), r.numpy(), g.numpy(), beta.numpy(), 1e-12)
            outs.append((a, c))
    finally:
        fastembed.set_num_threads(before)
    for a, c in outs[1:]:
        assert torch.equal(a, outs[0][0]) and torch.equal(c, outs[0][1])


def test_bad_arguments_are_named():
    y = np.zeros((2, 4), np.float32)
    with pytest.raises(TypeError, match="'y' must have dtype float32"):
        _C.bias_gelu_(y.astype(np.float64), np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"'bias' must have shape \(4,\)"):
        _C.bias_gelu_(y, np.zeros(5, np.float32))
    y.flags.writeable = False
    with pytest.raises(ValueError, match="'y' is read-only"):
        _C.bias_gelu_(y, np.zeros(4, np.float32))
    z = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="'residual' must have the shape of 'y'"):
        _C.bias_residual_layer_norm_(z, *[np.zeros(4, np.float32)], np.zeros((3, 4), np.float32),
                                     np.ones(4, np.float32), np.zeros(4, np.float32), 1e-5)
    with pytest.raises(ValueError, match="'eps' must be > 0"):
        _C.bias_residual_layer_norm_(z, np.zeros(4, np.float32), z, np.ones(4, np.float32), np.zeros(4, np.float32), 0.0)
    with pytest.raises(ValueError, match="contiguous last axis"):
        _C.bias_gelu_(np.zeros((4, 4), np.float32).T, np.zeros(4, np.float32))


def test_torch_wrappers_refuse_autograd_and_other_dtypes():
    y = torch.zeros(2, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="no backward"):
        epilogue.bias_gelu_(y, torch.zeros(4))
    with torch.no_grad(), pytest.raises(TypeError, match="float32 CPU tensor"):
        epilogue.bias_gelu_(torch.zeros(2, 4, dtype=torch.float64), torch.zeros(4))
    with torch.no_grad(), pytest.raises(ValueError, match="contiguous"):
        epilogue.bias_gelu_(torch.zeros(2, 3, 4).transpose(0, 1), torch.zeros(4))
    assert not epilogue.usable(torch.zeros(2))                 # grad mode is on here
    with torch.inference_mode():
        assert epilogue.usable(torch.zeros(2)) and not epilogue.usable(torch.zeros(2, dtype=torch.float64))


def bert(impl="fused"):
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=300, hidden_size=48, num_layers=2, num_heads=4, intermediate_size=100,
                     max_position=64, attn_impl=impl)
    return BertModel(cfg).eval()


def test_bert_inference_path_equals_the_autograd_path():
    model = bert()
    ids = torch.randint(5, 300, (3, 11), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    with torch.enable_grad():
        ref = model(ids, attention_mask=mask, output_hidden_states=True).hidden_states   # addmm, gelu, layer_norm
    with torch.inference_mode():
        got = model(ids, attention_mask=mask, output_hidden_states=True).hidden_states   # the fused epilogues
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-5)
    sdpa = bert("sdpa")
    with torch.no_grad():                                     # impl="sdpa" keeps PyTorch's kernels
        torch.testing.assert_close(sdpa(ids, attention_mask=mask).last_hidden_state, ref[-1].detach(),
                                   rtol=1e-5, atol=1e-5)


def test_bert_training_mode_keeps_the_module_path():
    model = bert().train()
    calls = []
    model.layers[0].up.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        model(torch.randint(5, 300, (2, 5)))
    assert calls == [1]                                       # dropout on: the ordinary modules ran
    model.eval()
    with torch.no_grad():
        model(torch.randint(5, 300, (2, 5)))
    assert calls == [1]                                       # eval + no grad: the fused path


def test_compiled_bert_traces_the_plain_path():
    model = bert()
    x = torch.randint(5, 300, (2, 9), generator=torch.Generator().manual_seed(2))
    with torch.no_grad(), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ref = model(x).last_hidden_state
        torch._dynamo.reset()
        got = torch.compile(model, backend="eager")(x).last_hidden_state
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    assert not [w for w in seen if "bias_gelu_" in str(w.message) or "layer_norm_" in str(w.message)]
