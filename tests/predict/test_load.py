"""``fastembed.predict.load`` on a model directory: our fine-tuned ``OUT/model`` and transformers'
own fine-tuned BERT directories give the pipeline of their task, predicting what the pipeline
built from the same objects predicts. Needs fastembed.finetune.export (load_model); skipped
without it."""

from __future__ import annotations

import pytest

from fastembed.finetune import Answer, QAExample, TaggedSentence, finetune, load_finetuned, text_examples
from fastembed.predict import QuestionAnswerer, TextClassifier, TokenTagger, load
from fastembed.predict._batching import DEFAULT_BATCH_TOKENS

from .conftest import TAGS, VOCAB, pipeline_from_hf_dir, save_hf_model

pytest.importorskip("fastembed.finetune.export")

TEXTS = ["the movie was good", "the film was great", "the plot is awful", "a bad film", "very fine movie", "not good"]
CTX = "john smith lives in paris . paris is the capital of france ."


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    import torch

    from fastembed.models import BertConfig, BertModel
    from fastembed.models.hf import save_bert

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("tiny")
    save_bert(BertModel(BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_layers=2, num_heads=2,
                                   intermediate_size=64, max_position=128)), d, vocab=VOCAB)
    return d


def results(pipe, task):
    if task == "classify":
        return [r["label"] for r in pipe(TEXTS)]
    if task == "ner":
        return pipe(["john smith lives in paris", "paris is the capital of france"])
    return [r["answer"] for r in pipe(question=["who lives in paris ?", "what is the capital ?"], context=CTX)]


@pytest.mark.parametrize("task", ["classify", "ner", "qa"])
def test_load_our_finetuned_directory(tiny_dir, tmp_path, task):
    if task == "classify":
        train = text_examples(TEXTS, ["pos", "pos", "neg", "neg", "pos", "neg"])
        kw = {}
    elif task == "ner":
        train = [TaggedSentence(["john", "smith", "lives", "in", "paris"], ["B-PER", "I-PER", "O", "O", "B-LOC"])]
        kw = {}
    else:
        train = [QAExample("1", "who lives in paris ?", CTX, [Answer("john smith", 0)])]
        kw = dict(max_length=32, doc_stride=8, max_query_length=8)
    finetune(task, tiny_dir, train, train, epochs=1, batch_size=2, out_dir=tmp_path, **kw)
    pipe = load(tmp_path / "model", batch_tokens=64)
    assert type(pipe) is {"classify": TextClassifier, "ner": TokenTagger, "qa": QuestionAnswerer}[task]
    assert pipe.runner.batch_tokens == 64
    model, tok, state = load_finetuned(tmp_path)
    spec = dict(state["finetune"], **{k: v for k, v in kw.items() if k != "max_length"})
    same = type(pipe)(model, tok, spec)
    assert results(pipe, task) == results(same, task)
    if task == "qa":
        assert pipe.doc_stride == 8 and pipe.max_query_length == 8 and pipe.max_length == 32


@pytest.mark.parametrize("arch,task,labels", [("BertForSequenceClassification", "classify", ["neg", "pos"]),
                                              ("BertForTokenClassification", "ner", TAGS),
                                              ("BertForQuestionAnswering", "qa", None)])
def test_load_transformers_directory(tmp_path, arch, task, labels):
    pytest.importorskip("transformers")
    d = save_hf_model(tmp_path, arch, labels, seed=1)
    pipe = load(d)
    assert pipe.spec["task"] == task and pipe.runner.batch_tokens == DEFAULT_BATCH_TOKENS
    if labels is not None:
        assert pipe.labels == labels
    assert results(pipe, task) == results(pipeline_from_hf_dir(d, task, labels), task)


def test_load_refuses_what_is_not_a_model_directory(tmp_path):
    with pytest.raises((FileNotFoundError, ValueError)):
        load(tmp_path / "missing")
