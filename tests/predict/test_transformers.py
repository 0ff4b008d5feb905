"""The pipelines agree with transformers' own pipelines on transformers' own fine-tuned BERT
directories (tiny random models): the same labels, entity spans and answer spans, and the same
scores up to float rounding."""

from __future__ import annotations

import pytest

from .conftest import TAGS, pipeline_from_hf_dir, save_hf_model

transformers = pytest.importorskip("transformers")

TEXTS = ["the movie was good", "bad", "a very fine film , not awful", "what ?", "john smith lives in paris",
         "the city of paris is the capital of france", "not good", "who"]


@pytest.fixture(autouse=True)
def quiet_transformers():
    transformers.logging.set_verbosity_error()


def test_classification_agrees(tmp_path):
    d = save_hf_model(tmp_path, "BertForSequenceClassification", ["neg", "pos"], seed=1)
    ours = pipeline_from_hf_dir(d, "classify", ["neg", "pos"], workers=2, batch_tokens=32)
    theirs = transformers.pipeline("text-classification", model=str(d), device="cpu")
    a, b = ours(TEXTS), theirs(TEXTS)
    assert [r["label"] for r in a] == [r["label"] for r in b]
    assert [r["score"] for r in a] == pytest.approx([r["score"] for r in b], abs=1e-4)
    assert len({r["label"] for r in a}) == 2


def test_token_classification_agrees(tmp_path):
    d = save_hf_model(tmp_path, "BertForTokenClassification", TAGS, seed=1)
    ours = pipeline_from_hf_dir(d, "ner", TAGS)
    theirs = transformers.pipeline("token-classification", model=str(d), aggregation_strategy="first", device="cpu")
    texts = ["john smith lives in paris", "the city of france is paris", "who works on the river smiths"]
    a, b = ours(texts), theirs(texts)
    assert [[(e["entity"], e["start"], e["end"]) for e in r] for r in a] == \
           [[(e["entity_group"], e["start"], e["end"]) for e in r] for r in b]
    assert [e["score"] for r in a for e in r] == pytest.approx([e["score"] for r in b for e in r], abs=1e-4)
    assert sum(map(len, a)) > 0


def test_question_answering_agrees(tmp_path):
    # transformers 5 has no question-answering pipeline: its model's logits, decoded by finetune's rule
    import numpy as np
    import torch

    from fastembed.finetune.qa import best_span

    d = save_hf_model(tmp_path, "BertForQuestionAnswering", seed=2)
    ours = pipeline_from_hf_dir(d, "qa", max_answer_length=6)
    model = transformers.AutoModelForQuestionAnswering.from_pretrained(str(d)).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(d))
    ctx = "john smith lives in paris . paris is the capital of france , a city on a river ."
    answers = set()
    for q in ("who lives in paris ?", "what is the capital of france ?", "where ?", "what is on a river ?"):
        enc = tok(q, ctx, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].numpy()
        with torch.no_grad():
            out = model(**enc)
        context = np.array([s == 1 for s in enc.sequence_ids(0)])
        start, end = out.start_logits[0].numpy(), out.end_logits[0].numpy()
        _, s, e = best_span(start, end, context, 6)
        got = ours(question=q, context=ctx)
        assert (got["start"], got["end"]) == (int(offsets[s, 0]), int(offsets[e, 1]))
        p = np.exp(start[context] - start[context].max())
        r = np.exp(end[context] - end[context].max())
        k = np.flatnonzero(context)
        want = p[k == s].item() / p.sum() * r[k == e].item() / r.sum()
        assert got["score"] == pytest.approx(want, abs=1e-4)
        answers.add(got["answer"])
    assert len(answers) > 1
