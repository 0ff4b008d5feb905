"""Few-row fp32 products at GPT-2 124M shapes: fastembed's packed-panel kernel (``fastembed.ops.panel``,
what the fp32 decoder runs on the CPU) against PyTorch's (MKL / oneDNN) products on the same
weights, one decoding step's worth of products per call.

One call runs every product of a GPT-2 base decoding step: per layer QKV (768→2304), attention
out (768→768), FFN up (768→3072) and down (3072→768), then the tied output layer (768→50257);
about 500 MB of float32 weights. Rows M = 1 to 16 are the batch of a decoding step (bound by
reading the weights: throughput is GB/s of weights read), 256 the batch-8 prompt of 32 tokens
(bound by arithmetic). The implementations run in turn, ``--repeats`` times, so that a change in
machine load hits all alike; the time is the median call.

Rows:

* ``torch addmm (in, out)`` (the incumbent) — ``torch.addmm(bias, x, W)`` with W stored (in, out),
  as transformers' GPT-2 ``Conv1D`` computes it and the decoder did before the panel kernel;
* ``torch linear (out, in)`` — ``F.linear(x, W, bias)`` on ``nn.Linear``'s layout;
* ``fastembed panel`` — :func:`fastembed.ops.panel.panel_linear` on the weights packed once.

Every implementation's output is checked against the float64 product before timing.
"""

from __future__ import annotations

import argparse
import functools
import statistics
from typing import Any, Callable

from .harness import Recorder, Stats, alternate

NAME = "panel"
DESCRIPTION = "few-row fp32 products at GPT-2 shapes (GB/s of weights): fastembed packed panels vs torch addmm / linear"

LAYER = ((768, 2304), (768, 768), (768, 3072), (3072, 768))   # (in, out) of QKV, out, up, down
ROWS = (1, 2, 4, 8, 16, 256)
QUICK = dict(layers=1, vocab=4096, rows=(1, 8))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per implementation (default 7)")


def _weights(torch: Any, layers: int, vocab: int) -> list[tuple[Any, Any]]:
    """(weight (out, in), bias or None) of one step's products, the output layer last."""
    g = torch.Generator().manual_seed(0)
    mats = [(torch.randn(n_out, n_in, generator=g) * 0.02, torch.randn(n_out, generator=g) * 0.02)
            for _ in range(layers) for n_in, n_out in LAYER]
    return mats + [(torch.randn(vocab, 768, generator=g) * 0.02, None)]


def _implementations(torch: Any, mats: list[tuple[Any, Any]]) -> dict[str, Callable[[dict[int, Any]], list[Any]]]:
    from fastembed.ops.panel import pack_panels, panel_linear

    F = torch.nn.functional
    in_out = [(w.t().contiguous(), b) for w, b in mats]
    packed = [(pack_panels(w), w.shape[0], b) for w, b in mats]

    def addmm(xs: dict[int, Any]) -> list[Any]:
        return [torch.mm(xs[w.shape[0]], w) if b is None else torch.addmm(b, xs[w.shape[0]], w) for w, b in in_out]

    def linear(xs: dict[int, Any]) -> list[Any]:
        return [F.linear(xs[w.shape[1]], w, b) for w, b in mats]

    def panel(xs: dict[int, Any]) -> list[Any]:
        return [panel_linear(xs[p.shape[1]], p, n, b) for p, n, b in packed]

    return {"torch addmm (in, out)": addmm, "torch linear (out, in)": linear, "fastembed panel": panel}


def _check(torch: Any, name: str, fn: Callable[[dict[int, Any]], list[Any]], mats: list[tuple[Any, Any]]) -> None:
    xs = {k: torch.randn(3, k, generator=torch.Generator().manual_seed(1)) for k in (768, 3072)}
    for (w, b), y in zip(mats, fn(xs)):
        x = xs[w.shape[1]].double()
        ref = x @ w.double().T + (0 if b is None else b.double())
        bound = (w.shape[1] + 2) * 2.0 ** -24 * (x.abs() @ w.double().abs().T).max().item() + 1e-6
        err = (y.double() - ref).abs().max().item()
        if not err <= bound:
            raise RuntimeError(f"{name} is wrong at {tuple(w.shape)}: max error {err:.3g} > {bound:.3g}")


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    from fastembed._optional import require_torch

    torch = require_torch("benchmarks.panel")
    from .generate import cpu_description

    print(f"CPU: {cpu_description()}; {torch.get_num_threads()} threads", flush=True)
    shape = QUICK if args.quick else dict(layers=12, vocab=50257, rows=ROWS)
    repeats = 3 if args.quick else args.repeats
    mats = _weights(torch, shape["layers"], shape["vocab"])
    nbytes = sum(w.numel() * 4 for w, _ in mats)
    impls = _implementations(torch, mats)
    with torch.inference_mode():
        for name, fn in impls.items():
            _check(torch, name, fn, mats)
        for M in shape["rows"]:
            xs = {k: torch.randn(M, k) for k in (768, 3072)}
            calls = {name: functools.partial(fn, xs) for name, fn in impls.items()}
            for call in calls.values():
                call()                                                # warm-up
            times = alternate(calls, repeats)
            case = f"M={M}, {shape['layers']} layers + vocab {shape['vocab']} ({nbytes / 1e6:.0f} MB)"
            for name, ts in times.items():
                recorder.add(case=case, impl=name, stats=Stats.of(ts), work=nbytes, unit="GB/s",
                             incumbent=name == "torch addmm (in, out)")
            rates = ", ".join(f"{name} {statistics.median(ts) * 1e3:.1f} ms" for name, ts in times.items())
            print(f"{case}: {rates}", flush=True)
