"""ELMo biLM training steps on the CPU: fastembed.models.elmo against the same model written the
plain way with ``torch.nn.LSTM``, in the same process, same shapes, same batches.

**The incumbent** ("torch.nn.LSTM"): one ``nn.LSTM(num_layers=L)`` per direction (PyTorch's fused
multi-layer LSTM, oneDNN on a CPU, dropout between layers), the backward LM fed the flipped
batch, an ``nn.Linear`` output layer whose weight is the embedding (tied) and
``F.cross_entropy`` over the full (tokens × vocabulary) logits of each direction. **Ours**:
``fastembed.models.ELMo`` with ``embed_size == hidden_size`` (no projection, so the two compute
the same shapes), L single-layer ``nn.LSTM`` per direction with ELMo's residual connection
from layer 2 on (work the incumbent does not do), and the blockwise cross-entropy
(:func:`fastembed.models.loss.linear_cross_entropy`) that never forms the logits.

One step = forward, backward, AdamW (torch's, foreach) with dropout 0.1, on batches of random
token ids (the speed of these models does not depend on which ids they read). Steps alternate
between the two, and so does which goes first, so that a change in machine load hits both alike;
the reported time is the median step and tokens/s counts the batch's tokens. Two cases: a BERT-sized vocabulary (30522),
where the softmax dominates, and a small one (2000), where the LSTMs do.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from .harness import Recorder, Stats, alternate, optional_import
from .pretrain import gpt_batches

NAME = "elmo"
DESCRIPTION = "ELMo biLM training steps (tokens/s): fastembed.models.elmo vs a plain torch.nn.LSTM biLM"

CASES = [dict(vocab_size=30522, num_layers=2, size=256, T=64, B=32),
         dict(vocab_size=2000, num_layers=2, size=256, T=64, B=32)]
QUICK_CASES = [dict(vocab_size=500, num_layers=2, size=32, T=16, B=4)]
CPU_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=10, help="timed steps per implementation (default 10)")


def cpu_flags() -> str:
    """The instruction-set flags that matter for these kernels, as /proc/cpuinfo lists them."""
    info = Path("/proc/cpuinfo")
    if not info.is_file():
        return "unknown"
    for line in info.read_text(errors="replace").splitlines():
        if line.startswith("flags"):
            have = set(line.partition(":")[2].split())
            return " ".join(f for f in CPU_FLAGS if f in have) or "none of " + " ".join(CPU_FLAGS)
    return "unknown"


def plain_bilm(torch: Any, shape: dict, dropout: float) -> Any:
    """The incumbent: two fused multi-layer nn.LSTMs, a tied nn.Linear, full-logit cross-entropy."""
    nn, F = torch.nn, torch.nn.functional

    class PlainBiLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            V, C, L = shape["vocab_size"], shape["size"], shape["num_layers"]
            self.embed = nn.Embedding(V, C)
            self.fwd = nn.LSTM(C, C, num_layers=L, batch_first=True, dropout=dropout)
            self.bwd = nn.LSTM(C, C, num_layers=L, batch_first=True, dropout=dropout)
            self.out = nn.Linear(C, V)
            self.out.weight = self.embed.weight                    # tied softmax
            self.drop = nn.Dropout(dropout)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)
            nn.init.zeros_(self.out.bias)

        def forward(self, input_ids: Any, labels: Any) -> Any:
            V = self.embed.num_embeddings
            x = self.drop(self.embed(input_ids))
            f = self.drop(self.fwd(x)[0])
            b = self.drop(self.bwd(x.flip(1))[0])               # reversed time: s predicts the reversed s + 1
            loss_f = F.cross_entropy(self.out(f).reshape(-1, V), labels.reshape(-1))
            loss_b = F.cross_entropy(self.out(b[:, :-1]).reshape(-1, V), input_ids.flip(1)[:, 1:].reshape(-1))
            return loss_f + loss_b

    return PlainBiLM()


def ours(torch: Any, shape: dict, dropout: float) -> Any:
    from fastembed.models import ELMo, ELMoConfig

    cfg = ELMoConfig(vocab_size=shape["vocab_size"], embed_size=shape["size"], hidden_size=shape["size"],
                     num_layers=shape["num_layers"], dropout=dropout, max_position=shape["T"])
    return ELMo(cfg)


def _step_fn(model: Any, opt: Any, data: list[dict], loss_of: Any) -> Any:
    it = iter(range(10**9))

    def step() -> None:
        loss = loss_of(model, data[next(it) % len(data)])
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    torch = optional_import("torch")
    if torch is None:
        recorder.skip(case="elmo", impl="fastembed", missing="torch")
        return
    import fastembed

    torch.set_num_threads(fastembed.get_num_threads())
    machine = recorder.records[0]["machine"]
    machine["cpu_flags"] = cpu_flags()
    print(f"CPU: {machine['cpu_model']}; flags: {machine['cpu_flags']}; torch {torch.__version__}, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, oneDNN {torch.backends.mkldnn.is_available()}, "
          f"{torch.get_num_threads()} threads", flush=True)
    steps = 2 if args.quick else args.steps
    for shape in QUICK_CASES if args.quick else CASES:
        _speed(torch, shape, steps, recorder)


def _speed(torch: Any, shape: dict, steps: int, recorder: Recorder) -> None:
    data = gpt_batches(torch, shape, 4)          # random next-token blocks, as the GPT benchmark
    tokens = shape["B"] * shape["T"]
    torch.manual_seed(0)
    models = {"fastembed": ours(torch, shape, 0.1).train(), "torch.nn.LSTM": plain_bilm(torch, shape, 0.1).train()}
    losses = {"fastembed": lambda m, b: m(**b).loss, "torch.nn.LSTM": lambda m, b: m(b["input_ids"], b["labels"])}
    fns = {name: _step_fn(m, torch.optim.AdamW(m.parameters(), lr=1e-3, foreach=True), data, losses[name])
           for name, m in models.items()}
    for _ in range(2):                                   # warm-up: allocator, AdamW state, oneDNN primitives
        for fn in fns.values():
            fn()
    times = alternate(fns, steps)
    label = (f"biLM L={shape['num_layers']} E=H={shape['size']} V={shape['vocab_size']} T={shape['T']} "
             f"B={shape['B']}")
    for name, ts in times.items():
        recorder.add(case=label, impl=name, stats=Stats.of(ts), work=tokens, unit="tokens/s",
                     incumbent=name == "torch.nn.LSTM", note="train step: fwd + bwd + AdamW")
    med = {n: statistics.median(ts) for n, ts in times.items()}
    print(f"{label}: fastembed {tokens / med['fastembed']:,.0f} tokens/s, torch.nn.LSTM "
          f"{tokens / med['torch.nn.LSTM']:,.0f} tokens/s: {med['torch.nn.LSTM'] / med['fastembed']:.2f}x", flush=True)
