"""The four fine-tuning tasks, each as the few things the loop needs to know about it.

    task       reads            head                          dev metric (early stopping)
    classify   GLUE .tsv        sequence (pooled [CLS])       accuracy
    pair       GLUE .tsv        sequence, [CLS] A [SEP] B     accuracy
    ner        CoNLL columns    token (first piece of word)   entity F1 (conlleval)
    qa         SQuAD .json      span (start/end per token)    SQuAD F1 (exact match reported too)

A task reads files (:meth:`Task.read`), builds its label set from the training examples
(:meth:`Task.label_set`), encodes examples to features (:meth:`Task.encode`, with a report of
everything truncated or not found) and scores the head's outputs on the dev examples
(:meth:`Task.score`). ``outputs[k]`` is feature k's logits as numpy: (L,) for a sequence, (T, L)
for tokens, (T, 2) for spans.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

import numpy as np

from ..tokenizers.base import Tokenizer
from .encoding import LabelSet, encode_sequences, encode_tagged, word_predictions
from .metrics import accuracy, entity_scores, squad_scores
from .qa import decode_answers, encode_qa
from .readers import QAExample, TaggedSentence, TextExample, read_conll, read_glue, read_squad

PathLike = Union[str, os.PathLike]


class Task:
    name = ""
    head_kind = ""              # "sequence", "span" or "token" (see heads.make_head)
    metric = ""                 # the dev metric early stopping watches (higher is better)
    example_type: type = object

    def read(self, path: PathLike) -> list:
        raise NotImplementedError

    def label_set(self, examples: Sequence, labels: Any = None) -> Optional[LabelSet]:
        """The labels: ``labels`` (names, or an int count) when given, else inferred from ``examples``."""
        return None

    def encode(self, examples: Sequence, tokenizer: Tokenizer, labels: Optional[LabelSet], *, max_length: int,
               train: bool, **options: Any) -> tuple[list[dict], dict]:
        raise NotImplementedError

    def score(self, examples: Sequence, features: Sequence[dict], outputs: Sequence[np.ndarray],
              labels: Optional[LabelSet], **options: Any) -> dict[str, Any]:
        raise NotImplementedError

    def check_examples(self, examples: Any, what: str) -> list:
        """``examples`` as a list, each of this task's example type (a clear TypeError otherwise)."""
        if isinstance(examples, (str, bytes, os.PathLike)) or not hasattr(examples, "__len__"):
            raise TypeError(f"{what} must be a path or a list of {self.example_type.__name__}")
        examples = list(examples)
        if not examples:
            raise ValueError(f"{what} is empty")
        for i, ex in enumerate(examples):
            if not isinstance(ex, self.example_type):
                raise TypeError(f"{what}[{i}] is a {type(ex).__name__}; the {self.name} task takes "
                                f"{self.example_type.__name__} examples (see fastembed.finetune.readers)")
        return examples


class Classify(Task):
    """One text -> one label (SST-2, CoLA)."""
    name, head_kind, metric, example_type = "classify", "sequence", "accuracy", TextExample
    pair = False

    def read(self, path: PathLike) -> list:
        return read_glue(path)

    def label_set(self, examples: Sequence, labels: Any = None) -> Optional[LabelSet]:
        return LabelSet(labels) if labels is not None else LabelSet.infer(ex.label for ex in examples)

    def encode(self, examples, tokenizer, labels, *, max_length, train, **options):
        return encode_sequences(examples, tokenizer, labels, max_length=max_length, pair=self.pair)

    def score(self, examples, features, outputs, labels, **options):
        pred = [int(np.argmax(o)) for o in outputs]
        return {"accuracy": accuracy(pred, [f["labels"] for f in features])}


class Pair(Classify):
    """Two texts -> one label (RTE, MRPC, QQP, MNLI)."""
    name = "pair"
    pair = True


class NER(Task):
    """One BIO tag per word (CoNLL-2003)."""
    name, head_kind, metric, example_type = "ner", "token", "f1", TaggedSentence

    def read(self, path: PathLike) -> list:
        return read_conll(path)

    def label_set(self, examples: Sequence, labels: Any = None) -> Optional[LabelSet]:
        if labels is not None:
            return LabelSet(labels)
        tags = sorted({t for s in examples for t in s.tags})
        return LabelSet(["O"] + [t for t in tags if t != "O"])     # "O" is id 0

    def encode(self, examples, tokenizer, labels, *, max_length, train, **options):
        return encode_tagged(examples, tokenizer, labels, max_length=max_length)

    def score(self, examples, features, outputs, labels, **options):
        gold, pred = [], []
        for s, f, o in zip(examples, features, outputs):
            gold.append(s.tags)
            pred.append(word_predictions(f["word_index"], np.argmax(o, -1), len(s.words), labels.names))
        scores = entity_scores(gold, pred)
        words = sum(len(g) for g in gold)
        scores["token_accuracy"] = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p)) / words
        return scores


class QA(Task):
    """A span of the context answers a question (SQuAD v1.1, XQuAD)."""
    name, head_kind, metric, example_type = "qa", "span", "f1", QAExample

    def read(self, path: PathLike) -> list:
        return read_squad(path)

    def encode(self, examples, tokenizer, labels, *, max_length, train, doc_stride=128, max_query_length=64, **options):
        return encode_qa(examples, tokenizer, max_length=max_length, doc_stride=doc_stride,
                         max_query_length=max_query_length, train=train)

    def score(self, examples, features, outputs, labels, max_answer_length=30, **options):
        for ex in examples:
            if not ex.answers:
                raise ValueError(f"dev question {ex.id!r} has no gold answer to score against")
        answers = decode_answers(examples, features, [o[:, 0] for o in outputs], [o[:, 1] for o in outputs],
                                 max_answer_length=max_answer_length)
        scores = squad_scores(answers, {ex.id: [a.text for a in ex.answers] for ex in examples})
        scores["predictions"] = answers
        return scores


TASKS = {t.name: t for t in (Classify, Pair, NER, QA)}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    return TASKS[name]()
