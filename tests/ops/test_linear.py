"""The packed inference product (csrc/nn/linear.h) against float64 PyTorch, its weight cache, and
its errors."""

import gc

import numpy as np
import pytest
import torch

import fastembed
from fastembed._native import _C
from fastembed.ops import linear as packed


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def assert_matches_float64(y, x, w, b=None):
    ref = x.double() @ w.double().t() + (0 if b is None else b.double())
    bound = x.double().abs() @ w.double().abs().t()          # what the rounding errors scale with
    err = (y.double() - ref).abs()
    assert (err <= 2e-6 * bound + 1e-30).all(), f"max error {float((err / bound.clamp_min(1e-30)).max()):.2e} of |x||w|"


@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (5, 7, 17), (6, 384, 16), (7, 385, 33), (13, 1000, 100), (97, 48, 144),
                                   (200, 1536, 384), (130, 769, 31)])
@pytest.mark.parametrize("with_bias", [False, True])
def test_matches_float64(M, K, N, with_bias):
    x, w, b = rand(M, K), rand(N, K, seed=1), rand(N, seed=2) if with_bias else None
    with torch.no_grad():
        y = packed.linear(x, w, b)
    assert y.shape == (M, N) and y.dtype == torch.float32
    assert_matches_float64(y, x, w, b)


def test_leading_axes_and_empty_sizes():
    x, w, b = rand(2, 3, 10), rand(20, 10, seed=1), rand(20, seed=2)
    with torch.no_grad():
        y = packed.linear(x, w, b)
        assert y.shape == (2, 3, 20)
        assert_matches_float64(y.reshape(6, 20), x.reshape(6, 10), w, b)
        assert packed.linear(torch.zeros(0, 10), w).shape == (0, 20)
        assert torch.equal(packed.linear(torch.zeros(4, 0), torch.zeros(3, 0), b[:3]), b[:3].expand(4, 3))
        assert torch.equal(packed.linear(torch.zeros(4, 0), torch.zeros(3, 0)), torch.zeros(4, 3))


def test_strided_rows_in_and_out():
    """x and y are read and written through their row strides; y's other columns stay as they were."""
    base_x, w, b = rand(9, 50), rand(20, 30, seed=1), rand(20, seed=2)
    x = base_x.numpy()[:, 7:37]                               # 30 columns, rows 50 apart
    out = np.full((9, 45), 7.0, np.float32)
    _C.linear_packed(x, _C.pack_linear_weight(w.numpy()), 20, b.numpy(), out[:, 5:25])
    assert_matches_float64(torch.from_numpy(out[:, 5:25].copy()), base_x[:, 7:37], w, b)
    assert (out[:, :5] == 7).all() and (out[:, 25:] == 7).all()


def test_results_do_not_depend_on_the_thread_count(restore_threads):
    x, w, b = rand(150, 400), rand(100, 400, seed=1), rand(100, seed=2)
    outs = []
    for n in (1, 2, 3):
        fastembed.set_num_threads(n)
        with torch.no_grad():
            outs.append(packed.linear(x, w, b))
    assert all(torch.equal(o, outs[0]) for o in outs[1:])


def test_the_packed_weight_is_reused_and_follows_changes():
    w = rand(40, 24)
    x = rand(5, 24, seed=1)
    with torch.no_grad():
        p1 = packed.packed_weight(w)
        assert packed.packed_weight(w) is p1                  # reused
        w.mul_(-2.0)                                          # in place: the version counter moves
        assert packed.packed_weight(w) is not p1
        assert_matches_float64(packed.linear(x, w), x, w)
        w.data = rand(40, 24, seed=5)                         # new memory
        assert_matches_float64(packed.linear(x, w), x, w)
    ident = id(w)
    assert ident in packed._packed
    del w
    gc.collect()
    assert ident not in packed._packed                        # the packed copy goes with the weight


def test_bert_layers_see_a_loaded_state_dict():
    """load_state_dict copies into the parameters in place: the next inference uses the new weights."""
    from fastembed.models import BertConfig, BertModel

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=40, max_position=16)
    a, b = BertModel(cfg).eval(), BertModel(cfg).eval()
    for p in b.parameters():
        torch.nn.init.normal_(p, 0, 0.5)
    ids = torch.randint(1, 100, (2, 7))
    with torch.inference_mode():
        a(ids)                                                # packs a's weights
    a.load_state_dict(b.state_dict())
    with torch.inference_mode():
        torch.testing.assert_close(a(ids).last_hidden_state, b(ids).last_hidden_state, rtol=0, atol=0)


def test_bad_arguments_are_named():
    w = rand(4, 3)
    with torch.no_grad():
        with pytest.raises(ValueError, match="'x' has 5 features .* takes 3"):
            packed.linear(rand(2, 5), w)
        with pytest.raises(ValueError, match=r"'bias' must have shape \(4,\)"):
            packed.linear(rand(2, 3), w, rand(3))
        with pytest.raises(TypeError, match="'x' must be a float32 CPU tensor"):
            packed.linear(rand(2, 3).double(), w)
        with pytest.raises(ValueError, match="'weight' must have 2 dimension"):
            packed.linear(rand(2, 3), rand(3))
        with pytest.raises(TypeError, match="'x' must be a torch.Tensor"):
            packed.linear([[1.0, 2.0, 3.0]], w)
    with pytest.raises(RuntimeError, match="no backward"):
        packed.linear(rand(2, 3).requires_grad_(), w)
    pk = _C.pack_linear_weight(w.numpy())
    x, y = np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="'packed' must be the contiguous packed form of an \\(5, 3\\) weight"):
        _C.linear_packed(x, pk, 5, None, np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"'y' must have shape \(2, 4\)"):
        _C.linear_packed(x, pk, 4, None, np.zeros((3, 4), np.float32))
    with pytest.raises(TypeError, match="'x' must have dtype float32"):
        _C.linear_packed(x.astype(np.float64), pk, 4, None, y)
    buf = np.zeros((2, 8), np.float32)
    with pytest.raises(ValueError, match="'y' must not overlap 'x'"):
        _C.linear_packed(buf[:, :3], pk, 4, None, buf[:, 2:6])
