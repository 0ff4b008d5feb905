"""Pretraining steps on the CPU: fastembed's BERT and GPT against HuggingFace ``transformers``
in the same process, same shapes, same initial weights, same batches.

**Speed** (2 threads unless ``--threads``): one optimizer step = forward, backward, AdamW. HF
runs ``BertForPreTraining`` / ``GPT2LMHeadModel`` with ``attn_implementation="sdpa"`` (its fastest
legal attention on a CPU); fastembed runs its models with the fused attention op. Both with
dropout 0.1 (hidden and attention), both with torch's AdamW (foreach). BERT-mini: 4 layers, 256
hidden, 4 heads, T=128, batch 32, BERT's uncased vocabulary (30522); GPT-mini: 4 layers, 256
hidden, 4 heads, T=256, batch 16, GPT-2's vocabulary (50257). Batches are real text (the first 2 MB
of the benchmark corpus ``text.txt``, 20 lines to a document) through ``fastembed.data``: BERT
sentence pairs with 15% masking (80/10/10) and NSP labels, GPT blocks of GPT-2 BPE tokens; random
tokens with BERT's length mix when the shared data is absent. tokens/s counts real (unpadded)
tokens. Steps alternate between the two implementations so that a change in machine
load hits both alike; the reported time is the median step.

**Fidelity** (``--fidelity``): dropout off, identical initial weights and batches, 20 AdamW steps
(lr 5e-4, no warmup) on real-text batches; the largest relative difference between the two loss
curves. Target 1e-3.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from .harness import Recorder, Stats, alternate, optional_import

NAME = "pretrain"
DESCRIPTION = "BERT-mini / GPT-mini pretraining steps (tokens/s) and loss fidelity: fastembed vs transformers"

BERT = dict(vocab_size=30522, num_layers=4, hidden_size=256, num_heads=4, T=128, B=32)
GPT = dict(vocab_size=50257, num_layers=4, hidden_size=256, num_heads=4, T=256, B=16)
QUICK_BERT = dict(BERT, vocab_size=2000, num_layers=2, hidden_size=64, T=32, B=4)
QUICK_GPT = dict(GPT, vocab_size=2000, num_layers=2, hidden_size=64, T=32, B=4)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=("bert", "gpt", "both"), default="both")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per implementation (default 6)")
    parser.add_argument("--fidelity", action="store_true", help="also run the 20-step loss-fidelity check")


# --------------------------------------------------------------------------- batches


def real_batches(torch: Any, kind: str, shape: dict, n: int, seed: int = 0) -> list[dict] | None:
    """Batches of real text (the benchmark corpus text.txt, its first 2 MB) through fastembed.data:
    BERT's uncased WordPiece vocabulary and GPT-2's BPE; None when the shared data is absent."""
    from fastembed._data import data_dir, data_path

    if data_dir() is None or shape["vocab_size"] not in (30522, 50257):
        return None
    from fastembed.data import BertPretrainingData, GPTBlocks

    from .harness import benchmark_corpus

    with open(benchmark_corpus("text.txt"), encoding="utf-8") as f:
        text = f.read(2_000_000)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if kind == "bert":
        from fastembed.tokenizers import WordPieceTokenizer

        tok = WordPieceTokenizer.from_vocab(data_path("tokenizers", "bert-base-uncased", "vocab.txt"))
        docs = [lines[i:i + 20] for i in range(0, len(lines), 20)]            # 20 lines make a document
        data = BertPretrainingData.from_documents(docs, tok, max_length=shape["T"], batch_size=shape["B"], seed=seed)
    else:
        from fastembed.tokenizers import BPETokenizer

        tok = BPETokenizer.from_gpt2_files(data_path("tokenizers", "gpt2", "encoder.json"),
                                           data_path("tokenizers", "gpt2", "vocab.bpe"))
        data = GPTBlocks.from_text(["\n".join(lines[i:i + 20]) for i in range(0, len(lines), 20)], tok,
                                   max_length=shape["T"], batch_size=shape["B"], seed=seed)
    return [data.get_batch(step) for step in range(n)]



def bert_batches(torch: Any, shape: dict, n: int, seed: int = 0) -> list[dict]:
    import numpy as np

    from fastembed.data import mask_tokens

    B, T, V = shape["B"], shape["T"], shape["vocab_size"]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lengths = np.where(rng.random(B) < 0.9, T, rng.integers(T // 8, T, B))
        ids = rng.integers(5, V, (B, T))
        pos = np.arange(T)[None, :]
        ids[:, 0] = 2                                            # [CLS]
        ids[np.arange(B), lengths - 1] = 3                       # final [SEP]
        ids[np.arange(B), lengths // 2] = 3                      # [SEP] between A and B
        ids[pos >= lengths[:, None]] = 0                         # [PAD]
        special = (ids == 0) | (ids == 2) | (ids == 3)
        masked, labels = mask_tokens(ids, special_mask=special, vocab_size=V, mask_id=4, rng=rng,
                                     random_ids=np.arange(5, V))
        types = ((pos > lengths[:, None] // 2) & (pos < lengths[:, None])).astype(np.int64)
        out.append({"input_ids": torch.from_numpy(masked), "token_type_ids": torch.from_numpy(types),
                    "attention_mask": torch.from_numpy((pos < lengths[:, None]).astype(np.int64)),
                    "labels": torch.from_numpy(labels),
                    "next_sentence_label": torch.from_numpy(rng.integers(0, 2, B))})
    return out


def gpt_batches(torch: Any, shape: dict, n: int, seed: int = 0) -> list[dict]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        w = torch.randint(0, shape["vocab_size"], (shape["B"], shape["T"] + 1), generator=g)
        out.append({"input_ids": w[:, :-1].contiguous(), "labels": w[:, 1:].contiguous()})
    return out


# --------------------------------------------------------------------------- the two models


def make_pair(torch: Any, transformers: Any, kind: str, shape: dict, dropout: float) -> tuple[Any, Any]:
    """(ours, HF) with identical initial weights; both in train mode."""
    from fastembed.models import GPT, BertConfig, BertForPreTraining, GPTConfig
    from fastembed.models.hf import bert_config_to_hf, bert_state_to_hf, gpt_config_to_hf, gpt_state_to_hf

    torch.manual_seed(0)
    dims = dict(vocab_size=shape["vocab_size"], num_layers=shape["num_layers"], hidden_size=shape["hidden_size"],
                num_heads=shape["num_heads"], intermediate_size=4 * shape["hidden_size"],
                hidden_dropout=dropout, attention_dropout=dropout)
    if kind == "bert":
        ours = BertForPreTraining(BertConfig(**dims))
        hf_cfg = transformers.BertConfig(**bert_config_to_hf(ours.config, "BertForPreTraining"))
        hf = transformers.BertForPreTraining(hf_cfg)
        state = bert_state_to_hf(ours)
    else:
        ours = GPT(GPTConfig(**dims))
        hf_cfg = transformers.GPT2Config(**gpt_config_to_hf(ours.config))
        hf = transformers.GPT2LMHeadModel(hf_cfg)
        state = gpt_state_to_hf(ours)
    hf_cfg._attn_implementation = "sdpa"
    missing, unexpected = hf.load_state_dict(state, strict=False)
    allowed = ("cls.predictions.decoder", "lm_head.weight", "attn.bias", "attn.masked_bias", "position_ids")
    bad = [k for k in missing if not any(a in k for a in allowed)] + list(unexpected)
    if bad:
        raise RuntimeError(f"weight conversion left out {bad[:5]}")
    hf.tie_weights()
    return ours.train(), hf.train()


def hf_inputs(kind: str, batch: dict) -> dict:
    """The same batch in HF's conventions: GPT-2 shifts labels itself (labels = the inputs)."""
    if kind == "bert":
        return batch
    return {"input_ids": batch["input_ids"], "labels": batch["input_ids"]}


