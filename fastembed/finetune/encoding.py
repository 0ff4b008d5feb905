"""Examples to model inputs for sequence(-pair) classification and token classification (NER).

A *feature* is a dict of numpy arrays and ints, one per model row: ``input_ids``,
``token_type_ids`` and the targets (``labels``: an int per sequence or an array per token), plus
what evaluation needs to map predictions back (``word_index`` for NER).

Classification: ``[CLS] A [SEP]`` (segment 0) or ``[CLS] A [SEP] B [SEP]`` (segments 0 then 1).
A pair longer than ``max_length`` loses tokens from the end of its longer text, one at a time
("longest first"); a single text loses its end. Every truncation is counted in the report.

Token classification (BIO tags): each word is split into pieces; the word's tag goes on its
FIRST piece and the other pieces get -100 (not scored), as in BERT's paper. At evaluation the
first piece's prediction is the word's. Two kinds of word get no prediction from the model and
are counted: words that normalize to nothing (a lone zero-width space or control character)
and words cut off by ``max_length``; they are predicted "O".
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import numpy as np

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


def truncate_pair(a: list[int], b: Optional[list[int]], room: int) -> tuple[list[int], Optional[list[int]]]:
    """Drop tokens from the end of the longer of ``a``/``b`` until they fit in ``room`` tokens."""
    a, b = list(a), (list(b) if b is not None else None)
    while len(a) + (len(b) if b is not None else 0) > room:
        if b is not None and len(b) > len(a):
            b.pop()
        else:
            a.pop()
    return a, b


def encode_texts(examples: Sequence[TextExample], tokenizer: Any, labels: Optional[LabelSet], *,
                 max_length: int, pair: bool) -> tuple[list[dict], dict]:
    """Features for sequence (``pair=False``) or sequence-pair classification, and a report."""
    report = new_report(len(examples))
    specials = 3 if pair else 2
    if max_length < specials + 1:
        raise ValueError(f"max_length={max_length} leaves no room for text next to {specials} special tokens")
    features = []
    for i, ex in enumerate(examples):
        where = _where(ex, i)
        if not pair and ex.text_b is not None:
            raise ValueError(f"{where}: the example has a second text; use the 'pair' task for sentence pairs")
        pieces = []
        for name, t in [("text", ex.text_a)] + ([("second text", ex.text_b)] if pair else []):
            if t is None or (isinstance(t, str) and not t.strip()):
                raise ValueError(f"{where}: the {name} is empty")
            if not isinstance(t, str):
                raise ValueError(f"{where}: the {name} is a {type(t).__name__}, not a str")
            pieces.append(tokenizer.encode(t, add_special_tokens=False).tolist())
            if not pieces[-1]:
                raise ValueError(f"{where}: the {name} {t!r} has no tokens once normalized (control or "
                                 "zero-width characters only)")
        a, b = pieces[0], (pieces[1] if pair else None)
        total = len(a) + (len(b) if b is not None else 0)
        if total > max_length - specials:
            a, b = truncate_pair(a, b, max_length - specials)
            report["truncated"] += 1
        cls, sep = tokenizer.cls_id, tokenizer.sep_id
        ids = [cls] + a + [sep] + (b + [sep] if b is not None else [])
        types = [0] * (len(a) + 2) + ([1] * (len(b) + 1) if b is not None else [])
        f = {"input_ids": np.asarray(ids, np.int64), "token_type_ids": np.asarray(types, np.int64)}
        if labels is not None:
            f["labels"] = labels.id(ex.label, where)
        features.append(f)
    report["features"] = len(features)
    if report["truncated"]:
        report["messages"].append(f"{report['truncated']} of {len(examples)} examples were longer than "
                                  f"max_length={max_length} tokens and were truncated")
    return features, report


def encode_tagged(sentences: Sequence[TaggedSentence], tokenizer: Any, labels: Optional[LabelSet], *,
                  max_length: int) -> tuple[list[dict], dict]:
    """Features for token classification: first piece of each word labelled, other pieces -100.

    Each feature has ``word_index`` (T,): the word whose first piece sits at that position, -1
    elsewhere ([CLS], [SEP], later pieces). The report counts ``empty_words`` (normalize to
    nothing) and ``truncated`` sentences with their ``dropped_words``.
    """
    report = new_report(len(sentences))
    report.update(empty_words=0, dropped_words=0)
    if max_length < 3:
        raise ValueError(f"max_length={max_length} leaves no room for words next to [CLS] and [SEP]")
    features = []
    for i, s in enumerate(sentences):
        where = _where(s, i)
        if len(s.words) != len(s.tags):
            raise ValueError(f"{where}: {len(s.words)} words but {len(s.tags)} tags")
        if not s.words:
            raise ValueError(f"{where}: the sentence has no words")
        for w in s.words:
            if not isinstance(w, str):
                raise ValueError(f"{where}: word {w!r} is a {type(w).__name__}, not a str")
        tag_ids = [labels.id(t, where) for t in s.tags] if labels is not None else None
        ids, owner = tokenizer.encode_words(s.words)
        ids, owner = ids.astype(np.int64), owner.astype(np.int64)
        first = np.r_[True, owner[1:] != owner[:-1]] if len(owner) else np.zeros(0, bool)
        report["empty_words"] += len(s.words) - int(first.sum())
        if len(ids) > max_length - 2:
            kept = set(owner[:max_length - 2][first[:max_length - 2]].tolist())
            report["truncated"] += 1
            report["dropped_words"] += int(first.sum()) - len(kept)
            ids, owner, first = ids[:max_length - 2], owner[:max_length - 2], first[:max_length - 2]
        word_index = np.where(first, owner, -1)
        T = len(ids) + 2
        f = {"input_ids": np.r_[tokenizer.cls_id, ids, tokenizer.sep_id].astype(np.int64),
             "token_type_ids": np.zeros(T, np.int64),
             "word_index": np.r_[-1, word_index, -1].astype(np.int64),
             "num_words": len(s.words)}
        if tag_ids is not None:
            lab = np.full(T, IGNORE, np.int64)
            pos = np.flatnonzero(f["word_index"] >= 0)
            lab[pos] = np.asarray(tag_ids, np.int64)[f["word_index"][pos]]
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


def word_predictions(word_index: np.ndarray, token_preds: np.ndarray, num_words: int, names: Sequence[str],
                     default: str = "O") -> list[str]:
    """One tag per word from per-token predicted ids: the first piece's, ``default`` for words
    without a piece in the feature."""
    out = [default] * num_words
    for pos in np.flatnonzero(word_index >= 0):
        out[int(word_index[pos])] = names[int(token_preds[pos])]
    return out
