"""``fastembed finetune``: fine-tune a BERT directory on a labelled task from the shell.

    fastembed finetune --task classify --data glue/SST-2 --model models/minilm --out runs/sst2
    fastembed finetune --task pair --data glue/RTE --model models/minilm --out runs/rte --freeze-encoder
    fastembed finetune --task ner --data conll2003/train.txt conll2003/valid.txt --model ... --out runs/ner
    fastembed finetune --task qa --data squad/train-v1.1.json squad/dev-v1.1.json --model ... --out runs/qa

``--data`` is a directory holding the train and dev files under their usual names (GLUE:
train.tsv, dev.tsv; CoNLL: train.txt, valid.txt or dev.txt; SQuAD: train.json / train-v1.1.json,
dev.json / dev-v1.1.json), or the two files, train first. The run writes ``OUT/results.json``
and the best checkpoint under ``OUT/checkpoints/``. PyTorch is imported only when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

FINETUNE_HELP = "fine-tune a pretrained encoder: classification, sentence pairs, QA spans, NER"
TASK_CHOICES = ("classify", "pair", "qa", "ner")

# task -> (train file names, dev file names) tried in a --data directory
_NAMES = {
    "classify": (("train.tsv",), ("dev.tsv",)),
    "pair": (("train.tsv",), ("dev.tsv",)),
    "ner": (("train.txt",), ("valid.txt", "dev.txt", "testa.txt")),
    "qa": (("train.json", "train-v1.1.json"), ("dev.json", "dev-v1.1.json")),
}


def add_parser(sub: argparse._SubParsersAction, help: str = FINETUNE_HELP) -> argparse.ArgumentParser:
    """Add ``finetune`` to a subcommand set (``fastembed``'s); returns its parser."""
    p = sub.add_parser("finetune", help=help, description=__doc__.splitlines()[0],
                       epilog="Every option's default is in its help.")
    p.add_argument("--task", choices=TASK_CHOICES, required=True,
                   help="classify: one text; pair: two texts; qa: answer spans; ner: BIO tags; required")
    p.add_argument("--data", type=Path, nargs="+", required=True, metavar="DIR_OR_FILES",
                   help="a directory with the train and dev files, or TRAIN DEV; required")
    p.add_argument("--model", type=Path, required=True, metavar="DIR",
                   help="HuggingFace BERT directory (config.json, model.safetensors, vocab.txt); required")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="run directory (results, best checkpoint); required, and it must not hold a run already")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="train the head only, encoder frozen, no dropout (default: off, end to end)")
    p.add_argument("--epochs", type=int, default=3, help="default: %(default)s")
    p.add_argument("--batch-size", type=int, default=32, help="default: %(default)s")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: 5e-5; frozen 1e-3)")
    p.add_argument("--head-lr", type=float, default=None, help="the head's peak rate (default: --lr)")
    p.add_argument("--warmup", type=float, default=0.1,
                   help="warmup: a fraction of the steps, or a step count when >= 1 (default: %(default)s)")
    p.add_argument("--max-length", type=int, default=None,
                   help="tokens per row (default: 128, qa 384, or the model's positions if fewer)")
    p.add_argument("--max-train", type=int, default=None, metavar="N",
                   help="use a random N training examples (default: all)")
    p.add_argument("--max-dev", type=int, default=None, metavar="N", help="score a random N dev examples (default: all)")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without dev improvement (default: never stop early)")
    p.add_argument("--layers", default="last",
                   choices=("last", "second_to_last", "sum_last_4", "concat_last_4", "embeddings", "scalar_mix"),
                   help="encoder states the head reads (default: %(default)s; fastembed.finetune.heads.LAYER_CHOICES)")
    p.add_argument("--doc-stride", type=int, default=128, help="qa: tokens between window starts (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="head init, data order and sampling (default: %(default)s)")
    p.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: off, a bar on a terminal)")
    p.set_defaults(func=_finetune)
    return p


def resolve_data(task: str, paths: list[Path]) -> tuple[Path, Path]:
    """(train file, dev file) from ``--data``: a directory or two files; FileNotFoundError says what is missing."""
    if len(paths) == 2:
        for p in paths:
            if not p.is_file():
                raise FileNotFoundError(f"--data: {p} is not a file")
        return paths[0], paths[1]
    if len(paths) != 1:
        raise ValueError(f"--data takes a directory or two files (train, dev); got {len(paths)} paths")
    root = paths[0]
    if not root.is_dir():
        raise FileNotFoundError(f"--data: {root} is not a directory; give a directory or the two files TRAIN DEV")
    found = []
    for names in _NAMES[task]:
        hit = next((root / n for n in names if (root / n).is_file()), None)
        if hit is None:
            raise FileNotFoundError(f"--data: {root} holds none of {', '.join(names)}")
        found.append(hit)
    return found[0], found[1]


def _finetune(args: argparse.Namespace) -> int:
    from .loop import finetune

    train, dev = resolve_data(args.task, args.data)
    r = finetune(args.task, args.model, train, dev, freeze_encoder=args.freeze_encoder, epochs=args.epochs,
                 batch_size=args.batch_size, lr=args.lr, head_lr=args.head_lr, warmup=args.warmup,
                 max_length=args.max_length, seed=args.seed, patience=args.patience, out_dir=args.out,
                 progress=False if args.no_progress else None, max_train=args.max_train, max_dev=args.max_dev,
                 layers=args.layers, doc_stride=args.doc_stride, device=args.device)
    metric = r["metric"]
    print(f"{'epoch':>5}  {'train loss':>10}  dev {metric}")
    for row in r["epochs"]:
        print(f"{row['epoch']:>5}  {row['train_loss']:>10.4f}  {row['dev'][metric]:.4f}")
    print(f"best: epoch {r['best']['epoch']}, dev {metric} {r['best']['dev'][metric]:.4f}; "
          f"results in {args.out / 'results.json'}")
    return 0
