"""A small random BERT saved as a HuggingFace model directory, for tests that need a model on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_tiny_bert(path: Path, vocab: list[str], seed: int = 0, **config: Any) -> Path:
    """``BertConfig.preset("tiny", vocab_size=len(vocab), **config)`` with weights drawn after
    ``torch.manual_seed(seed)``, saved with ``vocab`` to ``path``; returns ``path``."""
    import torch

    from fastembed.models.bert import BertConfig, BertModel
    from fastembed.models.hf import save_bert

    torch.manual_seed(seed)
    save_bert(BertModel(BertConfig.preset("tiny", vocab_size=len(vocab), **config)), path, vocab=vocab)
    return path
