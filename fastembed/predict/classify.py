"""Text classification with a fine-tuned model: texts (or text pairs) in, a label and its probability out.

    >>> clf = fastembed.predict.load("runs/sst2/model")                     # doctest: +SKIP
    >>> clf("a gripping, funny film")                                       # doctest: +SKIP
    {'label': '1', 'score': 0.97}
    >>> clf([("A man plays.", "Someone plays."), ...], top_k=None)          # doctest: +SKIP
    [[{'label': 'entailment', 'score': 0.91}, {'label': 'not_entailment', 'score': 0.09}], ...]

The rows are finetune's (:func:`fastembed.finetune.encoding.encode_sequences`): the tokenizer's
template and its ``longest_first`` truncation at the model's ``max_length``, so a dev example
gets the logits it got when finetune scored it. A pair is fine for a model trained on single
sentences (BERT reads ``[CLS] A [SEP] B [SEP]`` either way), and an empty text is encoded as
``[CLS] [SEP]``, as transformers' pipelines do. ``score`` is the softmax probability.
"""

from __future__ import annotations

import warnings
from typing import Any, Optional

import numpy as np

from ..features import TruncationWarning
from ..finetune.encoding import encode_sequences
from ..finetune.readers import TextExample
from ._batching import DEFAULT_BATCH_TOKENS, Runner, softmax
from ._spec import label_names, read_spec

__all__ = ["TextClassifier", "TruncationWarning"]

_EXPECTED = ("a str, a dict {'text': ..., 'text_pair': ...}, or a list of str, (text, text_pair) tuples "
             "or such dicts")


class TextClassifier:
    """``clf(inputs, text_pair=None, *, top_k=1)``: see the module docstring.

    ``model``, ``tokenizer``, ``spec`` as ``fastembed.finetune.export.load_model`` returns them
    (``spec["task"]`` "classify" or "pair", ``spec["labels"]`` the names). ``threads``,
    ``workers``, ``batch_tokens``, ``device``: see :class:`fastembed.predict._batching.Runner`.
    ``last_report`` counts the inputs the last call truncated (a TruncationWarning says so too).
    """

    def __init__(self, model: Any, tokenizer: Any, spec: Any, *, threads: Optional[int] = None,
                 workers: Optional[int] = None, batch_tokens: int = DEFAULT_BATCH_TOKENS, device: Any = None) -> None:
        from ..tokenizers.base import check_tokenizer

        self.spec = read_spec(spec, ("classify", "pair"), "TextClassifier")
        self.labels = label_names(self.spec, "TextClassifier")
        self.tokenizer = check_tokenizer(tokenizer, "TextClassifier")
        self.max_length = self.spec["max_length"]
        self.runner = Runner(model, threads=threads, workers=workers, batch_tokens=batch_tokens, device=device)
        self.model = self.runner.model
        self.last_report: Optional[dict] = None

    def __call__(self, inputs: Any, text_pair: Any = None, *, top_k: Optional[int] = 1) -> Any:
        """One result per input, in input order: ``{"label", "score"}`` with ``top_k=1``, else
        the ``top_k`` best (all with ``top_k=None``) as a list, best first. A single input
        (a str, or a dict) gives a single result; an empty list gives an empty list."""
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be a positive int or None (all labels), got {top_k!r}")
        single, examples = _examples(inputs, text_pair)
        probs = self.probabilities(examples)
        out = [self._result(p, top_k) for p in probs]
        return out[0] if single else out

    def probabilities(self, examples: list[TextExample]) -> np.ndarray:
        """(N, L) softmax probabilities of ``examples`` (TextExample, ``text_b`` for a pair)."""
        if not examples:
            return np.zeros((0, len(self.labels)), np.float32)
        singles = [i for i, ex in enumerate(examples) if ex.text_b is None]
        pairs = [i for i, ex in enumerate(examples) if ex.text_b is not None]
        features: list[dict] = [{}] * len(examples)
        truncated = 0
        for idx, pair in ((singles, False), (pairs, True)):     # one template per call
            if not idx:
                continue
            f, report = encode_sequences([examples[i] for i in idx], self.tokenizer, None, max_length=self.max_length,
                                         pair=pair, allow_empty=True)
            for i, feat in zip(idx, f):
                features[i] = feat
            truncated += report["truncated"]
        self.last_report = {"examples": len(examples), "truncated": truncated}
        if truncated:
            warnings.warn(f"{truncated} of {len(examples)} inputs were longer than max_length={self.max_length} "
                          "tokens and were truncated to it, as in fine-tuning", TruncationWarning, stacklevel=3)
        logits = np.stack(self.runner.logits(features))              # (N, L)
        label_names(self.spec, "TextClassifier", need=logits.shape[1])
        return softmax(logits)

    def _result(self, p: np.ndarray, top_k: Optional[int]) -> Any:
        if top_k == 1:
            i = int(np.argmax(p))
            return {"label": self.labels[i], "score": float(p[i])}
        order = np.argsort(-p, kind="stable")[:top_k]
        return [{"label": self.labels[i], "score": float(p[i])} for i in order]

    def __repr__(self) -> str:
        return f"TextClassifier(task={self.spec['task']!r}, labels={self.labels}, max_length={self.max_length})"


def _example(item: Any, where: str) -> TextExample:
    if isinstance(item, str):
        return TextExample(item, source=where)
    if isinstance(item, dict):
        text, pair = item.get("text"), item.get("text_pair")
        if not isinstance(text, str) or not (pair is None or isinstance(pair, str)):
            raise TypeError(f"{where}: a dict input needs 'text' (str) and optionally 'text_pair' (str); got keys "
                            f"{sorted(item)}")
        return TextExample(text, pair, source=where)
    if isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(t, str) for t in item):
        return TextExample(item[0], item[1], source=where)
    raise TypeError(f"{where} is a {type(item).__name__}; expected a str, a (text, text_pair) pair of str or a "
                    "dict {'text': ..., 'text_pair': ...}")


def _examples(inputs: Any, text_pair: Any) -> tuple[bool, list[TextExample]]:
    """(whether a single input was given, the inputs as TextExamples)."""
    if isinstance(inputs, (str, dict)):
        if text_pair is not None and not isinstance(text_pair, str):
            raise TypeError(f"a single text takes a single text_pair str, got {type(text_pair).__name__}")
        ex = _example(inputs if text_pair is None else (inputs, text_pair), "the input")
        return True, [ex]
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"TextClassifier takes {_EXPECTED}; got {type(inputs).__name__}")
    if text_pair is not None:
        if isinstance(text_pair, str) or not isinstance(text_pair, (list, tuple)) or len(text_pair) != len(inputs):
            raise TypeError(f"text_pair must be a list of str with one entry per text ({len(inputs)})")
        inputs = list(zip(inputs, text_pair))
    return False, [_example(x, f"input {i}") for i, x in enumerate(inputs)]
