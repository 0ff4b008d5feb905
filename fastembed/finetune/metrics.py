"""Evaluation metrics: accuracy, SQuAD exact match / F1, and entity-level F1 by conlleval's rules.

All scores are fractions in [0, 1] (the official scripts print percentages: multiply by 100).

**SQuAD** (the v1.1 evaluation script): an answer is normalized by lower-casing, removing
punctuation (``string.punctuation``), removing the articles a/an/the, and collapsing white
space. Exact match: the normalized prediction equals a normalized gold answer. F1: over the
bags of words of prediction and gold. Each question takes its best score over its gold answers;
the totals are means over questions.

**Entities** (CoNLL-2000/2003's ``conlleval``): an entity is a maximal run of tags of one type.
It starts at ``B-X``, at ``S-X``, and at ``I-X`` or ``E-X`` when the previous tag was O, of
another type, or closed an entity (``E``, ``S``); so "O I-PER" and "B-LOC I-PER" both start a
PER entity at the ``I-PER``. An entity counts as correct when the gold tags have one of the same
type with the same first and last word. Precision = correct / predicted entities, recall =
correct / gold entities, F1 = their harmonic mean (0 when either is 0).

>>> entities(["B-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"])
[('PER', 0, 1), ('LOC', 3, 3), ('LOC', 4, 4), ('ORG', 5, 5)]
>>> round(squad_f1("the Eiffel tower", "Eiffel Tower in Paris"), 3)
0.667
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Any, Iterable, Sequence

import numpy as np


def accuracy(predictions: Sequence[Any], gold: Sequence[Any]) -> float:
    """Share of positions where ``predictions`` equals ``gold``."""
    if len(predictions) != len(gold):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold labels")
    if not len(gold):
        raise ValueError("accuracy of zero examples is undefined")
    return float(np.mean(np.asarray(predictions) == np.asarray(gold)))

# --------------------------------------------------------------------------- SQuAD

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(s: str) -> str:
    """SQuAD v1.1's normalization: lower, drop punctuation, drop articles, squeeze white space."""
    s = s.lower()
    s = "".join(c for c in s if c not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def squad_exact(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def squad_f1(prediction: str, gold: str) -> float:
    p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: dict[str, str], gold: dict[str, Sequence[str]]) -> dict[str, float]:
    """``{"exact_match", "f1"}`` over the questions of ``gold`` (id -> gold answer texts); a
    question without a prediction scores 0, as in the official script."""
    if not gold:
        raise ValueError("no questions to score")
    em = f1 = 0.0
    for qid, answers in gold.items():
        if not answers:
            raise ValueError(f"question {qid!r} has no gold answer to score against")
        pred = predictions.get(qid, "")
        em += max(squad_exact(pred, a) for a in answers)
        f1 += max(squad_f1(pred, a) for a in answers)
    return {"exact_match": em / len(gold), "f1": f1 / len(gold)}

# --------------------------------------------------------------------------- entities (conlleval)


def _split_tag(tag: str) -> tuple[str, str]:
    """("B", "PER") from "B-PER"; ("O", "") from "O"."""
    if tag == "O":
        return "O", ""
    prefix, dash, kind = tag.partition("-")
    if not dash or prefix not in ("B", "I", "E", "S") or not kind:
        raise ValueError(f"tag {tag!r} is not 'O' or PREFIX-TYPE with PREFIX one of B, I, E, S (BIO / IOBES)")
    return prefix, kind


def _ends(prev: str, prev_type: str, tag: str, kind: str) -> bool:
    """conlleval's endOfChunk: does the chunk before this tag end here?"""
    if prev in ("E", "S"):
        return True
    if prev in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev != "O" and prev_type != kind


def _starts(prev: str, prev_type: str, tag: str, kind: str) -> bool:
    """conlleval's startOfChunk: does a chunk start at this tag?"""
    if tag in ("B", "S"):
        return True
    if prev in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag != "O" and prev_type != kind


def entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, first word, last word) of every entity in one sentence's tags, by conlleval's rules."""
    out = []
    prev, prev_type, start = "O", "", -1
    for i, t in enumerate(list(tags) + ["O"]):        # a final O closes the last entity
        tag, kind = _split_tag(t)
        if start >= 0 and _ends(prev, prev_type, tag, kind):
            out.append((prev_type, start, i - 1))
            start = -1
        if _starts(prev, prev_type, tag, kind):
            start = i
        prev, prev_type = tag, kind
    return out


def entity_scores(gold: Iterable[Sequence[str]], predicted: Iterable[Sequence[str]]) -> dict[str, Any]:
    """Entity-level ``precision``, ``recall``, ``f1`` over sentences (lists of tags), plus the
    counts and a ``per_type`` breakdown."""
    gold, predicted = list(gold), list(predicted)
    if len(gold) != len(predicted):
        raise ValueError(f"{len(predicted)} predicted sentences for {len(gold)} gold sentences")
    counts: dict[str, list[int]] = {}                  # type -> [correct, predicted, gold]
    for n, (g, p) in enumerate(zip(gold, predicted)):
        if len(g) != len(p):
            raise ValueError(f"sentence {n}: {len(p)} predicted tags for {len(g)} gold tags")
        ge, pe = set(entities(g)), set(entities(p))
        for e in ge | pe:
            c = counts.setdefault(e[0], [0, 0, 0])
            c[0] += e in ge and e in pe
            c[1] += e in pe
            c[2] += e in ge
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    out: dict[str, Any] = _prf(*total)
    out.update(correct=total[0], predicted=total[1], gold=total[2],
               per_type={k: _prf(*c) for k, c in sorted(counts.items())})
    return out


def _prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}
