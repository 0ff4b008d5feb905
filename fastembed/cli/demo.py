"""fastembed demo: the main job end to end on real text that needs no download (see fastembed.demo)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import _common as c

DESCRIPTION = """\
The lecture, end to end, on real text that needs no download: the native core checks itself;
a byte-level BPE and a WordPiece vocabulary are trained; word2vec vectors with neighbours,
analogies and a picture; a tiny GPT and a tiny BERT are pretrained; a classifier is fine-tuned
frozen and end to end; features from several layers; bias tools on the word vectors. Everything
lands in the output folder: report.md with every number and picture, the PNGs, the corpus, the
tokenizers and both models in HuggingFace format (gpt/model, bert/model). The default corpus is
CPython's own documentation. --quick is a smaller run of every step (under a minute on 2 cores);
the default takes a few minutes."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job end to end on data that needs no download",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a smaller run of every step, under a minute on 2 cores (default: off)")
    c.add_input(p, "a UTF-8 text file to use instead of CPython's documentation (default: that documentation)",
                required=False, old=("--corpus",))
    c.add_out(p, "the folder for report.md, pictures and models", kind="dir", required=False,
              default=Path("fastembed-demo"))
    p.add_argument("--vocab-size", type=c.positive_int, default=None, metavar="N",
                   help="BPE and WordPiece vocabulary size (default: 2048 and 3000; --quick 1024 and 1500)")
    c.add_seed(p, "every step's initialisation and sampling", 0)
    c.add_common(p)
    c.set_command(p, run, {"corpus": "--input", "out": "--out"})


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    if args.threads is not None:
        c.torch_threads(args)
    return run_demo(quick=args.quick, corpus=args.input, out=args.out, vocab_size=args.vocab_size, seed=args.seed,
                    progress=c.progress(args))