def ours_inputs(kind: str, batch: dict, *, for_fidelity: bool) -> dict:
    if kind == "gpt" and for_fidelity:   # score exactly what HF scores: the last position has no target there
        labels = batch["input_ids"].roll(-1, 1)
        labels[:, -1] = -100
        return {"input_ids": batch["input_ids"], "labels": labels}
    return batch


def _step_fn(model: Any, opt: Any, batches: list[dict]) -> Any:
    it = iter(range(10**9))

    def step() -> float:
        b = batches[next(it) % len(batches)]
        loss = model(**b).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())
    return step


# --------------------------------------------------------------------------- run


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    torch, transformers = optional_import("torch"), optional_import("transformers")
    kinds = ["bert", "gpt"] if args.model == "both" else [args.model]
    if torch is None or transformers is None:
        for k in kinds:
            recorder.skip(case=k, impl="fastembed", missing="torch" if torch is None else "transformers")
        return
    import fastembed

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(fastembed.get_num_threads())
    for kind in kinds:
        shape = (QUICK_BERT if kind == "bert" else QUICK_GPT) if args.quick else (BERT if kind == "bert" else GPT)
        _speed(torch, transformers, kind, shape, 2 if args.quick else args.steps, recorder)
        if args.fidelity or args.quick:
            _fidelity(torch, transformers, kind, shape, 4 if args.quick else 20)


