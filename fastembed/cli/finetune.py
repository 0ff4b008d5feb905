"""fastembed finetune: fine-tune a BERT directory on a labelled task from the shell."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import _common as c

HELP = "fine-tune a pretrained encoder: classification, sentence pairs, QA spans, NER"
TASK_CHOICES = ("classify", "pair", "qa", "ner")
LAYER_CHOICES = ("last", "second_to_last", "sum_last_4", "concat_last_4", "embeddings", "scalar_mix")
DESCRIPTION = """\
Fine-tune a BERT directory on a labelled task.

  fastembed finetune --task classify --input glue/SST-2 --model models/minilm --out runs/sst2
  fastembed finetune --task pair --input glue/RTE --model models/minilm --out runs/rte --freeze-encoder
  fastembed finetune --task ner --input conll2003/train.txt conll2003/valid.txt --model ... --out runs/ner
  fastembed finetune --task qa --input squad/train-v1.1.json squad/dev-v1.1.json --model ... --out runs/qa

--input is a directory holding the train and dev files under their usual names (GLUE:
train.tsv, dev.tsv; CoNLL: train.txt, valid.txt or dev.txt; SQuAD: train.json or
train-v1.1.json, dev.json or dev-v1.1.json), or the two files, train first. The run writes
OUT/results.json and the best epoch's model to OUT/model/, a HuggingFace directory that
fastembed predict and transformers' AutoModelFor... classes load (a frozen run stores only its
head there, referring to --model, unless --save-full-model)."""

# task -> (train file names, dev file names) tried in an --input directory
_NAMES = {
    "classify": (("train.tsv",), ("dev.tsv",)),
    "pair": (("train.tsv",), ("dev.tsv",)),
    "ner": (("train.txt",), ("valid.txt", "dev.txt", "testa.txt")),
    "qa": (("train.json", "train-v1.1.json"), ("dev.json", "dev-v1.1.json")),
}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("finetune", help=HELP, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="Every option's default is in its help.")
    p.add_argument("--task", choices=TASK_CHOICES, required=True,
                   help="classify: one text; pair: two texts; qa: answer spans; ner: BIO tags; required")
    c.add_input(p, "a directory with the train and dev files, or the two files TRAIN DEV", nargs="+",
                old=("--data",))
    c.add_model(p, "HuggingFace BERT (config.json, model.safetensors, vocab.txt), e.g. pretrain bert's OUT/model")
    c.add_out(p, "the run directory (results.json, the best model in OUT/model); it must not hold a run already",
              kind="dir")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="train the head only, encoder frozen, no dropout (default: off, end to end)")
    p.add_argument("--epochs", type=int, default=3, help="default: %(default)s")
    c.add_batch_size(p, "examples per optimizer step", 32)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: 5e-5; frozen 1e-3)")
    p.add_argument("--head-lr", type=float, default=None, help="the head's peak rate (default: --lr)")
    p.add_argument("--warmup-ratio", type=float, default=None, metavar="R",
                   help="warm the learning rate up over this fraction of the steps (default: 0.1)")
    p.add_argument("--warmup-steps", type=int, default=None, metavar="N",
                   help="warm up over N steps instead of --warmup-ratio (default: use the ratio)")
    p.add_argument("--warmup", type=float, default=None, help=argparse.SUPPRESS)   # old: a ratio below 1, else steps
    c.add_max_length(p, "per row (default: 128, qa 384, or the model's positions if fewer)")
    p.add_argument("--max-train", type=int, default=None, metavar="N",
                   help="use a random N training examples (default: all)")
    p.add_argument("--max-dev", type=int, default=None, metavar="N", help="score a random N dev examples (default: all)")
    p.add_argument("--patience", type=int, default=None,
                   help="stop after this many epochs without dev improvement (default: never stop early)")
    p.add_argument("--layers", default="last", choices=LAYER_CHOICES,
                   help="encoder states the head reads (default: %(default)s)")
    p.add_argument("--save-full-model", action="store_true",
                   help="with --freeze-encoder, store the whole model in OUT/model so transformers can load it "
                        "(default: off, only the head and a reference to --model)")
    p.add_argument("--doc-stride", type=int, default=128, help="qa: tokens between window starts (default: %(default)s)")
    c.add_seed(p, "head init, data order and sampling", 0)
    c.add_device(p, "cuda when available, else cpu")
    c.add_common(p)
    c.set_command(p, run, {"train_data": "--input", "dev_data": "--input", "model_dir": "--model", "out_dir": "--out"})
    return p


def resolve_data(task: str, paths: list[Path]) -> tuple[Path, Path]:
    """(train file, dev file) from --input: a directory or two files; FileNotFoundError says what is missing."""
    if len(paths) == 2:
        for p in paths:
            if not Path(p).is_file():
                raise FileNotFoundError(f"--input: {p} is not a file")
        return Path(paths[0]), Path(paths[1])
    if len(paths) != 1:
        raise ValueError(f"--input takes a directory or two files (train, dev); got {len(paths)} paths")
    root = Path(paths[0])
    if not root.is_dir():
        raise FileNotFoundError(f"--input: {root} is not a directory; give a directory or the two files TRAIN DEV")
    found = []
    for names in _NAMES[task]:
        hit = next((root / n for n in names if (root / n).is_file()), None)
        if hit is None:
            raise FileNotFoundError(f"--input: {root} holds none of {', '.join(names)}")
        found.append(hit)
    return found[0], found[1]


def run(args: argparse.Namespace) -> int:
    train, dev = resolve_data(args.task, args.input)
    try:
        from ..finetune.loop import finetune
    except ImportError as e:   # torch is missing: say so in one line
        return c.missing(e)
    c.torch_threads(args)
    ratio, steps = args.warmup_ratio, args.warmup_steps
    if args.warmup is not None:
        c.warn_deprecated(args.func.parser, "--warmup", "--warmup-ratio or --warmup-steps")
        if ratio is not None or steps is not None:
            raise ValueError("give --warmup-ratio or --warmup-steps, not the old --warmup as well")
        ratio, steps = (args.warmup, None) if args.warmup < 1 else (None, int(args.warmup))
    r = finetune(args.task, args.model, train, dev, freeze_encoder=args.freeze_encoder, epochs=args.epochs,
                 batch_size=args.batch_size, lr=args.lr, head_lr=args.head_lr, warmup_ratio=ratio,
                 warmup_steps=steps, save_full_model=args.save_full_model,
                 max_length=args.max_length, seed=args.seed, patience=args.patience, out_dir=args.out,
                 progress=c.progress(args), max_train=args.max_train, max_dev=args.max_dev,
                 layers=args.layers, doc_stride=args.doc_stride, device=args.device)
    metric = r["metric"]
    print(f"{'epoch':>5}  {'train loss':>10}  dev {metric}")
    for row in r["epochs"]:
        print(f"{row['epoch']:>5}  {row['train_loss']:>10.4f}  {row['dev'][metric]:.4f}")
    print(f"best: epoch {r['best']['epoch']}, dev {metric} {r['best']['dev'][metric]:.4f}; "
          f"model in {args.out / 'model'}, results in {args.out / 'results.json'}")
    return 0
