"""word2vec training: fastembed against gensim (``corpus_file`` mode, its fastest) in the same
script, same corpus (``words.txt`` from the shared data's make_corpus.py, about 5.1 M words in
1000-word lines), same settings: 100 dimensions, window 5, 5 negatives, sample 1e-3, min_count
5, 5 epochs, the same number of threads.

fastembed's skip-gram shares negatives within a window (its default: one draw per side of the
centre); "per-pair-neg" is the word2vec.c / gensim scheme. Throughput is corpus words (all of
them, as gensim counts) × epochs per wall second of training (and per CPU second in the note;
vocabulary building is not timed), the mean over seeds; quality is analogy accuracy on Google's
questions-words (3CosAdd and 3CosMul, restricted to the 30,000 most frequent words, with
coverage) and Spearman correlation on WordSim-353 and SimLex-999, all computed by fastembed's
evaluation code for both models.

**gensim's learning-rate schedule.** In ``corpus_file`` mode each gensim worker trains its own
part of the file and decays alpha by *its own* progress against the count it is given for the
whole corpus (``word2vec_corpusfile.pyx``: ``get_next_alpha(..., total_sentences,
expected_examples, ...)``), so with W workers an epoch advances the schedule by only 1/W of an
epoch, and with 2 workers the last word trains at alpha 0.0026 instead of min_alpha 1e-4. By
default this script gives gensim the count per worker (``total_examples = corpus_count /
threads``), which makes its schedule the linear decay over all epochs that the settings say and
that fastembed runs; ``--gensim-schedule as-called`` passes the whole corpus's count instead
(gensim's documented call), whose higher learning rate helps CBOW (about +0.5 points 3CosAdd
here) and gives fastembed the same gain when it is run on that schedule. Speed does not depend
on it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from .harness import Recorder, Stats, benchmark_corpus, optional_import

NAME = "word2vec"
DESCRIPTION = "word2vec skip-gram / CBOW training (words/s) and quality: fastembed vs gensim"

SETTINGS = dict(vector_size=100, window=5, negative=5, sample=1e-3, min_count=5, epochs=5)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default 3)")
    parser.add_argument("--cbow", action="store_true", help="also run CBOW (sg=0) against gensim's CBOW")
    parser.add_argument("--cbow-only", action="store_true", help="run only CBOW (sg=0) against gensim's CBOW")
    parser.add_argument("--gensim-schedule", choices=("linear", "as-called"), default="linear",
                        help="gensim's alpha schedule in corpus_file mode: 'linear' (the default: per-worker counts, "
                             "so alpha decays linearly over all epochs as fastembed's does) or 'as-called' (the "
                             "whole corpus's count; see the module docstring)")
    parser.add_argument("--no-shared", action="store_true",
                        help="skip fastembed's per-pair-negatives variant (skip-gram's default shares them)")


def _quality(kv: Any, data: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    q = data("wordsim/gensim/questions-words.txt")
    for method in ("3cosadd", "3cosmul"):
        r = kv.evaluate_analogies(q, restrict_vocab=30000, method=method)
        out[method] = 100 * r["accuracy"]
        out["coverage"] = 100 * r["coverage"]
    out["ws353"] = kv.evaluate_similarity(data("wordsim/gensim/wordsim353.tsv"))["spearman"]
    out["simlex"] = kv.evaluate_similarity(data("wordsim/eval-word-vectors/EN-SIMLEX-999.txt"))["spearman"]
    return out


def _mean(dicts: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.fmean(d[k] for d in dicts) for k in dicts[0]}


def _note(q: dict[str, float], cpu_rate: float) -> str:
    return (f"3CosAdd {q['3cosadd']:.2f}% 3CosMul {q['3cosmul']:.2f}% (coverage {q['coverage']:.1f}%) "
            f"WS353 {q['ws353']:.3f} SimLex {q['simlex']:.3f}; {cpu_rate / 1e3:.0f}k words/CPU-s")


def run(args: argparse.Namespace, recorder: Recorder) -> None:
    import fastembed
    from fastembed._data import data_path
    from fastembed.word2vec import KeyedVectors, Word2Vec

    threads = fastembed.get_num_threads()
    corpus = benchmark_corpus("words.txt")
    settings = dict(SETTINGS)
    seeds = args.seeds
    if args.quick:  # the first 300k words, 1 epoch, one seed: checks that it runs
        small = corpus.with_name("words-quick.txt")
        if not small.exists():
            small.write_text("\n".join(corpus.read_text().splitlines()[:300]) + "\n")
        corpus, settings["epochs"], seeds = small, 1, 1
    gensim_models = optional_import("gensim.models")
    configs = ([] if args.cbow_only else [("skip-gram", 1)]) + ([("CBOW", 0)] if args.cbow or args.cbow_only else [])
    for label, sg in configs:
        case = f"{label}, {threads} threads"
        runs: dict[str, list[tuple[float, float, dict[str, float]]]] = {}

        def timed(name: str, build, train) -> None:
            """Vocabulary first (not timed: gensim scans in Python), then the timed training."""
            model = build()
            w0, c0 = time.perf_counter(), time.process_time()
            kv, words = train(model)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            runs.setdefault(name, []).append((words / wall, words / cpu, _quality(kv, data_path)))
            print(f"  {case} {name}: {words / wall / 1e3:.0f}k words/s", flush=True)

        for seed in range(1, seeds + 1):
            def ours_build(shared: bool | None = None, seed: int = seed):
                m = Word2Vec(sg=sg, workers=threads, seed=seed, shared_negatives=shared, progress=False, **settings)
                m.build_vocab(corpus_file=corpus)
                return m

            def ours_train(m):
                m.train()
                return m.wv, m.corpus_total_words * settings["epochs"]

            timed("fastembed", ours_build, ours_train)
            if sg and not args.no_shared:
                timed("fastembed per-pair-neg", lambda: ours_build(False), ours_train)
            if gensim_models is not None:
                def theirs_build(seed: int = seed):
                    m = gensim_models.Word2Vec(sg=sg, workers=threads, seed=seed, **settings)
                    m.build_vocab(corpus_file=str(corpus))
                    return m

                def theirs_train(m):
                    examples = m.corpus_count if args.gensim_schedule == "as-called" else \
                        max(1, round(m.corpus_count / threads))
                    m.train(corpus_file=str(corpus), total_examples=examples,
                            total_words=m.corpus_total_words, epochs=m.epochs)
                    kv = KeyedVectors(list(m.wv.index_to_key), m.wv.vectors)
                    return kv, m.corpus_total_words * settings["epochs"]

                timed("gensim", theirs_build, theirs_train)
        for name, rs in runs.items():
            rate = statistics.fmean(r[0] for r in rs)
            cpu_rate = statistics.fmean(r[1] for r in rs)
            stats = Stats(median=1.0 / rate, min=1.0 / max(r[0] for r in rs), max=1.0 / min(r[0] for r in rs),
                          mean=1.0 / rate, repeats=len(rs), number=1)
            recorder.add(case=case, impl=name, stats=stats, work=1.0, unit="words/s", incumbent=name == "gensim",
                         note=_note(_mean([r[2] for r in rs]), cpu_rate))
        if gensim_models is None:
            recorder.skip(case=case, impl="gensim", missing="gensim", incumbent=True)
