"""BERT's sentence-pair instances: ``[CLS] A [SEP] B [SEP]`` built as create_pretraining_data.py does.

For each document, sentences are gathered into a chunk until it holds about ``max_length - 3``
tokens (with probability ``short_seq_prob`` a shorter random target, so the model also sees
short inputs as in fine-tuning). The chunk is cut at a random sentence boundary into A and B,
and the pair gets a sentence-level label:

- ``nsp="random"`` (BERT's next sentence prediction): half the time B is the true continuation
  (label 0, "is next", HF's ``next_sentence_label`` convention), half the time B is text from a
  random other document (label 1) and the sentences of the chunk that B would have used go back
  to be used by the next chunk;
- ``nsp="swap"`` (ALBERT's sentence order prediction, Lan et al. 2020): B is always the true
  continuation, and half the time the two are swapped, ``[CLS] B [SEP] A [SEP]`` (label 1). Both
  segments come from one document, so topic gives nothing away: only order does.

A pair longer than ``max_length - 3`` tokens loses one token at a time from its longer side,
from the front or the back at random. All instances are packed in numpy arrays (:class:`Instances`),
not lists of dicts: a few million instances take a few hundred MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._renamed import UNSET, renamed_arg, renamed_attribute

NSP_MODES = ("random", "swap")


@dataclass
class Instances:
    """N packed instances. Row i is ``ids[i, :lengths[i]]`` = [CLS] A [SEP] B [SEP], then pad_id.

    ids: (N, L) int32. lengths: (N,) real tokens. segment_start: (N,) position of B's first
    token (``len(A) + 2``): token type 0 before it, 1 from it on. labels: (N,) the
    next_sentence_label (0: B follows A, 1: it does not).
    """

    ids: np.ndarray
    lengths: np.ndarray
    segment_start: np.ndarray
    labels: np.ndarray
    cls_id: int
    sep_id: int
    pad_id: int

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def max_length(self) -> int:
        """Tokens per instance, padding included (the width of ``ids``)."""
        return self.ids.shape[1]

    max_seq_len = renamed_attribute("Instances", "max_seq_len", "max_length")

    def segments(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) of instance ``i``, without [CLS]/[SEP]."""
        s, n = int(self.segment_start[i]), int(self.lengths[i])
        return self.ids[i, 1:s - 1], self.ids[i, s:n - 1]

    def select(self, index: np.ndarray | slice) -> "Instances":
        """The instances at ``index`` (a copy)."""
        return Instances(self.ids[index].copy(), self.lengths[index].copy(), self.segment_start[index].copy(),
                         self.labels[index].copy(), self.cls_id, self.sep_id, self.pad_id)


def create_instances(documents_ids: Sequence[Sequence[np.ndarray]], *, max_length: int | None = None, cls_id: int,
                     sep_id: int, rng: np.random.Generator, short_seq_prob: float = 0.1, nsp: str = "random",
                     pad_id: int = 0, max_seq_len: Any = UNSET) -> Instances:
    """Sentence-pair instances from documents of tokenized sentences (see the module docstring).

    ``documents_ids``: documents, each a list of 1-D token-id arrays, one per sentence (without
    special tokens). Empty sentences and documents are skipped. ``nsp="random"`` needs at least
    two documents (negatives come from another one). ``max_length``: tokens per instance, special
    tokens included (``max_seq_len=``, its old name, still works for one release with a
    DeprecationWarning).
    """
    max_length = renamed_arg("create_instances", "max_seq_len", max_seq_len, "max_length", max_length, required=True)
    if nsp not in NSP_MODES:
        raise ValueError(f"nsp must be one of {NSP_MODES}, got {nsp!r}")
    if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) or max_length < 5:
        raise ValueError(f"max_length must be an int of at least 5 ([CLS] A [SEP] B [SEP] with one token each), "
                         f"got {max_length!r}")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"short_seq_prob must be in [0, 1], got {short_seq_prob}")
    docs = [[np.asarray(s, dtype=np.int64).reshape(-1) for s in doc] for doc in documents_ids]
    docs = [[s for s in doc if len(s)] for doc in docs]
    docs = [doc for doc in docs if doc]
    if nsp == "random" and len(docs) < 2:
        raise ValueError(f"nsp='random' takes negatives from other documents and needs at least 2 non-empty "
                         f"documents, got {len(docs)} (use nsp='swap' for a single document)")
    pairs: list[tuple[np.ndarray, np.ndarray, int]] = []
    for d in range(len(docs)):
        pairs += _document_pairs(docs, d, max_length - 3, rng, short_seq_prob, nsp)
    return _pack(pairs, max_length, cls_id, sep_id, pad_id)


