"""Fixtures for the prediction tests: a small vocabulary, tiny random fine-tuning models (one per
head), and stub models whose logits follow the input ids, so that a test can say which tag or
span the model "predicts" for a word.

The models are tiny: one intra-op thread is fastest on a loaded 2-core machine, so these tests
use one and put the count back."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from fastembed.finetune.heads import FineTuneModel, make_head
from fastembed.models import BertConfig, BertModel
from fastembed.tokenizers import WordPieceTokenizer

WORDS = ("good bad great awful fine movie film plot the a was is very not what who where when "
         "paris france city river capital of in on from john smith lives works").split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", "!", "-", "'"] + WORDS + ["##s", "##ed"]
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tok() -> WordPieceTokenizer:
    return WordPieceTokenizer(VOCAB)


def tiny_model(kind: str, num_labels: int = 2, seed: int = 0, **head) -> FineTuneModel:
    """A 2-layer, 32-wide random BERT with a random ``kind`` head ("sequence", "token", "span")."""
    torch.manual_seed(seed)
    enc = BertModel(BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_layers=2, num_heads=2,
                               intermediate_size=64, max_position=128))
    h = make_head(kind, 32, num_labels, **head)
    for p in h.parameters():                 # BERT's init (std 0.02) gives near-equal scores; spread them
        torch.nn.init.normal_(p, 0.0, 1.0)
    return FineTuneModel(enc, h).eval()


class LookupModel(torch.nn.Module):
    """Logits looked up by input id: ``table`` (V, L); the stand-in for a model whose prediction
    for every token is known in advance."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = torch.nn.Parameter(table, requires_grad=False)

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        return SimpleNamespace(logits=self.table[input_ids])


def tag_table(tok: WordPieceTokenizer, tags_of: dict[str, str]) -> torch.Tensor:
    """(V, len(TAGS)) logits: 5 for the tag ``tags_of`` gives a token, 5 for O otherwise."""
    table = torch.zeros(tok.vocab_size, len(TAGS))
    table[:, 0] = 5.0
    for token, tag in tags_of.items():
        i = tok.token_to_id(token)
        table[i, 0] = 0.0
        table[i, TAGS.index(tag)] = 5.0
    return table
