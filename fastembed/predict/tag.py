"""Named entities with a fine-tuned token classifier: text in, entity spans with character offsets out.

    >>> tagger = fastembed.predict.load("runs/conll/model")                 # doctest: +SKIP
    >>> tagger("John Smith lives in Paris.")                                # doctest: +SKIP
    [{'entity': 'PER', 'start': 0, 'end': 10, 'text': 'John Smith', 'score': 0.98},
     {'entity': 'LOC', 'start': 20, 'end': 25, 'text': 'Paris', 'score': 0.99}]

The model was trained (:func:`fastembed.finetune.encoding.encode_tagged`) with one tag per word
on the word's first piece. Here a word is what the tokenizer's pre-tokenizer makes one (for BERT:
split at white space, every punctuation character a word of its own), found with its character
span in the raw text; the words then go through ``encode_tagged`` exactly as a training sentence
does, and each word takes the tag predicted on its first piece. Pre-split words
(``words=[[...], ...]`` or ``is_split_into_words=True``) skip the first step, so a CoNLL
sentence is tagged exactly as in fine-tuning; their offsets are into ``" ".join(words)``.

Tags are merged into entities by conlleval's rules (:func:`fastembed.finetune.metrics.entities`):
an entity starts at ``B-X``, and also at ``I-X`` after O or after another type ("O I-PER" is a
PER entity; "B-LOC I-PER" two entities); ``B-X B-X`` are two entities. An entity's ``score`` is
the mean over its words of the probability of each word's predicted tag. Words past
``max_length`` pieces are not seen by the model and count as O (a TruncationWarning says how
many), as in fine-tuning.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence

import numpy as np

from ..features import TruncationWarning
from ..finetune.encoding import encode_tagged, word_predictions
from ..finetune.metrics import entities
from ..finetune.readers import TaggedSentence
from ._batching import DEFAULT_BATCH_TOKENS, Runner, softmax
from ._spec import label_names, read_spec

__all__ = ["TokenTagger", "word_spans"]


class TokenTagger:
    """``tagger(texts)`` or ``tagger(words=[[...], ...])``: see the module docstring.

    ``model``, ``tokenizer``, ``spec`` as ``fastembed.finetune.export.load_model`` returns them
    (``spec["task"]`` "ner", ``spec["labels"]`` BIO or IOBES tags such as "B-PER"); the other
    options as for :class:`fastembed.predict.TextClassifier`.
    """

    def __init__(self, model: Any, tokenizer: Any, spec: Any, *, threads: Optional[int] = None,
                 workers: Optional[int] = None, batch_tokens: int = DEFAULT_BATCH_TOKENS, device: Any = None) -> None:
        from ..tokenizers.base import check_tokenizer

        self.spec = read_spec(spec, ("ner",), "TokenTagger")
        self.labels = label_names(self.spec, "TokenTagger")
        try:
            entities(self.labels)                           # every label a tag the merge understands
        except ValueError as e:
            raise ValueError(f"TokenTagger merges BIO / IOBES tags into entities; the model's labels "
                             f"{self.labels} are not such tags: {e}") from None
        self.tokenizer = check_tokenizer(tokenizer, "TokenTagger")
        self.max_length = self.spec["max_length"]
        self.runner = Runner(model, threads=threads, workers=workers, batch_tokens=batch_tokens, device=device)
        self.model = self.runner.model
        self.last_report: Optional[dict] = None

    def __call__(self, texts: Any = None, *, words: Any = None, is_split_into_words: bool = False) -> Any:
        """Per input a list of ``{"entity", "start", "end", "text", "score"}``, in text order. A
        single str (or one sentence of words) gives one list; a list of them a list of lists."""
        if words is not None:
            if texts is not None:
                raise TypeError("pass the texts or words=..., not both")
            texts, is_split_into_words = words, True
        if is_split_into_words:
            single, sentences = _word_lists(texts)
            spans = [_joined_spans(w) for w in sentences]
            shown = [" ".join(w) for w in sentences]
        else:
            single, shown = _texts(texts)
            spans = word_spans(self.tokenizer, shown)
            sentences = [[t[a:b] for a, b in s] for t, s in zip(shown, spans)]
        tags, scores = self.word_tags(sentences)
        out = [_entities(t, s, sp, text) for t, s, sp, text in zip(tags, scores, spans, shown)]
        return out[0] if single else out

    def word_tags(self, sentences: Sequence[Sequence[str]]) -> tuple[list[list[str]], list[np.ndarray]]:
        """(the predicted tag of every word, the probability of each) for sentences of words,
        encoded as :func:`encode_tagged` encodes a training sentence."""
        tags: list[list[str]] = [[] for _ in sentences]
        scores: list[np.ndarray] = [np.zeros(0) for _ in sentences]
        used = [n for n, s in enumerate(sentences) if len(s)]          # a sentence without words has no tag
        if not used:
            self.last_report = {"sentences": len(sentences), "truncated": 0, "dropped_words": 0}
            return tags, scores
        batch = [TaggedSentence(list(sentences[n]), ["O"] * len(sentences[n]), f"input {n}") for n in used]
        features, report = encode_tagged(batch, self.tokenizer, None, max_length=self.max_length)
        self.last_report = {"sentences": len(sentences), "truncated": report["truncated"],
                            "dropped_words": report["dropped_words"]}
        if report["truncated"]:
            warnings.warn(f"{report['truncated']} of {len(sentences)} inputs were longer than max_length="
                          f"{self.max_length} pieces; their last {report['dropped_words']} words were not seen by "
                          "the model and count as O", TruncationWarning, stacklevel=3)
        logits = self.runner.logits(features)
        for n, f, y in zip(used, features, logits):
            if y.shape[-1] != len(self.labels):
                label_names(self.spec, "TokenTagger", need=y.shape[-1])
            p = softmax(y)                                                # (T, L)
            pred = np.argmax(p, -1)
            tags[n] = word_predictions(f["word_index"], pred, len(sentences[n]), self.labels)
            s = np.zeros(len(sentences[n]))
            pos = np.flatnonzero(f["word_index"] >= 0)
            s[f["word_index"][pos]] = p[pos, pred[pos]]
            scores[n] = s
        return tags, scores

    def __repr__(self) -> str:
        return f"TokenTagger(labels={self.labels}, max_length={self.max_length})"


def word_spans(tokenizer: Any, texts: Sequence[str]) -> list[np.ndarray]:
    """(W, 2) character spans of the words of each text, as the tokenizer's pre-tokenizer
    splits it (text written like ``[SEP]`` is text here, as in ``encode_tagged``). A word is
    the span from its first piece's start to its last piece's end; characters that normalize
    to nothing make no word."""
    if not texts:
        return []
    enc = tokenizer(list(texts), add_special_tokens=False, return_offsets=True, split_special_tokens=True)
    out = []
    for i in range(len(texts)):
        off = np.asarray(enc["offset_mapping"][i], np.int64).reshape(-1, 2)
        w = enc[i].word_ids
        if len(w) == 0:
            out.append(np.zeros((0, 2), np.int64))
            continue
        first = np.flatnonzero(np.r_[True, w[1:] != w[:-1]])          # a word's pieces are consecutive
        out.append(np.stack([off[first, 0], np.maximum.reduceat(off[:, 1], first)], axis=1))
    return out


def _joined_spans(words: Sequence[str]) -> np.ndarray:
    """Spans of the words in ``" ".join(words)``."""
    lengths = np.fromiter((len(w) for w in words), np.int64, len(words))
    starts = np.cumsum(lengths + 1) - lengths - 1
    return np.stack([starts, starts + lengths], axis=1) if len(words) else np.zeros((0, 2), np.int64)


def _entities(tags: list[str], scores: np.ndarray, spans: np.ndarray, text: str) -> list[dict]:
    out = []
    for kind, a, b in entities(tags):
        start, end = int(spans[a, 0]), int(spans[b, 1])
        out.append({"entity": kind, "start": start, "end": end, "text": text[start:end],
                    "score": float(np.mean(scores[a:b + 1]))})
    return out


def _texts(texts: Any) -> tuple[bool, list[str]]:
    if isinstance(texts, str):
        return True, [texts]
    if not isinstance(texts, (list, tuple)):
        raise TypeError(f"TokenTagger takes a str or a list of str (or words=[[...], ...] for pre-split words), "
                        f"got {type(texts).__name__}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            hint = " (for pre-split words pass words=... or is_split_into_words=True)" if isinstance(t, list) else ""
            raise TypeError(f"texts[{i}] is a {type(t).__name__}, not a str{hint}")
    return False, list(texts)


def _word_lists(words: Any) -> tuple[bool, list[list[str]]]:
    """(one sentence given, the sentences): a list of str is one sentence, a list of lists many."""
    if not isinstance(words, (list, tuple)):
        raise TypeError(f"pre-split words must be a list of str (one sentence) or a list of lists of str, got "
                        f"{type(words).__name__}")
    single = all(isinstance(w, str) for w in words) and len(words) > 0
    sentences = [list(words)] if single else list(words)
    for n, s in enumerate(sentences):
        if not isinstance(s, (list, tuple)) or not all(isinstance(w, str) for w in s):
            raise TypeError(f"sentence {n} of the pre-split words must be a list of str, got "
                            f"{type(s).__name__ if not isinstance(s, (list, tuple)) else 'a list holding non-str'}")
    return single, [list(s) for s in sentences]
