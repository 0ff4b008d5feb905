"""Demo step 2: word2vec (skip-gram with negative sampling) on the corpus: neighbours, analogies,
the PCA pairs picture; then the bias tools (a direction from definitional pairs, projections,
WEAT, hard debiasing) with a before/after table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from .choices import analogies, present, probe_words, relation_pairs, word_counts
from .corpus import Corpus, words
from .report import Report

# Probe words for neighbours (those in the vocabulary are used; else frequent words).
PROBES = ("function", "list", "string", "file", "error", "true", "read", "king", "love", "ship", "house")

# Analogies a : b :: c : d, tried when all four words are in the vocabulary. The first groups
# suit documentation (plurals, verb forms); the last the prose of a --input (gender).
ANALOGIES = (
    ("function", "functions", "method", "methods"), ("argument", "arguments", "object", "objects"),
    ("file", "files", "string", "strings"), ("class", "classes", "module", "modules"),
    ("value", "values", "key", "keys"), ("element", "elements", "item", "items"),
    ("list", "lists", "tuple", "tuples"), ("byte", "bytes", "character", "characters"),
    ("read", "reads", "write", "writes"), ("return", "returns", "raise", "raises"),
    ("call", "called", "define", "defined"), ("open", "opened", "close", "closed"),
    ("man", "woman", "king", "queen"), ("he", "she", "his", "her"), ("brother", "sister", "father", "mother"),
    ("man", "woman", "boy", "girl"), ("king", "queen", "lord", "lady"),
)
# The bias tools need a direction between word pairs. On prose, gender (Bolukbasi et al.'s
# definitional pairs); on documentation, which hardly speaks of people, the same tools run on the
# axis it does have: reading vs writing (pairs written (write-side, read-side) like (female, male)).
READ_WRITE_PAIRS = (("write", "read"), ("writes", "reads"), ("writer", "reader"), ("output", "input"),
                    ("writing", "reading"), ("writable", "readable"), ("send", "receive"), ("encode", "decode"),
                    ("dump", "load"), ("put", "get"))
READ_WRITE_NEUTRAL = ("file", "socket", "buffer", "stream", "string", "list", "module", "function", "directory",
                      "data", "pipe", "object", "database", "line", "number", "text", "memory", "disk")
PROSE_NEUTRAL = ("servant", "soldier", "friend", "child", "person", "beauty", "strength", "love", "honour",
                 "home", "war", "gentle", "weak", "strong", "brave", "kind")
WEAT_SETS = {  # (X, Y) targets for each axis; A, B are the two sides of the axis' pairs
    "gender": (("science", "technology", "physics", "chemistry", "math", "engineering", "astronomy"),
               ("poetry", "art", "dance", "literature", "novel", "music", "drama")),
    "read/write": (("source", "parse", "scan", "fetch", "lookup", "search", "inspect"),
                   ("destination", "format", "print", "store", "save", "emit", "flush")),
}


def _present(kv: Any, items: Sequence[Any]) -> list[Any]:
    return present(kv, items)


def word2vec_step(corpus: Corpus, out: Path, report: Report, *, dim: int, epochs: int, min_count: int,
                  seed: int, progress: Any) -> Any:
    from ..word2vec import Word2Vec

    sentences = [words(s) for s in corpus.sentences]
    t0 = time.perf_counter()
    model = Word2Vec(sentences, vector_size=dim, window=5, negative=5, min_count=min_count, epochs=epochs, sg=1,
                     seed=seed, progress=progress)
    dt = time.perf_counter() - t0
    kv = model.wv
    n_words = sum(map(len, sentences))
    report.text(f"Skip-gram with negative sampling: each word predicts its neighbours (σ(u_o·v_c) pushed up for "
                f"words seen together, σ(−u_w·v_c) for 5 random words). {len(kv):,} words seen at least "
                f"{min_count} times, {dim} dimensions, {epochs} epochs over {n_words:,} words in {dt:.1f} s.", echo=True)
    relations = relation_pairs(word_counts(corpus), min_count=min_count)
    relations = {k: present(kv, v) for k, v in relations.items() if len(present(kv, v)) >= 2}
    if corpus.curated:
        probes, quads = _present(kv, PROBES), _present(kv, ANALOGIES)
        if len(probes) < 4:
            probes += [w for w in probe_words(kv.index_to_key) if w not in probes][:6 - len(probes)]
        report.text("Probe words and analogies: the demo's own lists for this documentation corpus.")
    else:
        probes, quads = probe_words(kv.index_to_key), analogies(relations)
        report.text("Probe words and analogies chosen from this text: frequent content words, and analogies "
                    "from word pairs that occur in it, found by spelling rules (" + "; ".join(
                        f"{k}: {len(v)} pairs" for k, v in relations.items()) + ").", echo=True)
    report.text("Nearest neighbours (cosine):")
    report.table(["word", "neighbours"], [[w, ", ".join(f"{n} ({s:.2f})" for n, s in kv.most_similar(w, topn=5))]
                                          for w in probes[:6]])
    rows, hits = [], 0
    for a, b, c, d in quads:
        got = [w for w, _ in kv.most_similar(positive=[b, c], negative=[a], topn=3)]
        hits += got[0] == d
        rows.append([f"{a} : {b} :: {c} : ?", d, ", ".join(got), "yes" if got[0] == d else "no"])
    if rows:
        report.text(f"Analogies by 3CosAdd (b − a + c, nearest word): {hits} of {len(rows)} right at the top:", echo=True)
        report.table(["analogy", "expected", "top 3", "right"], rows)
    else:
        report.text("No analogy of the demo's could be built from this corpus's vocabulary.", echo=True)
    report.number("word2vec_vocab", len(kv))
    report.number("analogies_right", f"{hits}/{len(rows)}")
    report.number("probe_words", list(probes[:6]))
    report.number("analogies", [list(q) for q in quads])
    report.number("relations", {k: [list(p) for p in v] for k, v in relations.items()})
    _pairs_figure(kv, relations, out, report, seed=seed)
    return model


def _pairs_figure(kv: Any, relations: dict, out: Path, report: Report, *, seed: int) -> None:
    """The pairs picture: for each of the (up to) two relations whose offsets agree best, the
    4 most parallel pairs (:func:`fastembed.word2vec.plot.most_parallel`), with how parallel they
    are next to the same measure for random pairs of frequent words."""
    import numpy as np

    from ..word2vec.plot import most_parallel, parallelism, plot_pairs

    chosen = {k: most_parallel(kv, v, 4) for k, v in relations.items() if len(v) >= 2}
    scored = sorted(((parallelism(kv, v), k) for k, v in chosen.items()), reverse=True)[:2]
    if not scored:
        report.text("No relation has two word pairs in this vocabulary: no pairs picture.", echo=True)
        return
    rng = np.random.default_rng(seed)
    common = [w for w in kv.index_to_key[:500] if w.isalpha()]
    baseline = float("nan")
    if len(common) >= 16:
        pick = rng.choice(len(common), size=16, replace=False)
        baseline = parallelism(kv, [(common[pick[2 * i]], common[pick[2 * i + 1]]) for i in range(8)])
    pairs = [p for _, k in scored for p in chosen[k]]
    groups = [k for _, k in scored for _ in chosen[k]]
    plot_pairs(kv, pairs, out / "word2vec_pairs.png", groups=groups,
               title="word2vec: word pairs in 2-D (PCA); parallel arrows = analogies")
    said = "; ".join(f"{k}: {c:.2f}" for c, k in scored)
    report.text(f"The pairs in the picture are the most parallel of their relation in the full {kv.vector_size}-"
                f"dimensional space. Mean cosine between their offset vectors (b − a of the unit vectors; 1 = "
                f"parallel): {said}; for 8 random pairs of frequent words: {baseline:.2f}. A 2-D projection keeps "
                "only part of the picture, so arrows that agree in the full space can still look tilted here.",
                echo=True)
    report.number("pairs_parallelism", {k: c for c, k in scored})
    report.number("pairs_parallelism_random", baseline)
    report.figure(out / "word2vec_pairs.png",
                  "word2vec pairs (PCA of the unit vectors): the arrows of a relation point the same way")


def bias_step(kv: Any, report: Report, *, min_pairs: int = 3) -> None:
    from ..word2vec import bias

    gendered = bias.used_pairs(kv, bias.DEFINITIONAL_PAIRS)
    if len(gendered) >= min_pairs:
        axis, pairs, neutral_probe = "gender", gendered, list(bias.OCCUPATIONS) + list(PROSE_NEUTRAL)
        equalize, specific = bias.EQUALIZE_PAIRS, bias.GENDER_SPECIFIC
        report.text(f"Gender direction from {len(pairs)} of Bolukbasi et al.'s definitional pairs found in the "
                    f"vocabulary: {', '.join(f'{f}/{m}' for f, m in pairs)}.", echo=True)
    else:
        axis, pairs = "read/write", bias.used_pairs(kv, READ_WRITE_PAIRS)
        if len(pairs) < 2:
            report.text("The vocabulary has neither enough gendered pairs nor the read/write pairs: no direction "
                        "to measure. Run the demo with `--input` on prose (a novel, news) to see the gender "
                        "table.", echo=True)
            return
        neutral_probe = list(READ_WRITE_NEUTRAL)
        equalize, specific = tuple(pairs), frozenset(w for p in pairs for w in p)
        report.text(f"This corpus hardly speaks of people ({len(gendered)} of the ten gender pairs occur), so the "
                    "tools run on an axis it does have, reading vs writing, from the pairs "
                    f"{', '.join(f'{f}/{m}' for f, m in pairs)}; the method is the same one that finds a gender "
                    "direction in prose (`--input` a novel to see that).", echo=True)
    g = bias.gender_direction(kv, pairs)
    words_ = _present(kv, neutral_probe)[:12]
    fair = bias.debias(kv, g, equalize=equalize, gender_specific=specific)
    before = dict(bias.project(kv, words_, g))
    after = dict(bias.project(fair, words_, g))
    f0, m0 = pairs[0]
    rows = [[w, f"{before[w]:+.3f}", f"{after[w]:+.1e}",
             f"{kv.similarity(w, f0) - kv.similarity(w, m0):+.3f}",
             f"{fair.similarity(w, f0) - fair.similarity(w, m0):+.1e}"] for w in words_]
    report.text(f"Projection of neutral words on the {axis} direction (positive = towards '{f0}'), and how much "
                f"closer each is to '{f0}' than to '{m0}', before and after hard debiasing (neutralise: remove "
                "the direction from every neutral word; equalise: make each pair symmetric about it):")
    report.table(["word", "projection before", "after", f"cos({f0}) − cos({m0}) before", "after"], rows)
    import numpy as np

    d = kv.get_vector(f0, norm=True) - kv.get_vector(m0, norm=True)
    agree = float(np.dot(d, g) / (np.linalg.norm(d) * np.linalg.norm(g) + 1e-12))
    differ = sum((before[w] > 0) != (kv.similarity(w, f0) - kv.similarity(w, m0) > 0) for w in words_)
    report.text(f"The columns: *projection* is the word's unit vector dotted with the {axis} direction, the main "
                f"direction of all {len(pairs)} pairs' differences; *cos({f0}) − cos({m0})* compares the word with "
                f"one pair only, which is the projection on that pair's own difference {f0} − {m0} (times its "
                f"length). That difference agrees with the direction only in part (cosine {agree:.2f}), so when a "
                f"word's projection is small the two can have opposite signs: here they differ in {differ} of "
                f"{len(words_)} rows. *After* is the same number once the direction is removed: about zero for "
                "both, up to float rounding.", echo=True)
    report.number("bias_sign_disagreements", differ)
    worst = max((abs(v) for v in after.values()), default=0.0)
    report.number("bias_max_projection_after", worst)
    x, y = (_present(kv, s) for s in WEAT_SETS[axis])
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    if len(x) >= 2 and len(y) >= 2:
        n = min(len(x), len(y))
        x, y = x[:n], y[:n]
        eff = bias.weat_effect_size(kv, x, y, a, b)
        p = bias.weat_p_value(kv, x, y, a, b, permutations=2000)
        s_after = bias.weat_score(fair, x, y, a, b)
        report.text(f"WEAT (Caliskan et al. 2017), targets X = {', '.join(x)} vs Y = {', '.join(y)}, attributes "
                    f"the two sides of the pairs: effect size {eff:+.2f} (p = {p:.3f}) before; test statistic "
                    f"after debiasing {s_after:+.1e} (every neutral word is now equally close to both sides).",
                    echo=True)
        report.number("weat_effect_size", eff)
    report.text(f"Largest |projection| of a neutral word after debiasing: {worst:.1e}.", echo=True)
