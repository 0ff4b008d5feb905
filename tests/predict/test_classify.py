"""TextClassifier: the labels and probabilities of the model on finetune's own encoding, single
texts and pairs, top_k, and clear errors for input it cannot take."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fastembed.features import TruncationWarning
from fastembed.finetune.encoding import encode_sequences
from fastembed.finetune.loop import predict
from fastembed.finetune.readers import TextExample
from fastembed.predict import TextClassifier

from .conftest import tiny_model

TEXTS = ["the movie was good", "bad", "a very very fine film , not awful", "what ?", "john smith lives in paris",
         "the plot", "great", "the city of paris is the capital of france", "not good", "who"]
PAIRS = [("who lives in paris ?", "john smith lives in paris"), ("good film", "bad film"), ("a", "the")]
LABELS = ["neg", "neutral", "pos"]


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def model():
    return tiny_model("sequence", 3, seed=1, pooling="mean")     # the pooler makes every random label alike


def reference(model, tok, examples, pair):
    features, _ = encode_sequences(examples, tok, None, max_length=32, pair=pair)
    return softmax(np.stack(predict(model, features)))


def test_labels_and_scores_are_the_models_on_finetunes_encoding(model, tok):
    clf = TextClassifier(model, tok, {"task": "classify", "labels": LABELS, "max_length": 32}, batch_tokens=40,
                         workers=2)
    for inputs, examples, pair in ((TEXTS, [TextExample(t) for t in TEXTS], False),
                                   (PAIRS, [TextExample(a, b) for a, b in PAIRS], True)):
        want = reference(model, tok, examples, pair)
        got = clf(inputs)
        assert [r["label"] for r in got] == [LABELS[i] for i in want.argmax(1)]
        np.testing.assert_allclose([r["score"] for r in got], want.max(1), rtol=1e-5)
    assert len({r["label"] for r in clf(TEXTS)}) > 1               # a test where every label is the same proves little


def same(a, b) -> bool:
    """Equal results up to float32 rounding (a batch's padding changes the matrix products)."""
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a["label"] == b["label"] and a["score"] == pytest.approx(b["score"], rel=1e-5)


def test_input_forms_agree(model, tok):
    clf = TextClassifier(model, tok, {"task": "pair", "labels": LABELS, "max_length": 32})
    batch = clf(PAIRS)
    assert same(clf(*PAIRS[0]), batch[0])                           # clf(text, text_pair)
    assert same(clf({"text": PAIRS[1][0], "text_pair": PAIRS[1][1]}), batch[1])
    assert same(clf([a for a, _ in PAIRS], text_pair=[b for _, b in PAIRS]), batch)
    assert same(clf([{"text": a, "text_pair": b} for a, b in PAIRS]), batch)
    assert same(clf([list(p) for p in PAIRS]), batch)
    mixed = clf([TEXTS[0], PAIRS[0], TEXTS[1]])                     # singles and pairs in one call, in order
    assert same(mixed, [clf(TEXTS[0]), batch[0], clf(TEXTS[1])])
    assert same(clf(TEXTS[0]), clf([TEXTS[0]])[0])
    assert clf([]) == []


def test_top_k(model, tok):
    clf = TextClassifier(model, tok, {"task": "classify", "labels": LABELS, "max_length": 32})
    every = clf(TEXTS[0], top_k=None)
    assert sorted(r["label"] for r in every) == sorted(LABELS)
    assert sum(r["score"] for r in every) == pytest.approx(1.0)
    assert [r["score"] for r in every] == sorted((r["score"] for r in every), reverse=True)
    assert same(every[0], clf(TEXTS[0]))
    assert same(clf(TEXTS[:2], top_k=2), [r[:2] for r in clf(TEXTS[:2], top_k=None)])
    with pytest.raises(ValueError, match="top_k"):
        clf(TEXTS[0], top_k=0)


def test_empty_text_is_cls_sep_and_long_text_is_truncated_with_a_warning(model, tok):
    clf = TextClassifier(model, tok, {"task": "classify", "labels": LABELS, "max_length": 8})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = clf(["", "good"])
    want = reference(model, tok, [TextExample("good")], False)
    assert r[1]["label"] == LABELS[int(want.argmax())]
    assert 0 < r[0]["score"] <= 1
    with pytest.warns(TruncationWarning, match="1 of 2 inputs"):
        clf(["good", " ".join(["good"] * 20)])
    assert clf.last_report == {"examples": 2, "truncated": 1}


def test_bad_input_is_refused_clearly(model, tok):
    clf = TextClassifier(model, tok, {"task": "classify", "labels": LABELS, "max_length": 32})
    for bad in (5, None, b"bytes", {1, 2}):
        with pytest.raises(TypeError, match="TextClassifier takes|expected"):
            clf(bad)
    with pytest.raises(TypeError, match="input 1"):
        clf(["good", 3])
    with pytest.raises(TypeError, match="input 0"):
        clf([("a", "b", "c")])
    with pytest.raises(TypeError, match="text_pair"):
        clf(["a", "b"], text_pair=["c"])
    with pytest.raises(ValueError, match="'ner'"):
        TextClassifier(model, tok, {"task": "ner", "labels": LABELS})
    with pytest.raises(ValueError, match="labels"):
        TextClassifier(model, tok, {"task": "classify"})
    with pytest.raises(ValueError, match="2 labels but the model gives 3"):
        TextClassifier(model, tok, {"task": "classify", "labels": ["a", "b"]})("good")
    with pytest.raises(TypeError, match="tokenizer"):
        TextClassifier(model, object(), {"task": "classify", "labels": LABELS})
