"""Examples to model inputs for sequence(-pair) classification and token classification (NER).

A *feature* is a dict of numpy arrays and ints, one per model row: ``input_ids``,
``token_type_ids`` and the targets (``labels``: an int per sequence or an array per token), plus
what evaluation needs to map predictions back (``word_index`` for NER).

Classification: the tokenizer's template, ``[CLS] A [SEP]`` (segment 0) or ``[CLS] A [SEP] B
[SEP]`` (segments 0 then 1) for BERT. A pair longer than ``max_length`` loses tokens from the end
of its longer text (the tokenizer's ``longest_first`` truncation, as HF's); a single text loses
its end. Every truncation is counted in the report.

Token classification (BIO tags): each word is split into pieces; the word's tag goes on its
FIRST piece and the other pieces get -100 (not scored), as in BERT's paper. At evaluation the
first piece's prediction is the word's. Two kinds of word get no prediction from the model and
are counted: words that normalize to nothing (a lone zero-width space or control character)
and words cut off by ``max_length``; they are predicted "O".
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np

from ..tokenizers.base import Tokenizer
from .readers import TaggedSentence, TextExample

IGNORE = -100


class LabelSet:
    """Label names <-> ids. ``LabelSet.infer(labels)``: sorted unique names, or, when every label
    is an int, ``0 .. max``. ``LabelSet(3)`` is ``[0, 1, 2]``.

    >>> LabelSet.infer(["not_entailment", "entailment", "entailment"]).names
    ['entailment', 'not_entailment']
    >>> LabelSet(3).id(5, "example 7")
    Traceback (most recent call last):
    ...
    ValueError: example 7: label 5 is out of range: the labels are 0 .. 2
    """

    def __init__(self, names: Sequence[Any] | int) -> None:
        names = list(range(names)) if isinstance(names, int) else list(names)
        if not names:
            raise ValueError("a label set needs at least one label")
        if len(set(names)) != len(names):
            raise ValueError(f"label names repeat: {names}")
        self.names = names
        self._id = {n: i for i, n in enumerate(names)}
        self._ints = all(_is_int(n) for n in names) and names == list(range(len(names)))

    @classmethod
    def infer(cls, labels: Iterable[Any]) -> "LabelSet":
        seen = set(labels)
        if None in seen:
            raise ValueError("some examples have no label (a test split?): fine-tuning needs a label on every example")
        if not seen:
            raise ValueError("no labels to build a label set from")
        if all(_is_int(x) for x in seen):
            low = min(seen)
            if low < 0:
                raise ValueError(f"integer labels must be >= 0, got {low}")
            return cls(int(max(seen)) + 1)
        return cls(sorted(seen, key=str))

    def __len__(self) -> int:
        return len(self.names)

    def id(self, label: Any, where: str = "") -> int:
        """The id of ``label``; a ValueError naming ``where`` for an unknown or out-of-range label."""
        if label in self._id and not isinstance(label, bool):
            return self._id[label]
        at = f"{where}: " if where else ""
        if label is None:
            raise ValueError(f"{at}the example has no label")
        if self._ints and _is_int(label):
            raise ValueError(f"{at}label {label} is out of range: the labels are 0 .. {len(self.names) - 1}")
        shown = self.names if len(self.names) <= 20 else self.names[:20] + ["..."]
        raise ValueError(f"{at}unknown label {label!r}; the known labels are {shown}")


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def new_report(examples: int) -> dict[str, Any]:
    """Counts of what encoding had to change; ``messages`` says it in words."""
    return {"examples": examples, "features": 0, "truncated": 0, "messages": []}


def _where(ex: Any, i: int) -> str:
    return f"example {i}" + (f" ({ex.source})" if getattr(ex, "source", "") else "")


def encode_sequences(examples: Sequence[TextExample], tokenizer: Tokenizer, labels: Optional[LabelSet], *,
                     max_length: int, pair: bool, allow_empty: bool = False) -> tuple[list[dict], dict]:
    """Features for sequence (``pair=False``) or sequence-pair classification, and a report.

    The rows are ``tokenizer(texts, pairs, truncation=True, max_length=max_length)``'s: the
    tokenizer's template (``[CLS] A [SEP] B [SEP]`` for BERT) and its ``longest_first``
    truncation. All examples go through one native call, the too-long ones through a second.
    An empty text (or one with no token) is an error in training data; ``allow_empty=True``
    (prediction) encodes it as the template alone, as transformers' pipelines do."""
    report = new_report(len(examples))
    specials = tokenizer.num_special_tokens_to_add(pair)
    if max_length < specials + 1:
        raise ValueError(f"max_length={max_length} leaves no room for text next to {specials} special tokens")
    texts: list[list[str]] = [[], []]
    for i, ex in enumerate(examples):
        where = _where(ex, i)
        if not pair and ex.text_b is not None:
            raise ValueError(f"{where}: the example has a second text; use the 'pair' task for sentence pairs")
        for side, (name, t) in enumerate([("text", ex.text_a)] + ([("second text", ex.text_b)] if pair else [])):
            if t is None or (isinstance(t, str) and not t.strip() and not allow_empty):
                raise ValueError(f"{where}: the {name} is empty")
            if not isinstance(t, str):
                raise ValueError(f"{where}: the {name} is a {type(t).__name__}, not a str")
            texts[side].append(t)
    pairs = texts[1] if pair else None
    enc = tokenizer(texts[0], pairs) if examples else {"input_ids": [], "token_type_ids": []}
    ids, types = enc["input_ids"], enc["token_type_ids"]
    lengths = np.fromiter((len(a) for a in ids), np.int64, len(ids))
    for i in np.flatnonzero(lengths < specials + (2 if pair else 1)) if not allow_empty else ():  # no token at all
        sides = set(enc.sequence_ids(int(i)))
        name = "text" if 0 not in sides else "second text"
        t = texts[0 if name == "text" else 1][i]
        raise ValueError(f"{_where(examples[i], int(i))}: the {name} {t!r} has no tokens once normalized (control or "
                         "zero-width characters only)")
    cut = np.flatnonzero(lengths > max_length)
    if len(cut):
        short = tokenizer([texts[0][i] for i in cut], None if pairs is None else [pairs[i] for i in cut],
                          truncation=True, max_length=max_length)
        for k, i in enumerate(cut):
            ids[i], types[i] = short["input_ids"][k], short["token_type_ids"][k]
    report["truncated"] = len(cut)
    features = []
    for i, ex in enumerate(examples):
        f = {"input_ids": ids[i], "token_type_ids": types[i]}
        if labels is not None:
            f["labels"] = labels.id(ex.label, _where(ex, i))
        features.append(f)
    report["features"] = len(features)
    if report["truncated"]:
        report["messages"].append(f"{report['truncated']} of {len(examples)} examples were longer than "
                                  f"max_length={max_length} tokens and were truncated")
    return features, report


