"""QuestionAnswerer: finetune's windows and span decoding, the answer as a character span of the
context, an answer found in a later window of a long context, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastembed.finetune.loop import predict
from fastembed.finetune.qa import decode_answers, encode_qa
from fastembed.finetune.readers import QAExample
from fastembed.predict import QuestionAnswerer

from .conftest import LookupModel, tiny_model

CTX = "John Smith lives in Paris. Paris is the capital of France, a city on a river."
LONG = ("The movie was good. " * 12) + "Where? In Paris, the city. " + ("The plot was bad. " * 12)
QUESTIONS = [("who lives in paris ?", CTX), ("what is the capital of france ?", CTX), ("where ?", LONG),
             ("what was the film ?", LONG)]
SPEC = {"task": "qa", "max_length": 40, "doc_stride": 8, "max_query_length": 10, "max_answer_length": 6}


def span_table(tok, start: str, end: str) -> torch.Tensor:
    """(V, 2) logits: the start channel favours token ``start``, the end channel token ``end``."""
    table = torch.zeros(tok.vocab_size, 2)
    table[tok.token_to_id(start), 0] = 8.0
    table[tok.token_to_id(end), 1] = 8.0
    return table


def test_answers_are_finetunes_decoding(tok):
    model = tiny_model("span", seed=2)
    qa = QuestionAnswerer(model, tok, SPEC, batch_tokens=100, workers=2)
    examples = [QAExample(str(i), q, c) for i, (q, c) in enumerate(QUESTIONS)]
    features, report = encode_qa(examples, tok, max_length=40, doc_stride=8, max_query_length=10, train=False)
    assert report["windows"] > len(examples)                                # the long context has windows
    logits = predict(model, features)
    want = decode_answers(examples, features, [y[:, 0] for y in logits], [y[:, 1] for y in logits],
                          max_answer_length=6)
    got = qa(question=[q for q, _ in QUESTIONS], context=[c for _, c in QUESTIONS])
    assert [r["answer"] for r in got] == [want[str(i)] for i in range(len(QUESTIONS))]
    for r, (_, c) in zip(got, QUESTIONS):
        assert c[r["start"]:r["end"]] == r["answer"] and 0 < r["score"] <= 1
    assert qa.last_report["windows"] == report["windows"]


def test_an_answer_in_a_later_window_is_found(tok):
    qa = QuestionAnswerer(LookupModel(span_table(tok, "paris", "city")), tok, SPEC)
    r = qa(question="where ?", context=LONG)
    assert r["answer"] == "Paris, the city" and LONG[r["start"]:r["end"]] == r["answer"]
    first_window_end = len(" ".join(["The movie was good."] * 6))           # well past what window 1 holds
    assert r["start"] > first_window_end and qa.last_report["windows"] > 2
    # the only start token and the only end token of the window: the span takes nearly all the probability
    assert r["score"] > 0.95


def test_max_answer_length_limits_the_span(tok):
    qa = QuestionAnswerer(LookupModel(span_table(tok, "paris", "city")), tok, SPEC)
    assert qa(question="where ?", context=LONG, max_answer_length=2)["answer"] != "Paris, the city"


def test_input_forms(tok):
    qa = QuestionAnswerer(tiny_model("span", seed=2), tok, SPEC)
    batch = qa(question=["who lives in paris ?", "where ?"], context=CTX)  # one context for every question
    assert [r["answer"] for r in batch] == [qa(question=q, context=CTX)["answer"] for q in
                                            ("who lives in paris ?", "where ?")]
    assert qa({"question": "where ?", "context": CTX})["answer"] == batch[1]["answer"]
    assert [r["answer"] for r in qa([{"question": "where ?", "context": CTX}])] == [batch[1]["answer"]]
    assert qa(question=[], context=[]) == [] and qa([]) == []


def test_bad_input_is_refused_clearly(tok):
    qa = QuestionAnswerer(tiny_model("span", seed=2), tok, SPEC)
    with pytest.raises(ValueError, match="needs a context"):
        qa(question="where ?")
    with pytest.raises(ValueError, match="no 'context'"):
        qa([{"question": "where ?"}])
    with pytest.raises(ValueError, match="context is empty"):
        qa(question="where ?", context="  ")
    with pytest.raises(ValueError, match="2 questions but 1 contexts"):
        qa(question=["a", "b"], context=["c"])
    with pytest.raises(TypeError, match="question 0"):
        qa(question=[3], context=["c"])
    with pytest.raises(TypeError, match="context must be a str"):
        qa(question="a", context=["c"])
    with pytest.raises(TypeError, match="needs question"):
        qa(context="c")


def test_doc_stride_beyond_the_window_room_is_lowered_to_it(tok):
    qa = QuestionAnswerer(tiny_model("span"), tok, {"task": "qa", "max_length": 40, "max_query_length": 10})
    assert qa.doc_stride == 40 - 10 - 3                                     # spec's default 128 does not fit
    r = qa(question="where ?", context=LONG)
    assert LONG[r["start"]:r["end"]] == r["answer"]
    with pytest.raises(ValueError, match="no room"):
        QuestionAnswerer(tiny_model("span"), tok, {"task": "qa", "max_length": 10, "max_query_length": 10})
    assert np.isfinite(r["score"])
