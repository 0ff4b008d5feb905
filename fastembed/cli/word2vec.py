"""fastembed word2vec: train word vectors and look inside them from the shell.

    fastembed word2vec train --input corpus.txt -o vectors.bin [--cbow] [--vector-size 100] [--epochs 5] ...
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

from . import _common as c


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("word2vec", help="train word2vec vectors; neighbours, analogies, evaluation",
                       description="Train word vectors and look inside them: neighbours, analogies, evaluation.")
    cmds = p.add_subparsers(dest="word2vec_command", metavar="ACTION", required=True)

    t = cmds.add_parser("train", help="train on a text file (one sentence per line, words split on white space)",
                        description="Train word vectors (skip-gram or CBOW with negative sampling) on a text file. "
                                    + __doc__.split("\n\n", 2)[2].strip())
    c.add_input(t, "a UTF-8 text file, one sentence per line, words split on white space", stdin=True,
                required="later")
    c.add_old_positional(t, "CORPUS")
    c.add_out(t, "the vectors file (.bin: binary, else text)", old=("--output",))
    t.add_argument("--cbow", action="store_true", help="CBOW instead of skip-gram (default: skip-gram)")
    for flag, kind, default, what in (
            ("--vector-size", c.positive_int, 100, "dimensions of a vector"),
            ("--window", c.positive_int, 5, "context words on each side, at most"),
            ("--negative", int, 5, "negative samples per word"),
            ("--min-count", c.positive_int, 5, "leave out words seen fewer times"),
            ("--epochs", c.positive_int, 5, "passes over the corpus"),
            ("--sample", float, 1e-3, "down-sampling threshold of frequent words"),
            ("--alpha", float, 0.025, "start learning rate")):
        t.add_argument(flag, type=kind, default=default, metavar="N" if kind is not float else "X",
                       help=f"{what} (default: %(default)s)")
    c.add_seed(t, "initial vectors, negative samples and down-sampling", 1)
    c.add_device(t, "cpu")
    c.add_threads(t, old=("--workers",))
    c.add_no_progress(t)
    c.add_quiet(t)
    c.set_command(t, _train, {"corpus_file": "--input", "workers": "--threads"})

    n = cmds.add_parser("neighbours", help="nearest words by cosine similarity",
                        description="The nearest words of each word, by cosine similarity.")
    _add_vectors(n)
    n.add_argument("words", nargs="+")
    n.add_argument("--topn", type=c.positive_int, default=10, metavar="N", help="neighbours per word (default: %(default)s)")
    c.add_quiet(n)
    c.set_command(n, _neighbours)

    a = cmds.add_parser("analogy", help="a : b :: c : ?", description="Solve a : b :: c : ? with the vectors.")
    _add_vectors(a)
    a.add_argument("a")
    a.add_argument("b")
    a.add_argument("c")
    a.add_argument("--method", choices=["3cosadd", "3cosmul"], default="3cosadd", help="default: %(default)s")
    a.add_argument("--topn", type=c.positive_int, default=5, metavar="N", help="answers (default: %(default)s)")
    c.add_quiet(a)
    c.set_command(a, _analogy)

    e = cmds.add_parser("evaluate", help="analogy accuracy and similarity correlation",
                        description="Analogy accuracy (3CosAdd and 3CosMul) and similarity correlation, as JSON.")
    _add_vectors(e)
    e.add_argument("--analogies", type=Path, help="questions-words.txt format (default: none)")
    e.add_argument("--similarity", type=Path, action="append", default=[],
                   help="word1 word2 score per line, repeatable (default: none)")
    e.add_argument("--restrict-vocab", type=c.positive_int, default=30000,
                   help="analogies: search the most frequent N words (default: %(default)s)")
    c.add_quiet(e)
    c.set_command(e, _evaluate)


def _add_vectors(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--vectors", type=Path, required=True, metavar="FILE",
                   help="word2vec vectors file (.bin: binary, else text); required")


def _load(path: Path):
    from ..word2vec import KeyedVectors

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
    from ..word2vec import Word2Vec
    from ..word2vec.io import check_output_path

    check_output_path(args.out)  # before training, not after an hour of it
    with c.as_file(args.input) as corpus:   # several epochs: standard input is kept in a temporary file
        model = Word2Vec(corpus_file=corpus, sg=0 if args.cbow else 1, vector_size=args.vector_size,
                         window=args.window, negative=args.negative, min_count=args.min_count, epochs=args.epochs,
                         sample=args.sample, alpha=args.alpha, seed=args.seed, workers=args.threads,
                         progress=c.progress(args), device=args.device or "cpu")
    model.wv.save_word2vec_format(args.out, binary=args.out.suffix == ".bin")
    rate = sum(s["corpus_words"] for s in model.epoch_stats) / max(sum(s["seconds"] for s in model.epoch_stats), 1e-9)
    print(f"{len(model.wv):,} words x {model.vector_size} dims from {model.corpus_total_words:,} corpus words, "
          f"{len(model.epoch_stats)} epochs at {rate:,.0f} words/s; loss per epoch: "
          + ", ".join(f"{s['mean_loss']:.4f}" for s in model.epoch_stats) + f"\nwrote {args.out}")
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
