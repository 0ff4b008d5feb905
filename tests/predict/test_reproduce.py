"""Prediction on raw text reproduces the dev metrics that finetune reported: a tiny BERT (real
uncased vocabulary, random weights) is fine-tuned for a few steps on slices of SST-2, CoNLL-2003
and XQuAD with ``finetune(..., out_dir=...)``, the OUT/model directory it wrote is loaded with
``fastembed.predict.load``, and the pipeline scores the same dev examples from their raw text.

Entities are compared as character spans: gold word-level entities become spans of
``" ".join(words)``. With pre-split words that is exactly finetune's word-level F1. From the raw
joined text the words are the tokenizer's (BERT splits "U.S." into four), so that figure can
differ; it is printed, not asserted equal."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import fastembed.predict
from fastembed.finetune import finetune, read_conll, read_glue, read_squad, split_by_title
from fastembed.finetune.metrics import entities, squad_scores
from fastembed.models import BertConfig, BertModel
from fastembed.models.hf import save_bert
from fastembed.predict import QuestionAnswerer, TextClassifier, TokenTagger

pytestmark = [pytest.mark.data, pytest.mark.slow]



@pytest.fixture(scope="module")
def encoder_dir(shared_data, tmp_path_factory):
    vocab = (shared_data / "tokenizers" / "bert-base-uncased" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_layers=2, num_heads=2,
                                 intermediate_size=64, max_position=512))
    d = tmp_path_factory.mktemp("tiny_uncased")
    save_bert(model, d, vocab=vocab)
    return d


def test_sst2_accuracy(shared_data, encoder_dir, tmp_path):
    train = read_glue(shared_data / "glue" / "SST-2" / "train.tsv")[:1500]
    dev = read_glue(shared_data / "glue" / "SST-2" / "dev.tsv")[:200]
    r = finetune("classify", encoder_dir, train, dev, epochs=2, lr=3e-3, batch_size=16,
                 head_options=dict(pooling="mean"), out_dir=tmp_path)
    clf = fastembed.predict.load(tmp_path / "model", batch_tokens=512, workers=2)    # what finetune wrote
    assert isinstance(clf, TextClassifier)
    pred = [p["label"] for p in clf([ex.text_a for ex in dev])]
    assert len(set(pred)) == 2                                         # it learned something to reproduce
    assert np.mean([p == ex.label for p, ex in zip(pred, dev)]) == pytest.approx(r["best"]["dev"]["accuracy"],
                                                                               abs=1e-12)


def char_entities(per_sentence):
    return {(n, e["entity"], e["start"], e["end"]) for n, r in enumerate(per_sentence) for e in r}


def f1(gold: set, pred: set) -> float:
    correct = len(gold & pred)
    p, r = correct / len(pred) if pred else 0.0, correct / len(gold) if gold else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def test_conll_entity_f1_via_character_spans(shared_data, encoder_dir, tmp_path, capsys):
    root = shared_data / "ner" / "conll2003"
    train, dev = read_conll(root / "train.txt")[:500], read_conll(root / "valid.txt")[:200]
    r = finetune("ner", encoder_dir, train, dev, epochs=3, lr=3e-3, batch_size=16, out_dir=tmp_path)
    tagger = fastembed.predict.load(tmp_path / "model", batch_tokens=512, workers=2)
    assert isinstance(tagger, TokenTagger)
    gold = set()
    for n, s in enumerate(dev):
        starts = np.cumsum([len(w) + 1 for w in s.words]) - [len(w) + 1 for w in s.words]
        gold |= {(n, k, int(starts[a]), int(starts[b]) + len(s.words[b])) for k, a, b in entities(s.tags)}
    words = char_entities(tagger(words=[s.words for s in dev]))
    assert words                                                       # it learned something to reproduce
    assert f1(gold, words) == pytest.approx(r["best"]["dev"]["f1"], abs=1e-12)
    raw = char_entities(tagger([" ".join(s.words) for s in dev]))
    with capsys.disabled():
        print(f"\nCoNLL dev[:200]: finetune entity F1 {r['best']['dev']['f1']:.4f}; predict, pre-split words "
              f"{f1(gold, words):.4f}, raw text {f1(gold, raw):.4f}")


def test_xquad_squad_f1(shared_data, encoder_dir, tmp_path):
    train, dev = split_by_title(read_squad(shared_data / "qa" / "xquad" / "xquad.en.json"))
    train, dev = train[:150], dev[:60]
    r = finetune("qa", encoder_dir, train, dev, epochs=2, lr=3e-3, batch_size=16, max_length=192, doc_stride=64,
                 out_dir=tmp_path)
    qa = fastembed.predict.load(tmp_path / "model", batch_tokens=2048, workers=2)  # doc_stride 64 from the run
    assert isinstance(qa, QuestionAnswerer) and qa.spec["doc_stride"] == 64
    got = qa(question=[ex.question for ex in dev], context=[ex.context for ex in dev])
    for g, ex in zip(got, dev):
        assert ex.context[g["start"]:g["end"]] == g["answer"]
    scores = squad_scores({ex.id: g["answer"] for g, ex in zip(got, dev)},
                          {ex.id: [a.text for a in ex.answers] for ex in dev})
    assert scores["f1"] > 0                                            # it learned something to reproduce
    assert scores["f1"] == pytest.approx(r["best"]["dev"]["f1"], abs=1e-12)
    assert scores["exact_match"] == pytest.approx(r["best"]["dev"]["exact_match"], abs=1e-12)
