"""The attention op as a torch.library custom op: opcheck, torch.compile, and memory (no T×T)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from fastembed.ops import attention  # noqa: E402
from fastembed.ops import _torch as op  # noqa: E402


def sample_args(dropout: bool, padding: bool):
    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 9, 2, 16, generator=g, requires_grad=True)
    k = torch.randn(2, 11, 2, 16, generator=g, requires_grad=True)
    v = torch.randn(2, 11, 2, 16, generator=g, requires_grad=True)
    lengths = torch.tensor([11, 5]) if padding else None
    kpm = (torch.rand(2, 11, generator=g) < 0.2) if padding else None
    rng = torch.tensor([123, 0]) if dropout else None
    return (q, k, v, lengths, kpm, True, 0.25, 0.1 if dropout else 0.0, rng)


@pytest.mark.parametrize("dropout,padding", [(False, False), (True, True)])
def test_opcheck(dropout, padding):
    torch.library.opcheck(torch.ops.fastembed.attention_fwd.default, sample_args(dropout, padding))


def test_opcheck_backward_op():
    q, k, v, lengths, kpm, causal, scale, p, rng = sample_args(True, True)
    out, lse = op.attention_fwd(q.detach(), k.detach(), v.detach(), lengths, kpm, causal, scale, p, rng)
    args = (torch.randn_like(out), q.detach(), k.detach(), v.detach(), out, lse, lengths, kpm, causal, scale, p, rng)
    torch.library.opcheck(torch.ops.fastembed.attention_bwd.default, args)


def test_torch_compile_matches_eager():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 16, 32, generator=g)
    w = torch.randn(32, 96, generator=g, requires_grad=True)
    lengths = torch.tensor([16, 9])

    def block(x, w):  # packed QKV projection, then attention on its slices
        qkv = (x @ w).view(2, 16, 3, 2, 16)
        return attention(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2], causal=True, lengths=lengths).sum()

    eager = block(x, w)
    (ge,) = torch.autograd.grad(eager, w)
    compiled = torch.compile(block, backend="aot_eager", fullgraph=True)
    got = compiled(x, w)
    (gc,) = torch.autograd.grad(got, w)
    torch.testing.assert_close(got, eager)
    torch.testing.assert_close(gc, ge)


@pytest.mark.parametrize("dropout,padding", [(False, False), (True, True)])
def test_eager_path_equals_the_registered_op(dropout, padding):
    """attention() in plain eager mode runs the kernels without the dispatcher; its output and
    gradients are bit-for-bit those of the registered op with its registered autograd."""
    q, k, v, lengths, kpm, causal, scale, p, _ = sample_args(dropout, padding)
    dout = torch.randn(q.shape, generator=torch.Generator().manual_seed(5))
    got = attention(q, k, v, causal=causal, lengths=lengths, key_padding_mask=kpm, dropout_p=p, scale=scale,
                    dropout_seed=123)
    got_grads = torch.autograd.grad(got, (q, k, v), dout)
    rng = torch.tensor([123, 0]) if dropout else None
    want, _ = torch.ops.fastembed.attention_fwd.default(q, k, v, lengths, kpm, causal, scale, p, rng)
    want_grads = torch.autograd.grad(want, (q, k, v), dout)
    assert torch.equal(got, want)
    for a, b in zip(got_grads, want_grads):
        assert torch.equal(a, b)
    with torch.no_grad():  # no autograd record: the bare forward
        assert torch.equal(attention(q, k, v, causal=causal, lengths=lengths, key_padding_mask=kpm, dropout_p=p,
                                     scale=scale, dropout_seed=123), want)


def test_tracing_takes_the_registered_op(monkeypatch):
    """Fake tensors (and any dispatch mode or tensor subclass) go through the registered op and its
    fake implementation; plain tensors do not touch it."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    calls = []
    registered = op.attention_fwd

    def counting(*args):
        calls.append(1)
        return registered(*args)

    monkeypatch.setattr(op, "attention_fwd", counting)
    q = torch.randn(2, 5, 3, 8)
    attention(q, q, q)
    assert calls == []
    with FakeTensorMode() as mode:
        fq = mode.from_tensor(q)
        out = attention(fq, fq, fq, causal=True)
    assert calls == [1] and out.shape == (2, 5, 3, 8)


@pytest.mark.slow
def test_no_score_matrix_in_memory():
    """B=1, H=8, T=16384, D=64: a stored fp32 score matrix would take 8.6 GB; peak RSS growth of a
    causal forward + backward stays far below it (inputs, outputs and gradients are ~270 MB)."""
    code = textwrap.dedent("""
        import json, resource, torch
        from fastembed.ops import attention
        def rss_mb():
            return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024
        B, T, H, D = 1, 16384, 8, 64
        q, k, v = (torch.randn(B, T, H, D, requires_grad=True) for _ in range(3))
        dout = torch.randn(B, T, H, D)
        before = rss_mb()
        out = attention(q, k, v, causal=True)
        out.backward(dout)
        print(json.dumps({"before": before, "peak": rss_mb()}))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    mem = json.loads(res.stdout.strip().splitlines()[-1])
    growth = mem["peak"] - mem["before"]
    assert growth < 600, f"peak RSS grew by {growth:.0f} MB during attention at T=16384"


@pytest.mark.parametrize("kw", [dict(dropout_p="0.1"), dict(dropout_p=True), dict(scale="0.5"), dict(scale=None,
                                                                                                       dropout_p=b"0")])
def test_scalars_must_be_numbers(kw):
    # float("0.1") takes a string: it used to pass as dropout 0.1.
    q = torch.randn(1, 4, 2, 8)
    with pytest.raises(TypeError, match="must be a number"):
        attention(q, q, q, **kw)
