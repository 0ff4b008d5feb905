"""Greedy generation on the CPU at GPT-2 124M shapes (issue 25, item 3): fastembed's decoder,
fastembed's previous loop (``GPT.forward`` with a ``torch.cat``-grown cache) and HuggingFace
``transformers``' ``generate``, same weights; bf16 and int8 rows and a weight-read yardstick.

GPT-2 base (``GPTConfig.preset("base")``: 12 layers, 768 hidden, 12 heads, vocabulary 50257,
random weights), prompts of 32 random tokens, 128 new tokens, batch 1 and batch 8 (2 threads
unless ``--threads``); ``--quick``: GPT-mini (4/256/4), 16 new tokens. HF runs
``GPT2LMHeadModel.generate(do_sample=False)`` with its SDPA attention and its own KV cache.
tokens/s counts generated tokens (batch × new tokens). The implementations run in turn,
``--repeats`` times, so that a change in machine load hits all alike; the time is the median call.

Rows:

* ``fastembed`` — :func:`fastembed.generate.generate` through :meth:`GPT.decoder` (fp32);
* ``fastembed forward+cat`` — the same loop through ``GPT.forward(past_key_values=...)``, what
  generate ran before the decoder (the cache grows by a ``torch.cat`` per step);
* ``fastembed bf16`` — the decoder with bf16 matrix products (``precision="bf16"``): NOT the
  same computation, so its tokens are compared with fp32's and the count that match is printed;
* ``fastembed int8`` — the decoder with int8 layer products (``precision="int8"``: per-channel
  weight scales, per-token activation scales, oneDNN's int8 products; the output layer too),
  compared with fp32 the same way;
* ``weights read (torch.sum)`` — informative, not an implementation: every weight matrix of the
  model (the tied 50257×768 head included) read once per decoding step, as ``torch.sum`` over it:
  the memory traffic of the weights alone, no attention or Python. At small batches fp32 decoding
  is bound by that traffic, so no fp32 implementation beats this row by much (the panel kernel
  reads a little faster than ``torch.sum``: it is a yardstick, not a bound); its ratio says how
  far the incumbent is from it.

Each implementation's tokens are compared with transformers' (a random model's greedy choices can
be near ties, so a difference late in a row can be rounding, not a bug; the tests check equality
on a model with well-separated logits).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any, Callable

from .harness import Recorder, Stats, alternate, optional_import

NAME = "generate"
DESCRIPTION = "GPT-2 124M greedy generation (tokens/s): fastembed decoder vs transformers.generate"

SHAPE = dict(name="gpt2-base", vocab_size=50257, num_layers=12, hidden_size=768, num_heads=12, prompt=32, new=128,
             batches=(1, 8))
QUICK = dict(SHAPE, name="gpt-mini", num_layers=4, hidden_size=256, num_heads=4, prompt=8, new=16, batches=(1, 4))
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
             "amx_tile", "amx_bf16", "amx_int8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per implementation (default 3)")


def cpu_description() -> str:
    """The CPU's name and which of the vector extensions that matter here it has."""
    from .harness import _cpu_model

    flags: set[str] = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                flags = set(line.partition(":")[2].split())
                break
    have = [f for f in CPU_FLAGS if f in flags]
    return f"{_cpu_model()}; flags: {' '.join(have) if have else 'unknown'}"


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    torch, transformers = optional_import("torch"), optional_import("transformers")
    shape = QUICK if args.quick else SHAPE
    cases = [f"{shape['name']} B={B}" for B in shape["batches"]]
    if torch is None:
        for case in cases:
            recorder.skip(case=case, impl="fastembed", missing="torch")
        return
    import fastembed

    from .pretrain import make_pair

    torch.set_num_threads(fastembed.get_num_threads())
    print(f"CPU: {cpu_description()}; torch {torch.__version__} capability "
          f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads", flush=True)
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


class _ForwardOnly:
    """The model without its ``decoder`` method: generate then runs ``GPT.forward`` with
    ``past_key_values``, the loop it ran before the decoder existed."""

    def __init__(self, model: Any) -> None:
        self.model, self.config, self.training = model, model.config, False

    def __call__(self, *args: Any, **kw: Any) -> Any:
        return self.model(*args, **kw)

    def parameters(self) -> Any:
        return self.model.parameters()

    def eval(self) -> "_ForwardOnly":
        return self

    def train(self, mode: bool = True) -> "_ForwardOnly":
        return self


def _floor(torch: Any, model: Any, batch: int, new: int) -> Callable[[], list[list[int]]]:
    """Every weight matrix read once per step (torch's sum over it), ``new`` times: a yardstick of
    what streaming the fp32 weights costs on this machine, not a bound (the panel kernel, which
    does the arithmetic too, reads them faster than ``torch.sum`` at batch 1)."""
    mats = [m.weight for b in model.blocks for m in (b.attn.qkv, b.attn.out, b.up, b.down)] + [model.wte.weight]

    def stream() -> list[list[int]]:
        with torch.inference_mode():
            for _ in range(new):
                for w in mats:
                    w.sum()
        return []
    return stream


def _case(torch: Any, ours: Any, hf: Any, prompts: Any, new: int, case: str, repeats: int,
          recorder: Recorder) -> None:
    from fastembed.generate import generate

    B = prompts.shape[0]
    fns: dict[str, Callable[[], list[list[int]]]] = {
        "fastembed": lambda: generate(ours, prompts, max_new_tokens=new),
        "fastembed forward+cat": lambda: generate(_ForwardOnly(ours), prompts, max_new_tokens=new),
        "fastembed bf16": lambda: generate(ours, prompts, max_new_tokens=new, precision="bf16"),
        "fastembed int8": lambda: generate(ours, prompts, max_new_tokens=new, precision="int8"),
    }
    if hf is not None:
        def hf_generate() -> list[list[int]]:
            with torch.inference_mode():
                out = hf.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=new,
                                  min_new_tokens=new, do_sample=False, pad_token_id=0)
            return out[:, prompts.shape[1]:].tolist()
        fns["transformers"] = hf_generate
    fns["weights read (torch.sum)"] = _floor(torch, ours, B, new)
    outputs = {name: fn() for name, fn in fns.items()}           # warm-up, and the tokens to compare
    times = alternate(fns, repeats)
    tokens = B * new
    reference = outputs["transformers"] if hf is not None else outputs["fastembed"]
    for name, ts in times.items():
        stats = Stats.of(ts)
        if name == "weights read (torch.sum)":
            note = "informative: torch.sum over every fp32 weight once per step (a yardstick, not a bound)"
        elif name in ("fastembed bf16", "fastembed int8"):
            note = f"tokens vs fp32: {_matching(outputs[name], outputs['fastembed'])}"
        elif name == "transformers" or reference is outputs[name]:
            note = "tokens: reference"
        else:
            note = f"tokens: {_compare(outputs[name], reference)}"
        recorder.add(case=case, impl=name, stats=stats, work=tokens, unit="tokens/s",
                     incumbent=name == "transformers", note=note)
    rates = ", ".join(f"{name} {tokens / statistics.median(ts):,.1f}" for name, ts in times.items())
    print(f"{case}, prompt {prompts.shape[1]}, {new} new tokens: {rates} tokens/s", flush=True)


def _compare(rows: list[list[int]], reference: list[list[int]]) -> str:
    """'equal', or where the first row that differs first differs."""
    for r, (a, b) in enumerate(zip(rows, reference)):
        if a != b:
            t = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            return f"DIFFER (row {r} from token {t})"
    return "equal" if len(rows) == len(reference) else "DIFFER (row count)"


def _matching(rows: list[list[int]], reference: list[list[int]]) -> str:
    """How many tokens agree with the reference before each row's first difference, in all."""
    same = total = 0
    for a, b in zip(rows, reference):
        total += len(b)
        same += next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"{same}/{total} before each row's first difference"