def encode_tagged(sentences: Sequence[TaggedSentence], tokenizer: Tokenizer, labels: Optional[LabelSet], *,
                  max_length: int) -> tuple[list[dict], dict]:
    """Features for token classification: first piece of each word labelled, other pieces -100.

    A sentence's words are joined with spaces and go through ``tokenizer(..., truncation=True,
    max_length=max_length, return_offsets=True, return_overflowing=True)`` (one native call for
    all sentences; word text is data: ``split_special_tokens=True``). Each token belongs to the
    word its character span ends in; the overflow rows say which words the cut dropped.

    Each feature has ``word_index`` (T,): the word whose first piece sits at that position, -1
    elsewhere ([CLS], [SEP], later pieces). The report counts ``empty_words`` (normalize to
    nothing) and ``truncated`` sentences with their ``dropped_words``.
    """
    report = new_report(len(sentences))
    report.update(empty_words=0, dropped_words=0)
    specials = tokenizer.num_special_tokens_to_add()
    if max_length < specials + 1:
        raise ValueError(f"max_length={max_length} leaves no room for words next to {specials} special tokens")
    texts, starts, tag_ids = [], [], []
    for i, s in enumerate(sentences):
        where = _where(s, i)
        if len(s.words) != len(s.tags):
            raise ValueError(f"{where}: {len(s.words)} words but {len(s.tags)} tags")
        if not s.words:
            raise ValueError(f"{where}: the sentence has no words")
        for w in s.words:
            if not isinstance(w, str):
                raise ValueError(f"{where}: word {w!r} is a {type(w).__name__}, not a str")
        tag_ids.append([labels.id(t, where) for t in s.tags] if labels is not None else None)
        lengths = np.fromiter((len(w) for w in s.words), np.int64, len(s.words))
        starts.append(np.cumsum(lengths + 1) - lengths - 1)       # each word's first character
        texts.append(" ".join(s.words))
    enc = tokenizer(texts, truncation=True, max_length=max_length, return_offsets=True, return_overflowing=True,
                    return_special_tokens_mask=True, split_special_tokens=True) if texts else None
    sample = enc["overflow_to_sample_mapping"] if enc is not None else np.zeros(0, np.int64)
    bounds = np.searchsorted(sample, np.arange(len(sentences) + 1))   # rows of sentence n: bounds[n]..bounds[n+1]
    features = []
    for n, s in enumerate(sentences):
        rows = range(int(bounds[n]), int(bounds[n + 1]))
        owner = [_owners(enc["offset_mapping"][r], enc["special_tokens_mask"][r], starts[n], s.words) for r in rows]
        seen = np.unique(np.concatenate(owner))
        seen = seen[seen >= 0]                                     # the words with at least one piece
        first = _first_pieces(owner[0])
        kept = int((first >= 0).sum())
        report["empty_words"] += len(s.words) - len(seen)
        if len(rows) > 1:
            report["truncated"] += 1
            report["dropped_words"] += len(seen) - kept
        r = rows[0]
        f = {"input_ids": np.asarray(enc["input_ids"][r], np.int64),
             "token_type_ids": np.asarray(enc["token_type_ids"][r], np.int64),
             "word_index": first, "num_words": len(s.words)}
        if tag_ids[n] is not None:
            lab = np.full(len(first), IGNORE, np.int64)
            pos = np.flatnonzero(first >= 0)
            lab[pos] = np.asarray(tag_ids[n], np.int64)[first[pos]]
            f["labels"] = lab
        features.append(f)
    report["features"] = len(features)
    if report["empty_words"]:
        report["messages"].append(f"{report['empty_words']} words normalize to no word piece (e.g. a lone "
                                  "control or zero-width character); they are predicted 'O'")
    if report["truncated"]:
        report["messages"].append(f"{report['truncated']} of {len(sentences)} sentences were longer than "
                                  f"max_length={max_length} pieces; {report['dropped_words']} words past the cut "
                                  "are predicted 'O'")
    return features, report


