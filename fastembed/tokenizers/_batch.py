"""Turning encoded texts into rows, with array operations over the whole batch: truncation of
single texts and pairs (``longest_first``, ``only_first``, ``only_second``, as HF ``tokenizers``
does), overflow windows with a stride, and placing the template's special tokens. Written once,
for every tokenizer (:class:`fastembed.tokenizers.base.Tokenizer` calls these)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Optional, Union

import numpy as np

from .encoding import Flat

STRATEGIES = ("longest_first", "only_first", "only_second")


class Rows(NamedTuple):
    """Assembled rows, concatenated (row r at ``[starts[r], starts[r + 1])``), int64."""

    ids: np.ndarray
    starts: np.ndarray
    type_ids: np.ndarray
    special: np.ndarray
    offsets: Optional[np.ndarray]
    words: np.ndarray
    sequences: np.ndarray
    sample: np.ndarray


def concat_flats(parts: Sequence[Flat]) -> Flat:
    starts = [parts[0].starts]
    for p in parts[1:]:
        starts.append(p.starts[1:] + starts[-1][-1])
    return Flat(np.concatenate([p.ids for p in parts]), np.concatenate(starts),
                None if parts[0].offsets is None else np.concatenate([p.offsets for p in parts]),
                None if parts[0].words is None else np.concatenate([p.words for p in parts]))


def parse_strategy(truncation: Union[bool, str, None]) -> Optional[str]:
    if truncation is True:
        return "longest_first"
    if truncation in (False, None, "do_not_truncate"):
        return None
    if truncation not in STRATEGIES:
        raise ValueError(f"truncation must be False, True or one of {', '.join(STRATEGIES)}, got {truncation!r}")
    return truncation  # type: ignore[return-value]


def truncate(la: np.ndarray, lb: np.ndarray, budget: int, strategy: str, pair: bool) -> tuple[np.ndarray, np.ndarray]:
    """Kept lengths of the first and second texts so that ka + kb <= budget, as HF ``tokenizers``
    truncates.

    ``longest_first``: the shorter text (the first on a tie) keeps what it has, up to half the
    budget rounded down; the longer gets the rest. ``only_first``/``only_second`` take from that
    text alone, and fail where it would be left with nothing. A budget of 0 empties both.
    """
    if not pair:
        if strategy == "only_second":
            raise ValueError("truncation='only_second' needs text pairs; use 'longest_first' or 'only_first'")
        return np.minimum(la, budget), lb
    if budget == 0:
        return np.zeros_like(la), np.zeros_like(lb)
    over = la + lb > budget
    if strategy == "longest_first":
        b_shorter = la > lb
        short = np.minimum(np.where(b_shorter, lb, la), budget // 2)
        ka = np.where(b_shorter, budget - short, short)
        kb = np.where(b_shorter, short, budget - short)
        return np.where(over, ka, la), np.where(over, kb, lb)
    first = strategy == "only_first"
    long, other = (la, lb) if first else (lb, la)
    keep = np.where(over, budget - other, long)
    bad = np.flatnonzero(over & (keep <= 0))
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"truncation={strategy!r}: pair {i} needs {int(la[i] + lb[i])} tokens and max_length leaves "
                         f"{budget} for the texts, but the {'second' if first else 'first'} text alone has "
                         f"{int(other[i])}, leaving nothing of the {'first' if first else 'second'}; use "
                         "truncation='longest_first' or a larger max_length")
    return (keep, lb) if first else (la, keep)


def windows(keep: np.ndarray, length: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(sample index, start) of every row when texts of ``length`` tokens are cut into windows of
    ``keep`` tokens, each starting ``keep - stride`` after the previous one, the last reaching the
    end (HF's overflowing encodings, in order)."""
    cut = keep < length
    if cut.any() and stride >= int(keep[cut].min()):
        raise ValueError(f"stride={stride} must be smaller than the tokens a row keeps of the text it splits "
                         f"({int(keep[cut].min())} here): raise max_length or lower stride")
    step = np.maximum(keep - stride, 1)
    count = np.where(cut, 1 + -(-(length - keep) // step), 1)
    sample = np.repeat(np.arange(len(keep)), count)
    k = np.arange(len(sample)) - np.repeat(np.cumsum(count) - count, count)
    return sample, k * step[sample]


def assemble(template: list[tuple[int, int]], a: Flat, b: Optional[Flat], sample: np.ndarray, a0: np.ndarray,
              a1: np.ndarray, b0: Optional[np.ndarray], b1: Optional[np.ndarray], *, offsets: bool,
              words: bool) -> Rows:
    n = len(sample)
    ka = a1 - a0
    kb = np.zeros(n, np.int64) if b is None else b1 - b0  # type: ignore[operator]
    n_special = sum(1 for i, _ in template if i >= 0)
    lengths = ka + kb + n_special
    starts = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=starts[1:])
    total = int(starts[-1])
    ids = np.empty(total, np.int64)
    type_ids = np.empty(total, np.int64)
    special = np.zeros(total, np.int64)
    offs = np.zeros((total, 2), np.int64) if offsets else None
    wds = np.full(total, -1, np.int64)
    seqs = np.full(total, -1, np.int64)
    cursor = starts[:-1].copy()
    for item, type_id in template:
        if item >= 0:
            ids[cursor] = item
            type_ids[cursor] = type_id
            special[cursor] = 1
            cursor += 1
            continue
        flat, lo, k, seq = (a, a0, ka, 0) if item == -1 else (b, b0, kb, 1)
        m = int(k.sum())
        if m:
            within = np.arange(m) - np.repeat(np.cumsum(k) - k, k)
            src = np.repeat(lo, k) + within
            dst = np.repeat(cursor, k) + within
            ids[dst] = flat.ids[src]  # type: ignore[union-attr]
            type_ids[dst] = type_id
            seqs[dst] = seq
            if offsets:
                offs[dst] = flat.offsets[src]  # type: ignore[index,union-attr]
            if words:
                wds[dst] = flat.words[src]  # type: ignore[index,union-attr]
        cursor += k
    return Rows(ids, starts, type_ids, special, offs, wds, seqs, sample)
