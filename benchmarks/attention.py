"""Fused masked attention, fp32 on the CPU: fastembed.ops.attention against PyTorch's
``scaled_dot_product_attention`` in the same process, on the same tensors.

PyTorch gets its fastest legal call for each case: ``is_causal=True`` where it can, an explicit
boolean mask where padding needs one, its own dropout where the case has dropout, and its
preferred (B, H, T, D) layout (ours is read in (B, T, H, D)). Throughput counts useful FLOPs only
(query-key pairs that are not masked): 4·D per pair forward, 3.5× that for forward + backward
(two matrix products forward, five backward). Each case's note gives its share of this machine's
fp32 matrix-multiply rate, measured at the start with torch.matmul on the same threads.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass

from .harness import Recorder, measure, optional_import

NAME = "attention"
DESCRIPTION = "fused masked attention fwd / fwd+bwd, fp32 CPU (GFLOP/s): fastembed vs torch SDPA"


@dataclass(frozen=True)
class Case:
    name: str
    B: int
    H: int
    T: int
    D: int
    causal: bool = False
    padded: bool = False
    dropout: float = 0.0


SUITE = [
    Case("bert", 32, 12, 128, 64),
    Case("bert padded", 32, 12, 128, 64, padded=True),
    Case("bert dropout", 32, 12, 128, 64, dropout=0.1),
    Case("bert-512 padded", 8, 12, 512, 64, padded=True),
    Case("bert-512 padded dropout", 8, 12, 512, 64, padded=True, dropout=0.1),
    Case("gpt causal", 4, 12, 1024, 64, causal=True),
    Case("gpt causal padded", 4, 12, 1024, 64, causal=True, padded=True),
    Case("long causal", 1, 8, 4096, 64, causal=True),
    Case("long causal D=128", 1, 8, 4096, 128, causal=True),
]
QUICK = [Case("quick", 2, 2, 64, 32), Case("quick causal padded dropout", 2, 2, 96, 16, True, True, 0.1)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--case", action="append", metavar="NAME", help="run only this case (repeatable)")


def _matmul_gflops(torch) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    stats = measure(lambda: a @ b, repeats=5, min_time=0.2)
    return 2 * 1024**3 / stats.median / 1e9


def _inputs(torch, c: Case):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(c.B, c.T, c.H, c.D, generator=g) for _ in range(3))
    lengths = None
    if c.padded:  # key lengths uniform in [0.4 T, T]
        lengths = torch.randint(int(0.4 * c.T), c.T + 1, (c.B,), generator=g)
        lengths[0] = c.T
    return q, k, v, lengths


def _visible(torch, c: Case, lengths):
    """(B, 1, T, T) bool mask of visible pairs, or None when every pair is visible."""
    if not c.causal and lengths is None:
        return None
    vis = torch.ones(c.B, 1, c.T, c.T, dtype=torch.bool)
    if c.causal:
        vis &= torch.ones(c.T, c.T, dtype=torch.bool).tril()
    if lengths is not None:
        vis &= torch.arange(c.T)[None, None, None, :] < lengths[:, None, None, None]
    return vis


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    torch = optional_import("torch")
    if torch is None:
        for c in QUICK if args.quick else SUITE:
            recorder.skip(case=c.name, impl="fastembed", missing="torch")
        return
    import torch.nn.functional as F

    import fastembed
    from fastembed.ops import attention

    torch.set_num_threads(fastembed.get_num_threads())
    suite = QUICK if args.quick else SUITE
    if args.case:
        suite = [c for c in suite if c.name in args.case]
    timing = {"repeats": 2, "min_time": 0.0, "warmup": 1} if args.quick else {"repeats": 5, "min_time": 0.3}
    peak = _matmul_gflops(torch)
    print(f"torch.matmul fp32 1024^3 on {torch.get_num_threads()} threads: {peak:.1f} GFLOP/s")
    ratios: list[float] = []
    for c in suite:
        q, k, v, lengths = _inputs(torch, c)
        vis = _visible(torch, c, lengths)
        pairs = c.H * (c.B * c.T * c.T if vis is None else int(vis.sum()))  # vis is (B, 1, T, T)
        qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))
        # torch: is_causal when the causal triangle is the only mask, else an explicit mask.
        mask = None if vis is None or (c.causal and lengths is None) else vis
        torch_causal = c.causal and mask is None

        def ours(q, k, v, p=c.dropout):
            return attention(q, k, v, causal=c.causal, lengths=lengths, dropout_p=p)

        def theirs(q, k, v, p=c.dropout):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=torch_causal, dropout_p=p)

        # Same answer without dropout (rows past a length are compared too: both attend to the
        # visible keys only).
        err = float((ours(q, k, v, 0.0) - theirs(qt, kt, vt, 0.0).transpose(1, 2)).abs().max())
        if not err < 1e-4:
            raise RuntimeError(f"attention case {c.name!r}: fastembed and torch differ by {err:.3g}")

        dout = torch.randn(c.B, c.T, c.H, c.D)
        dout_t = dout.transpose(1, 2).contiguous()
        qg, kg, vg = (x.clone().requires_grad_() for x in (q, k, v))
        qtg, ktg, vtg = (x.clone().requires_grad_() for x in (qt, kt, vt))

        def ours_fb():
            ours(qg, kg, vg).backward(dout)

        def theirs_fb():
            theirs(qtg, ktg, vtg).backward(dout_t)

        flops = 4.0 * c.D * pairs
        for label, fn, work, inc in (("fwd", lambda: ours(q, k, v), flops, False),
                                     ("fwd", lambda: theirs(qt, kt, vt), flops, True),
                                     ("fwd+bwd", ours_fb, 3.5 * flops, False),
                                     ("fwd+bwd", theirs_fb, 3.5 * flops, True)):
            with torch.inference_mode(label == "fwd"):
                stats = measure(fn, **timing)
            rate = work / stats.median / 1e9
            recorder.add(case=f"{c.name} {label}", impl="torch-sdpa" if inc else "fastembed", stats=stats,
                         work=work, unit="GFLOP/s", incumbent=inc, note=f"{100 * rate / peak:.0f}% of matmul")
        rec = recorder.records
        fb_ours, fb_torch = rec[-2], rec[-1]
        ratios.append(fb_torch["median_s"] / fb_ours["median_s"])
        print(f"{c.name:<28} fwd+bwd ratio {ratios[-1]:.2f}x", flush=True)
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        print(f"fwd+bwd over {len(ratios)} cases: geometric mean {geo:.2f}x torch, lowest {min(ratios):.2f}x "
              f"({time.strftime('%H:%M:%S')})")