def _owners(offsets: np.ndarray, special: np.ndarray, starts: np.ndarray, words: Sequence[str]) -> np.ndarray:
    """The word each token of a row belongs to: the one its last character is in (-1 for the
    template's tokens and for a token of the spaces between words)."""
    last = offsets[:, 1] - 1
    w = np.searchsorted(starts, last, side="right") - 1
    ends = starts + np.fromiter((len(x) for x in words), np.int64, len(words))
    inside = (special == 0) & (w >= 0) & (last < ends[np.maximum(w, 0)])
    return np.where(inside, w, -1)


def _first_pieces(owner: np.ndarray) -> np.ndarray:
    """``owner`` where a word's first piece is, -1 elsewhere (tokens follow the text, so a word's
    pieces are consecutive)."""
    first = (owner >= 0) & np.r_[True, owner[1:] != owner[:-1]]
    return np.where(first, owner, -1).astype(np.int64)


def word_predictions(word_index: np.ndarray, token_preds: np.ndarray, num_words: int, names: Sequence[str],
                     default: str = "O") -> list[str]:
    """One tag per word from per-token predicted ids: the first piece's, ``default`` for words
    without a piece in the feature."""
    out = [default] * num_words
    for pos in np.flatnonzero(word_index >= 0):
        out[int(word_index[pos])] = names[int(token_preds[pos])]
    return out