def _document_pairs(docs: list[list[np.ndarray]], d: int, max_tokens: int, rng: np.random.Generator,
                    short_seq_prob: float, nsp: str) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """The (A, B, label) pairs of document ``d``, following create_instances_from_document."""
    doc = docs[d]
    target = max_tokens
    if rng.random() < short_seq_prob:
        target = int(rng.integers(2, max_tokens + 1))
    pairs = []
    chunk: list[np.ndarray] = []
    length = 0
    i = 0
    while i < len(doc):
        chunk.append(doc[i])
        length += len(doc[i])
        if i == len(doc) - 1 or length >= target:
            a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
            a = np.concatenate(chunk[:a_end])
            if nsp == "random":
                if len(chunk) == 1 or rng.random() < 0.5:
                    label = 1
                    b = _random_continuation(docs, d, target - len(a), rng)
                    i -= len(chunk) - a_end  # the sentences B did not use go back
                else:
                    label = 0
                    b = np.concatenate(chunk[a_end:])
                a, b = truncate_pair(a, b, max_tokens, rng)
            else:
                if len(chunk) == 1:  # one sentence: cut it inside, at a random token
                    if len(a) < 2:
                        chunk, length, i = [], 0, i + 1
                        continue
                    cut = int(rng.integers(1, len(a)))
                    a, b = a[:cut], a[cut:]
                else:
                    b = np.concatenate(chunk[a_end:])
                a, b = truncate_pair(a, b, max_tokens, rng)
                label = int(rng.random() < 0.5)
                if label:
                    a, b = b, a
            pairs.append((a, b, label))
            chunk, length = [], 0
        i += 1
    return pairs


def _random_continuation(docs: list[list[np.ndarray]], d: int, target: int, rng: np.random.Generator) -> np.ndarray:
    """Sentences of a random document other than ``d``, from a random start, until ``target`` tokens."""
    other = int(rng.integers(0, len(docs) - 1))
    other += other >= d
    doc = docs[other]
    parts, n = [], 0
    for s in doc[int(rng.integers(0, len(doc))):]:
        parts.append(s)
        n += len(s)
        if n >= target:
            break
    return np.concatenate(parts)


def truncation_counts(len_a: int, len_b: int, max_tokens: int) -> tuple[int, int]:
    """How many tokens BERT's truncate_seq_pair removes from A and from B.

    It removes one token at a time from the longer side (B on a tie) until the pair fits: first
    the difference from the longer side, then alternately from B and A.
    """
    excess = len_a + len_b - max_tokens
    if excess <= 0:
        return 0, 0
    first = min(abs(len_a - len_b), excess)
    rest = excess - first
    cut_a, cut_b = rest // 2, (rest + 1) // 2
    if len_a > len_b:
        cut_a += first
    else:
        cut_b += first
    return cut_a, cut_b


def truncate_pair(a: np.ndarray, b: np.ndarray, max_tokens: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Trim (A, B) to ``max_tokens`` in all by BERT's rule, each removed token taken from the
    front or the back with probability 1/2 (the split of each side's cut is binomial)."""
    cut_a, cut_b = truncation_counts(len(a), len(b), max_tokens)
    out = []
    for seq, cut in ((a, cut_a), (b, cut_b)):
        front = int(rng.binomial(cut, 0.5)) if cut else 0
        out.append(seq[front:len(seq) - (cut - front)])
    return out[0], out[1]


def _pack(pairs: list[tuple[np.ndarray, np.ndarray, int]], max_length: int, cls_id: int, sep_id: int,
          pad_id: int) -> Instances:
    n = len(pairs)
    ids = np.full((n, max_length), pad_id, dtype=np.int32)
    lengths = np.empty(n, dtype=np.int32)
    segment_start = np.empty(n, dtype=np.int32)
    labels = np.empty(n, dtype=np.int8)
    for k, (a, b, label) in enumerate(pairs):
        s = len(a) + 2
        e = s + len(b) + 1
        ids[k, 0] = cls_id
        ids[k, 1:s - 1] = a
        ids[k, s - 1] = sep_id
        ids[k, s:e - 1] = b
        ids[k, e - 1] = sep_id
        lengths[k], segment_start[k], labels[k] = e, s, label
    return Instances(ids, lengths, segment_start, labels, int(cls_id), int(sep_id), int(pad_id))
