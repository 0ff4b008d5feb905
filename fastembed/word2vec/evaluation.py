"""Analogy and word-similarity evaluation of word vectors (used by KeyedVectors)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

SCORE_BUDGET_BYTES = 256 << 20  # the analogy scores held at once


def _read_lines(path: str | os.PathLike) -> list[str]:
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:  # replacing the bytes would quietly turn words into misses
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02X} at offset {e.start}); "
                         "convert it first, e.g. iconv -f cp1252 -t utf-8") from None


def evaluate_analogies(kv: Any, path: str | os.PathLike, *, restrict_vocab: int = 30000, case_insensitive: bool = True,
                       method: str = "3cosadd", batch: int = 512) -> dict[str, Any]:
    if method not in ("3cosadd", "3cosmul"):
        raise ValueError(f"evaluate_analogies: method must be '3cosadd' or '3cosmul', got {method!r}")
    limit = kv._limit(restrict_vocab)
    keys = kv.index_to_key[:limit]
    # The restricted vocabulary; with case_insensitive the first (most frequent) casing wins.
    index: dict[str, int] = {}
    for i, k in enumerate(keys):
        kk = str(k).upper() if case_insensitive else str(k)
        index.setdefault(kk, i)
    sections: dict[str, dict[str, Any]] = {}
    questions: list[tuple[str, int, int, int, int]] = []
    section = "(no section)"
    for lineno, line in enumerate(_read_lines(path), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.split()
        if len(words) != 4:
            raise ValueError(f"{path}:{lineno}: an analogy line needs 4 words, got {len(words)}: {line[:80]!r}")
        s = sections.setdefault(section, {"correct": 0, "seen": 0, "total": 0})
        s["total"] += 1
        if case_insensitive:
            words = [w.upper() for w in words]
        ids = [index.get(w) for w in words]
        if any(i is None for i in ids):
            continue
        s["seen"] += 1
        questions.append((section, *ids))  # type: ignore[arg-type]
    if not sections:
        raise ValueError(f"{path}: no analogy questions (expected ': section' lines and 'a b c d' lines)")
    unit = kv.unit_vectors()[:limit]
    # A batch holds a few (batch, limit) float32 score matrices (3CosMul: five), so a large
    # restrict_vocab shrinks the batch: 512 x 3M words would be 30 GB.
    batch = max(1, min(batch, SCORE_BUDGET_BYTES // (5 * 4 * max(limit, 1))))
    for start in range(0, len(questions), batch):
        chunk = questions[start:start + batch]
        a, b, c, d = (np.array([q[j] for q in chunk]) for j in range(1, 5))
        if method == "3cosadd":
            query = unit[b] - unit[a] + unit[c]
            scores = query @ unit.T
        else:
            cos = [(unit[x] @ unit.T + 1.0) / 2.0 for x in (a, b, c)]
            scores = cos[1] * cos[2] / (cos[0] + 0.001)
        rows = np.arange(len(chunk))
        for x in (a, b, c):
            scores[rows, x] = -np.inf
        predicted = np.argmax(scores, axis=1)
        for q, p, want in zip(chunk, predicted, d):
            if p == want:
                sections[q[0]]["correct"] += 1
    for s in sections.values():
        s["accuracy"] = s["correct"] / s["seen"] if s["seen"] else 0.0
    correct = sum(s["correct"] for s in sections.values())
    seen = sum(s["seen"] for s in sections.values())
    total = sum(s["total"] for s in sections.values())
    return {"accuracy": correct / seen if seen else 0.0, "coverage": seen / total if total else 0.0,
            "correct": correct, "seen": seen, "total": total, "method": method, "restrict_vocab": limit,
            "sections": sections}


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as scipy.stats.rankdata)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    den = float(np.sqrt(np.sum(x * x) * np.sum(y * y)))
    return float(np.sum(x * y) / den) if den > 0 else float("nan")


def evaluate_similarity(kv: Any, path: str | os.PathLike, *, case_insensitive: bool = True,
                        delimiter: str | None = None) -> dict[str, Any]:
    if case_insensitive:
        index: dict[str, int] = {}
        for i, k in enumerate(kv.index_to_key):
            index.setdefault(str(k).lower(), i)
    else:
        index = {str(k): i for i, k in enumerate(kv.index_to_key)}
    unit = kv.unit_vectors()
    ours, gold = [], []
    total = oov = 0
    for lineno, line in enumerate(_read_lines(path), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(delimiter) if delimiter else line.split()
        try:
            w1, w2, score = parts[0], parts[1], float(parts[2])
        except (IndexError, ValueError):
            if not ours and total == 0:
                continue  # a header line
            raise ValueError(f"{path}:{lineno}: expected 'word1 word2 score', got {line[:80]!r}") from None
        if not math.isfinite(score):
            raise ValueError(f"{path}:{lineno}: the score {parts[2]!r} is not a finite number")
        total += 1
        if case_insensitive:
            w1, w2 = w1.lower(), w2.lower()
        i, j = index.get(w1), index.get(w2)
        if i is None or j is None:
            oov += 1
            continue
        ours.append(float(unit[i] @ unit[j]))
        gold.append(score)
    if len(ours) < 2:
        raise ValueError(f"{path}: fewer than two word pairs are in the vocabulary ({len(ours)} of {total})")
    return {"spearman": pearson(rankdata(np.array(ours)), rankdata(np.array(gold))),
            "pearson": pearson(np.array(ours), np.array(gold)), "pairs": len(ours), "total": total,
            "oov_ratio": oov / total if total else 0.0}
