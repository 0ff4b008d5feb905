"""Plain-numpy word2vec updates: the oracle the tests hold the native trainer to.

One centre word, given context words and negatives, with the trainer's sigmoid (a 1000-entry
table over [-6, 6]; a pair scored outside it is not updated, as in gensim) and its loss (−log σ).
"""

from __future__ import annotations

import numpy as np

MAX_EXP = 6.0
TABLE = 1000
_x = (2.0 * np.arange(TABLE + 1) / TABLE - 1.0) * MAX_EXP
SIGMOID = (1.0 / (1.0 + np.exp(-_x))).astype(np.float32)
LOG_SIGMOID = (-np.log1p(np.exp(-_x))).astype(np.float32)


def _index(f: float) -> int:
    return int(np.float32((np.float32(f) + np.float32(MAX_EXP)) * np.float32(TABLE / (2 * MAX_EXP)) + np.float32(0.5)))


def grad_scale(f: float, label: float) -> float:
    """label − σ(f), and 0 (no update) where σ is saturated, as gensim does."""
    if not -MAX_EXP < f < MAX_EXP:
        return 0.0
    return label - float(SIGMOID[_index(f)])


def nll(x: float) -> float:
    if x >= MAX_EXP:
        return float(np.exp(-x))
    if x <= -MAX_EXP:
        return float(-x + np.log1p(np.exp(x)))
    return -float(LOG_SIGMOID[_index(x)])


def sg_step(syn0: np.ndarray, syn1neg: np.ndarray, centre: int, contexts: list[int], negatives: list[int],
            alpha: float) -> float:
    """Skip-gram: each context word's input vector in turn against the centre's output vector and
    the given negatives (the trainer's shared negatives; with per-pair negatives it draws fresh
    ones for each context word)."""
    loss = 0.0
    for c in contexts:
        v = syn0[c].astype(np.float64)
        e = np.zeros_like(v)
        for target, label in [(centre, 1.0)] + [(n, 0.0) for n in negatives]:
            u = syn1neg[target].astype(np.float64)
            f = float(v @ u)
            loss += nll(f if label else -f)
            g = grad_scale(f, label) * alpha
            e += g * u
            syn1neg[target] = (u + g * v).astype(np.float32)
        syn0[c] = (v + e).astype(np.float32)
    return loss


def cbow_step(syn0: np.ndarray, syn1neg: np.ndarray, centre: int, contexts: list[int], negatives: list[int],
              alpha: float, cbow_mean: bool = True) -> float:
    h = syn0[contexts].astype(np.float64).sum(axis=0)
    if cbow_mean:
        h /= len(contexts)
    e = np.zeros_like(h)
    loss = 0.0
    for target, label in [(centre, 1.0)] + [(n, 0.0) for n in negatives]:
        u = syn1neg[target].astype(np.float64)
        f = float(h @ u)
        loss += nll(f if label else -f)
        g = grad_scale(f, label) * alpha
        e += g * u
        syn1neg[target] = (u + g * h).astype(np.float32)
    if not cbow_mean:
        e /= len(contexts)
    for c in contexts:
        syn0[c] = (syn0[c] + e).astype(np.float32)
    return loss


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """Mikolov's subsampling rule as word2vec.c and gensim apply it."""
    counts = np.asarray(counts, dtype=np.float64)
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1.0) * threshold / counts)
