"""Fine-tuning a pretrained BERT: sequence(-pair) classification, extractive QA and NER, with the
encoder trained end to end or frozen (only the head learns).

    from fastembed.finetune import finetune
    r = finetune("classify", model_dir, "glue/SST-2/train.tsv", "glue/SST-2/dev.tsv",
                 freeze_encoder=True, epochs=3, out_dir="runs/sst2-frozen")
    r["best"]        # {"epoch": 2, "dev": {"accuracy": 0.83}}

Files, in the order data flows through them:

    readers.py   GLUE .tsv, CoNLL-2003, SQuAD .json -> examples
    encoding.py  label sets; classification inputs; BIO tags on the first piece of each word
    qa.py        question + context windows (doc_stride), answer positions from the tokenizer's
                 character offsets, span decoding
    heads.py     sequence / span / token heads; FineTuneModel (freeze_encoder, feature layers)
    metrics.py   accuracy, SQuAD EM/F1, conlleval entity F1
    tasks.py     the four tasks: what to read, encode and score
    loop.py      finetune(): AdamW, warmup + linear decay, dev metric per epoch, early stopping,
                 the best epoch saved as out_dir/model; load_finetuned()
    export.py    save_model() / load_model(): HuggingFace model directories that transformers'
                 AutoModelFor... classes load with equal logits; head-only saves of frozen runs
    modeling_fastembed.py   copied into a saved directory whose head transformers has no class
                 for (auto_map + trust_remote_code); never imported by fastembed

The names below are imported on first use, so the data and metric modules, which need only
numpy, load without PyTorch (and so does the command line, fastembed/cli/finetune.py).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "finetune": "loop", "load_finetuned": "loop", "predict": "loop",
    "save_model": "export", "load_model": "export",
    "FineTuneModel": "heads", "SequenceClassificationHead": "heads", "SpanHead": "heads",
    "TokenClassificationHead": "heads", "make_head": "heads",
    "accuracy": "metrics", "entities": "metrics", "entity_scores": "metrics", "normalize_answer": "metrics",
    "squad_scores": "metrics",
    "Answer": "readers", "QAExample": "readers", "TaggedSentence": "readers", "TextExample": "readers",
    "read_conll": "readers", "read_glue": "readers", "read_squad": "readers", "split_by_title": "readers",
    "text_examples": "readers",
}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'fastembed.finetune' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
