"""Extractive question answering with a fine-tuned span model: a question and a context in, the answer span out.

    >>> qa = fastembed.predict.load("runs/squad/model")                     # doctest: +SKIP
    >>> qa(question="Where does John live?", context="John Smith lives in Paris.")   # doctest: +SKIP
    {'answer': 'Paris', 'start': 20, 'end': 25, 'score': 0.93}

Rows and decoding are finetune's (:mod:`fastembed.finetune.qa`): ``[CLS] question [SEP] window
[SEP]``, the question cut to ``max_query_length`` tokens, a context longer than the room left
cut into windows ``doc_stride`` tokens apart; the answer is the span (s, e) with the highest
``start[s] + end[e]`` over all of the question's windows, s <= e, both context tokens, at most
``max_answer_length`` tokens. ``start``/``end`` are character offsets into the context
(``context[start:end] == answer``). ``score`` is the span's probability within its window:
softmax(start logits)[s] x softmax(end logits)[e], each softmax over that window's context tokens.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..features import _positive_int
from ..finetune.qa import best_spans, encode_qa
from ..finetune.readers import QAExample
from ._batching import DEFAULT_BATCH_TOKENS, Runner, softmax
from ._spec import read_spec

__all__ = ["QuestionAnswerer"]


class QuestionAnswerer:
    """``qa(question=..., context=...)``: see the module docstring.

    ``model``, ``tokenizer``, ``spec`` as ``fastembed.finetune.export.load_model`` returns them
    (``spec["task"]`` "qa"; ``max_length``, ``doc_stride``, ``max_query_length``,
    ``max_answer_length`` from the spec unless given here). A ``doc_stride`` larger than the
    context room of a window (``max_length - max_query_length - 3``) is lowered to that room:
    the windows then follow each other without overlap, and no context token is skipped.
    """

    def __init__(self, model: Any, tokenizer: Any, spec: Any, *, threads: Optional[int] = None,
                 workers: Optional[int] = None, batch_tokens: int = DEFAULT_BATCH_TOKENS, device: Any = None,
                 doc_stride: Optional[int] = None, max_query_length: Optional[int] = None,
                 max_answer_length: Optional[int] = None) -> None:
        from ..tokenizers.base import check_tokenizer

        given = {"doc_stride": doc_stride, "max_query_length": max_query_length, "max_answer_length": max_answer_length}
        self.spec = read_spec({**spec, **{k: v for k, v in given.items() if v is not None}}
                              if isinstance(spec, dict) else spec, ("qa",), "QuestionAnswerer")
        self.tokenizer = check_tokenizer(tokenizer, "QuestionAnswerer")
        self.max_length = self.spec["max_length"]
        self.max_query_length = self.spec["max_query_length"]
        self.max_answer_length = self.spec["max_answer_length"]
        room = self.max_length - min(self.max_query_length, self.max_length) - 3
        if room < 1:
            raise ValueError(f"max_length={self.max_length} leaves no room for context after a question of up to "
                             f"max_query_length={self.max_query_length} tokens and 3 special tokens")
        self.doc_stride = min(self.spec["doc_stride"], room)
        self.runner = Runner(model, threads=threads, workers=workers, batch_tokens=batch_tokens, device=device)
        self.model = self.runner.model
        self.last_report: Optional[dict] = None

    def __call__(self, question: Any = None, context: Any = None, *,
                 max_answer_length: Optional[int] = None) -> Any:
        """``{"answer", "start", "end", "score"}`` for a question (str) and its context (str);
        a list of them for lists of questions and contexts (one context str serves every
        question), or for a list of dicts ``{"question": ..., "context": ...}`` passed first.
        ValueError for a question without a context, or an empty question or context."""
        limit = self.max_answer_length if max_answer_length is None else _positive_int(max_answer_length,
                                                                                        "max_answer_length")
        single, examples = _examples(question, context)
        if not examples:
            return []
        features, report = encode_qa(examples, self.tokenizer, max_length=self.max_length, doc_stride=self.doc_stride,
                                     max_query_length=self.max_query_length, train=False)
        self.last_report = {"questions": len(examples), "windows": report["windows"],
                            "questions_truncated": report["questions_truncated"]}
        logits = self.runner.logits(features)                              # (T, 2) per window
        start = [y[:, 0] for y in logits]
        end = [y[:, 1] for y in logits]
        out = []
        for ex, hit in zip(examples, best_spans(features, start, end, len(examples), limit)):
            if hit is None:                                                # no context token: cannot happen
                out.append({"answer": "", "start": 0, "end": 0, "score": 0.0})
                continue
            _, k, s, e = hit
            f = features[k]
            a, b = int(f["offsets"][s, 0]), int(f["offsets"][e, 1])
            ctx = f["context_mask"]
            p = softmax(start[k][ctx])[int(np.sum(ctx[:s]))] * softmax(end[k][ctx])[int(np.sum(ctx[:e]))]
            out.append({"answer": ex.context[a:b], "start": a, "end": b, "score": float(p)})
        return out[0] if single else out

    def __repr__(self) -> str:
        return (f"QuestionAnswerer(max_length={self.max_length}, doc_stride={self.doc_stride}, "
                f"max_query_length={self.max_query_length}, max_answer_length={self.max_answer_length})")


def _examples(question: Any, context: Any) -> tuple[bool, list[QAExample]]:
    """(a single question given, the questions as QAExamples with ids "0", "1", ...)."""
    if isinstance(question, (list, tuple)) and not question and (context is None or context == [] or context == ()):
        return False, []                                  # nothing to answer
    if isinstance(question, dict):
        question = [question]
        single = True
    else:
        single = isinstance(question, str)
    if isinstance(question, (list, tuple)) and question and all(isinstance(q, dict) for q in question):
        if context is not None:
            raise TypeError("dict inputs carry their own 'context'; do not pass context= as well")
        pairs = []
        for i, d in enumerate(question):
            if d.get("context") is None:
                raise ValueError(f"question {i} has no 'context': extractive QA needs the text to find the answer in")
            pairs.append((d.get("question"), d["context"]))
    else:
        if question is None:
            raise TypeError("QuestionAnswerer needs question=... (a str or a list of str) and context=...")
        if context is None:
            raise ValueError("QuestionAnswerer needs a context: extractive QA finds the answer in the context text")
        questions = [question] if single else question
        if not isinstance(questions, (list, tuple)):
            raise TypeError(f"question must be a str, a list of str or dicts {{'question', 'context'}}, got "
                            f"{type(question).__name__}")
        if isinstance(context, str):
            contexts = [context] * len(questions)
        elif isinstance(context, (list, tuple)) and not single:
            if len(context) != len(questions):
                raise ValueError(f"{len(questions)} questions but {len(context)} contexts: give one context per "
                                 "question, or one str for all")
            contexts = list(context)
        else:
            raise TypeError(f"context must be a str{'' if single else ' or a list of str, one per question'}, got "
                            f"{type(context).__name__}")
        pairs = list(zip(questions, contexts))
    out = []
    for i, (q, c) in enumerate(pairs):
        if not isinstance(q, str) or not isinstance(c, str):
            raise TypeError(f"question {i}: the question and the context must be str, got {type(q).__name__} and "
                            f"{type(c).__name__}")
        out.append(QAExample(str(i), q, c))
    return single, out
