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

from .._tiny import one_torch_thread  # noqa: F401  (autouse)

WORDS = ("good bad great awful fine movie film plot the a was is very not what who where when "
         "paris france city river capital of in on from john smith lives works").split()
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "?", "!", "-", "'"] + WORDS + ["##s", "##ed"]
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


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


def save_hf_model(path, arch: str, labels=None, seed: int = 0):
    """A tiny random transformers ``arch`` ("BertForSequenceClassification", ...) saved with our
    tokenizer's files into ``path``; weights drawn with std 0.5, not BERT's 0.02, so that texts
    score apart."""
    import transformers

    kw = {} if labels is None else dict(id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)})
    cfg = transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=128,
                                  initializer_range=0.5, **kw)          # wide weights: texts score apart
    torch.manual_seed(seed)
    model = getattr(transformers, arch)(cfg).eval()
    model.save_pretrained(path)
    WordPieceTokenizer(VOCAB).save_pretrained(path)
    return path


def pipeline_from_hf_dir(path, task: str, labels=None, **options):
    """Our pipeline for a transformers directory, built from objects: the encoder through
    ``load_bert``, the head's weights copied. ``fastembed.predict.load`` (through
    ``fastembed.finetune.export.load_model``) replaces this; test_load checks that they agree."""
    from fastembed.models.hf import load_bert, load_wordpiece, read_weights
    from fastembed.predict import QuestionAnswerer, TextClassifier, TokenTagger

    encoder = load_bert(path)
    kind, name, cls = {"classify": ("sequence", "classifier", TextClassifier), "ner": ("token", "classifier", TokenTagger),
                       "qa": ("span", "qa_outputs", QuestionAnswerer)}[task]
    head = make_head(kind, encoder.config.hidden_size, len(labels or ()) or 2)
    weights = read_weights(path)
    head.out.weight.data.copy_(weights[f"{name}.weight"])
    head.out.bias.data.copy_(weights[f"{name}.bias"])
    spec = {"task": task, "labels": labels, "max_length": 128}
    return cls(FineTuneModel(encoder, head).eval(), load_wordpiece(path), spec, **options)