def _batches(torch: Any, kind: str, shape: dict, n: int, seed: int) -> list[dict]:
    real = real_batches(torch, kind, shape, n, seed)
    if real is not None:
        return real
    print(f"{kind}: random-token batches (the --quick shapes, or no shared data)")
    return (bert_batches if kind == "bert" else gpt_batches)(torch, shape, n, seed)


def _speed(torch: Any, transformers: Any, kind: str, shape: dict, steps: int, recorder: Recorder) -> None:
    batches = _batches(torch, kind, shape, 4, seed=0)
    tokens = statistics.fmean(int(b["attention_mask"].sum()) if "attention_mask" in b else b["input_ids"].numel()
                              for b in batches)
    ours, hf = make_pair(torch, transformers, kind, shape, dropout=0.1)
    fns = {}
    for name, model, inputs in (("fastembed", ours, [ours_inputs(kind, b, for_fidelity=False) for b in batches]),
                                ("transformers", hf, [hf_inputs(kind, b) for b in batches])):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
        fns[name] = _step_fn(model, opt, inputs)
    for _ in range(2):                                   # warm-up: allocator, AdamW state
        for fn in fns.values():
            fn()
    times = alternate(fns, steps)
    label = f"{kind}-mini T={shape['T']} B={shape['B']}"
    for name, ts in times.items():
        recorder.add(case=label, impl=name, stats=Stats.of(ts), work=tokens, unit="tokens/s",
                     incumbent=name == "transformers", note="train step: fwd + bwd + AdamW")
    ratio = statistics.median(times["transformers"]) / statistics.median(times["fastembed"])
    print(f"{label}: fastembed {tokens / statistics.median(times['fastembed']):,.0f} tokens/s, transformers "
          f"{tokens / statistics.median(times['transformers']):,.0f} tokens/s: {ratio:.2f}x", flush=True)


def _fidelity(torch: Any, transformers: Any, kind: str, shape: dict, steps: int) -> None:
    batches = _batches(torch, kind, shape, steps, seed=1)
    ours, hf = make_pair(torch, transformers, kind, shape, dropout=0.0)
    curves = []
    for model, inputs in ((ours, [ours_inputs(kind, b, for_fidelity=True) for b in batches]),
                          (hf, [hf_inputs(kind, b) for b in batches])):
        opt = torch.optim.AdamW(model.parameters(), lr=5e-4, foreach=True)
        step = _step_fn(model, opt, inputs)
        curves.append([step() for _ in range(steps)])
    rel = [abs(a - b) / abs(b) for a, b in zip(*curves)]
    print(f"{kind} fidelity over {steps} steps: losses {curves[0][0]:.4f} -> {curves[0][-1]:.4f} (fastembed), "
          f"{curves[1][0]:.4f} -> {curves[1][-1]:.4f} (transformers); largest relative difference {max(rel):.2e} "
          f"at step {rel.index(max(rel)) + 1} (target 1e-3)", flush=True)
