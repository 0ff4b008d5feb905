"""``fastembed word2vec``: train word vectors and look inside them from the shell.

    fastembed word2vec train corpus.txt -o vectors.bin [--cbow] [--vector-size 100] [--epochs 5] ...
    fastembed word2vec neighbours -v vectors.bin king queen        # nearest words of each
    fastembed word2vec analogy -v vectors.bin man king woman       # man : king :: woman : ?
    fastembed word2vec evaluate -v vectors.bin --analogies questions-words.txt --similarity ws353.tsv

Vector files are word2vec's format (binary when the name ends in .bin, else text), readable by
gensim and word2vec.c.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _at_least_one(text: str) -> int:
    """argparse type for counts: a clear usage error for --topn 0 instead of an empty answer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("word2vec", help="train word2vec vectors; neighbours, analogies, evaluation",
                       description=__doc__.splitlines()[0])
    cmds = p.add_subparsers(dest="word2vec_command", metavar="ACTION", required=True)

    t = cmds.add_parser("train", help="train on a text file (one sentence per line, words split on whitespace)")
    t.add_argument("corpus", type=Path)
    t.add_argument("-o", "--output", type=Path, required=True, help="vectors file (.bin: binary, else text)")
    t.add_argument("--cbow", action="store_true", help="CBOW instead of skip-gram")
    for flag, kind, default in (("--vector-size", int, 100), ("--window", int, 5), ("--negative", int, 5),
                                ("--min-count", int, 5), ("--epochs", int, 5), ("--sample", float, 1e-3),
                                ("--alpha", float, 0.025), ("--seed", int, 1)):
        t.add_argument(flag, type=kind, default=default, help=f"(default {default})")
    t.add_argument("--workers", type=int, default=None, help="threads (default: fastembed's thread count)")
    t.set_defaults(func=_train)

    n = cmds.add_parser("neighbours", help="nearest words by cosine similarity")
    n.add_argument("-v", "--vectors", type=Path, required=True)
    n.add_argument("words", nargs="+")
    n.add_argument("--topn", type=_at_least_one, default=10)
    n.set_defaults(func=_neighbours)

    a = cmds.add_parser("analogy", help="a : b :: c : ?")
    a.add_argument("-v", "--vectors", type=Path, required=True)
    a.add_argument("a")
    a.add_argument("b")
    a.add_argument("c")
    a.add_argument("--method", choices=["3cosadd", "3cosmul"], default="3cosadd")
    a.add_argument("--topn", type=_at_least_one, default=5)
    a.set_defaults(func=_analogy)

    e = cmds.add_parser("evaluate", help="analogy accuracy and similarity correlation")
    e.add_argument("-v", "--vectors", type=Path, required=True)
    e.add_argument("--analogies", type=Path, help="questions-words.txt format")
    e.add_argument("--similarity", type=Path, action="append", default=[], help="word1 word2 score (repeatable)")
    e.add_argument("--restrict-vocab", type=_at_least_one, default=30000)
    e.set_defaults(func=_evaluate)


def _load(path: Path):
    from . import KeyedVectors

    binary = path.suffix == ".bin"
    try:
        return KeyedVectors.load_word2vec_format(path, binary=binary)
    except ValueError as e:
        # The name picks the format; a file that reads as the other one gets that said.
        try:
            KeyedVectors.load_word2vec_format(path, binary=not binary)
        except (ValueError, OSError):
            raise e from None
        fmt, other = ("binary", "text") if binary else ("text", "binary")
        rename = "rename it without .bin" if binary else "rename it to end in .bin"
        raise ValueError(f"{path}: the name says the {fmt} format, but the file is in the word2vec {other} format; "
                         f"{rename}") from None


def _check_words(kv, words) -> None:
    missing = [w for w in words if w not in kv]
    if missing:
        raise KeyError(f"not in the vocabulary ({len(kv):,} words): " + ", ".join(map(repr, missing)))


def _train(args: argparse.Namespace) -> int:
    from . import Word2Vec
    from .io import check_output_path

    check_output_path(args.output)  # before training, not after an hour of it
    model = Word2Vec(corpus_file=args.corpus, sg=0 if args.cbow else 1, vector_size=args.vector_size,
                     window=args.window, negative=args.negative, min_count=args.min_count, epochs=args.epochs,
                     sample=args.sample, alpha=args.alpha, seed=args.seed, workers=args.workers)
    model.wv.save_word2vec_format(args.output, binary=args.output.suffix == ".bin")
    rate = sum(s["corpus_words"] for s in model.epoch_stats) / max(sum(s["seconds"] for s in model.epoch_stats), 1e-9)
    print(f"{len(model.wv):,} words x {model.vector_size} dims from {model.corpus_total_words:,} corpus words, "
          f"{len(model.epoch_stats)} epochs at {rate:,.0f} words/s; loss per epoch: "
          + ", ".join(f"{s['mean_loss']:.4f}" for s in model.epoch_stats) + f"\nwrote {args.output}")
    return 0


def _neighbours(args: argparse.Namespace) -> int:
    kv = _load(args.vectors)
    _check_words(kv, args.words)
    for w in args.words:
        print(f"{w}: " + ", ".join(f"{k} ({s:.3f})" for k, s in kv.most_similar(w, topn=args.topn)))
    return 0


def _analogy(args: argparse.Namespace) -> int:
    kv = _load(args.vectors)
    _check_words(kv, [args.a, args.b, args.c])
    res = kv.analogy(args.a, args.b, args.c, method=args.method, topn=args.topn)
    print(f"{args.a} : {args.b} :: {args.c} : " + ", ".join(f"{k} ({s:.3f})" for k, s in res))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    if not args.analogies and not args.similarity:
        raise ValueError("nothing to evaluate: give --analogies FILE and/or --similarity FILE")
    kv = _load(args.vectors)
    out = {}
    if args.analogies:
        for method in ("3cosadd", "3cosmul"):
            r = kv.evaluate_analogies(args.analogies, restrict_vocab=args.restrict_vocab, method=method)
            out[method] = {k: r[k] for k in ("accuracy", "coverage", "correct", "seen", "total")}
    for path in args.similarity:
        out[path.name] = kv.evaluate_similarity(path)
    print(json.dumps(out, indent=2))
    return 0
