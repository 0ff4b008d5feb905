"""Prediction on raw text with a fine-tuned model: classification, entity tagging, question answering.

    import fastembed.predict
    clf = fastembed.predict.load("runs/sst2/model")       # a TextClassifier
    clf(["a gripping film", "dull"])                      # [{"label": "1", "score": 0.97}, ...]
    tagger = fastembed.predict.load("runs/conll/model")   # a TokenTagger
    tagger("John Smith lives in Paris.")                  # [{"entity": "PER", "start": 0, "end": 10, ...}, ...]
    qa = fastembed.predict.load("runs/squad/model")       # a QuestionAnswerer
    qa(question="Where?", context="John lives in Paris.") # {"answer": "Paris", "start": 14, "end": 19, ...}

:func:`load` reads a model directory (ours from ``finetune(..., out_dir=...)``, or transformers'
own fine-tuned BERT) with ``fastembed.finetune.export.load_model`` and returns the pipeline for
its task. Each pipeline can also be built from objects: ``TextClassifier(model, tokenizer, spec)``.

Every pipeline encodes its input with fine-tuning's own functions (``fastembed.finetune.encoding``
and ``.qa``), so a dev example gets the logits it got when finetune scored it, and batches the
rows by token count on worker threads (:mod:`._batching`). Files:

    _batching.py   token-budget batches, worker threads, logits back in input order
    _spec.py       the spec dict: task, labels, lengths, defaults
    classify.py    TextClassifier (texts or pairs -> label, probability)
    tag.py         TokenTagger (text -> entity spans with character offsets, BIO merged)
    qa.py          QuestionAnswerer (question + context -> answer span; long contexts by windows)

The names below are imported on first use, so ``import fastembed.predict`` loads without PyTorch
(the command line, fastembed/cli/predict.py, lists its help without it).
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Optional, Union

_WHERE = {"TextClassifier": "classify", "TokenTagger": "tag", "QuestionAnswerer": "qa",
          "DEFAULT_BATCH_TOKENS": "_batching"}
__all__ = ["load", *_WHERE]

PIPELINES = {"classify": "TextClassifier", "pair": "TextClassifier", "ner": "TokenTagger", "qa": "QuestionAnswerer"}


def load(path: Union[str, os.PathLike], *, threads: Optional[int] = None, workers: Optional[int] = None,
         batch_tokens: Optional[int] = None, device: Any = "cpu", precision: str = "fp32") -> Any:
    """The pipeline for the fine-tuned model in ``path``: a :class:`TextClassifier` ("classify",
    "pair"), :class:`TokenTagger` ("ner") or :class:`QuestionAnswerer` ("qa"). ``threads``:
    torch's and fastembed's thread counts (process-wide); ``workers``: CPU worker threads
    (default one per thread); ``batch_tokens``: padded tokens per batch (default
    :data:`DEFAULT_BATCH_TOKENS`); ``precision``: "fp32", "bf16" or "int8" for the encoder layers'
    matrix products (:func:`fastembed.models.precision.prepare`: the head, LayerNorm and attention
    stay float32; bf16 without CPU support warns and runs float32), kept in ``pipeline.precision``."""
    from ..finetune.export import load_model
    from ..models.precision import check_precision, prepare
    from ._batching import DEFAULT_BATCH_TOKENS

    check_precision(precision)

    model, tokenizer, spec = load_model(path, device=device)
    task = spec.get("task")
    if task not in PIPELINES:
        raise ValueError(f"{path}: the model's task is {task!r}; fastembed.predict has pipelines for "
                         f"{sorted(PIPELINES)}")
    cls = globals().get(PIPELINES[task]) or __getattr__(PIPELINES[task])
    pipeline = cls(model, tokenizer, spec, threads=threads, workers=workers,
                   batch_tokens=DEFAULT_BATCH_TOKENS if batch_tokens is None else batch_tokens, device=device)
    pipeline.precision = prepare(pipeline.model, precision, device=device)
    return pipeline


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'fastembed.predict' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
