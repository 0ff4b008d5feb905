"""A small random BERT saved as a HuggingFace model directory, for tests that need a model on disk,
and the fixture that runs tiny models on one torch thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest


def save_tiny_bert(path: Path, vocab: list[str], seed: int = 0, **config: Any) -> Path:
    """``BertConfig.preset("tiny", vocab_size=len(vocab), **config)`` with weights drawn after
    ``torch.manual_seed(seed)``, saved with ``vocab`` to ``path``; returns ``path``."""
    import torch

    from fastembed.models.bert import BertConfig, BertModel
    from fastembed.models.hf import save_bert

    torch.manual_seed(seed)
    save_bert(BertModel(BertConfig.preset("tiny", vocab_size=len(vocab), **config)), path, vocab=vocab)
    return path


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for a test directory of tiny models (import it into its conftest.py):
    two threads spin-wait on a loaded 2-core machine and run ~15x slower. The count is put back."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
