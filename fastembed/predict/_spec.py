"""What a pipeline needs to know of a fine-tuned model besides its weights: the ``spec`` dict.

``fastembed.finetune.export.load_model`` returns it; a fine-tuning run's ``state["finetune"]``
(``fastembed.finetune.load_finetuned``) has the same keys. A pipeline reads ``task``,
``labels`` and ``max_length``, and for QA ``doc_stride``, ``max_query_length`` and
``max_answer_length``; anything missing takes finetune's default.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ..features import _positive_int

DEFAULTS = {"max_length": 128, "doc_stride": 128, "max_query_length": 64, "max_answer_length": 30}


def read_spec(spec: Any, tasks: tuple[str, ...], what: str) -> dict[str, Any]:
    """``spec`` as a dict with the defaults filled in; ValueError when its task is not one of
    ``tasks`` (the pipeline ``what`` serves those)."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"{what}: spec must be a dict (task, labels, max_length, ...), got {type(spec).__name__}")
    task = spec.get("task")
    if task not in tasks:
        raise ValueError(f"{what} serves models fine-tuned for {' or '.join(map(repr, tasks))}; this one is for "
                         f"{task!r} (fastembed.predict.load picks the right pipeline)")
    out = dict(spec)
    for key, default in DEFAULTS.items():
        out[key] = _positive_int(default if spec.get(key) is None else spec[key], f"spec[{key!r}]")
    return out


def label_names(spec: Mapping[str, Any], what: str, need: Optional[int] = None) -> list[str]:
    """The label names as str (finetune keeps GLUE's "0"/"1" as names; ints become str too)."""
    labels = spec.get("labels")
    if not labels:
        raise ValueError(f"{what}: spec['labels'] must list the label names, got {labels!r}")
    if need is not None and len(labels) != need:
        raise ValueError(f"{what}: spec lists {len(labels)} labels but the model gives {need} scores")
    return [str(x) for x in labels]
