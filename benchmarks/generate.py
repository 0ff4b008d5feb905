"""Greedy generation on the CPU: fastembed's KV-cache loop, the same loop recomputing the whole
sequence every step, and HuggingFace ``transformers``' ``generate``, same weights.

GPT-mini (4 layers, 256 hidden, 4 heads, GPT-2's vocabulary of 50257), prompts of 32 random
tokens, 128 new tokens, batch 1 and batch 8 (2 threads unless ``--threads``). HF runs
``GPT2LMHeadModel.generate(do_sample=False)`` with its SDPA attention and its own KV cache.
tokens/s counts generated tokens (batch × new tokens). The three run in turn, ``--repeats``
times, so that a change in machine load hits all alike; the reported time is the median call.

Each implementation's tokens are compared with fastembed's KV-cache output; the note says
whether they are equal (a random model's greedy choices can be near ties, so a difference late
in a row is rounding, not a bug; the tests check equality on a model with well-separated logits).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable

from .harness import Recorder, Stats, optional_import

NAME = "generate"
DESCRIPTION = "GPT-mini greedy generation (tokens/s): KV cache vs no cache vs transformers.generate"

SHAPE = dict(vocab_size=50257, num_layers=4, hidden_size=256, num_heads=4, prompt=32, new=128, batches=(1, 8))
QUICK = dict(SHAPE, vocab_size=2000, num_layers=2, hidden_size=64, num_heads=2, prompt=8, new=16, batches=(1, 4))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per implementation (default 3)")


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    torch, transformers = optional_import("torch"), optional_import("transformers")
    shape = QUICK if args.quick else SHAPE
    cases = [f"gpt-mini B={B}" for B in shape["batches"]]
    if torch is None:
        for case in cases:
            recorder.skip(case=case, impl="fastembed", missing="torch")
        return
    import fastembed

    from .pretrain import make_pair

    torch.set_num_threads(fastembed.get_num_threads())
    if transformers is not None:
        transformers.logging.set_verbosity_error()
        ours, hf = make_pair(torch, transformers, "gpt", shape, dropout=0.0)
        hf.eval()
    else:
        from fastembed.models import GPT, GPTConfig

        torch.manual_seed(0)
        ours = GPT(GPTConfig(**{k: shape[k] for k in ("vocab_size", "num_layers", "hidden_size", "num_heads")},
                             intermediate_size=4 * shape["hidden_size"]))
        hf = None
    ours.eval()
    for B, case in zip(shape["batches"], cases):
        g = torch.Generator().manual_seed(B)
        prompts = torch.randint(0, shape["vocab_size"], (B, shape["prompt"]), generator=g)
        _case(torch, ours, hf, prompts, shape["new"], case, 1 if args.quick else args.repeats, recorder)
        if hf is None:
            recorder.skip(case=case, impl="transformers", missing="transformers", incumbent=True)


def _case(torch: Any, ours: Any, hf: Any, prompts: Any, new: int, case: str, repeats: int,
          recorder: Recorder) -> None:
    from fastembed.generate import generate

    fns: dict[str, Callable[[], list[list[int]]]] = {
        "fastembed KV cache": lambda: generate(ours, prompts, max_new_tokens=new),
        "fastembed no cache": lambda: generate(ours, prompts, max_new_tokens=new, use_cache=False),
    }
    if hf is not None:
        def hf_generate() -> list[list[int]]:
            with torch.inference_mode():
                out = hf.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=new,
                                  min_new_tokens=new, do_sample=False, pad_token_id=0)
            return out[:, prompts.shape[1]:].tolist()
        fns["transformers"] = hf_generate
    outputs = {name: fn() for name, fn in fns.items()}           # warm-up, and the tokens to compare
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    tokens = prompts.shape[0] * new
    reference = outputs["fastembed KV cache"]
    for name, ts in times.items():
        stats = Stats(median=statistics.median(ts), min=min(ts), max=max(ts), mean=statistics.fmean(ts),
                      repeats=len(ts), number=1)
        same = "reference" if name == "fastembed KV cache" else _compare(outputs[name], reference)
        recorder.add(case=case, impl=name, stats=stats, work=tokens, unit="tokens/s",
                     incumbent=name == "transformers", note=f"tokens: {same}")
    rates = ", ".join(f"{name} {tokens / statistics.median(ts):,.0f}" for name, ts in times.items())
    print(f"{case}, prompt {prompts.shape[1]}, {new} new tokens: {rates} tokens/s", flush=True)


def _compare(rows: list[list[int]], reference: list[list[int]]) -> str:
    """'equal', or where the first row that differs first differs."""
    for r, (a, b) in enumerate(zip(rows, reference)):
        if a != b:
            t = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            return f"DIFFER (row {r} from token {t})"
    return "equal" if len(rows) == len(reference) else "DIFFER (row count)"
