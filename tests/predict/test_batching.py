"""Token-budget batches and the runner: every row once, within the budget, longest first; logits
back in input order whatever the batching and the number of worker threads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed.finetune.encoding import encode_sequences
from fastembed.finetune.loop import predict
from fastembed.finetune.readers import TextExample
from fastembed.predict._batching import Runner, token_batches

from .conftest import tiny_model


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 50), max_size=60), st.integers(1, 200))
def test_token_batches_cover_every_row_within_the_budget(lengths, budget):
    batches = token_batches(lengths, budget)
    seen = np.concatenate(batches) if batches else np.zeros(0, int)
    assert sorted(seen.tolist()) == list(range(len(lengths)))
    widths = [max(lengths[i] for i in b) for b in batches]
    for b, w in zip(batches, widths):
        assert len(b) * w <= budget or len(b) == 1           # only a row alone may exceed the budget
        assert lengths[b[0]] == w                            # the first row is the longest
    assert widths == sorted(widths, reverse=True)


TEXTS = ["the movie was good", "bad", "a very very very fine film , not awful", "what ?", "john smith lives in paris",
         "the plot", "great", "the city of paris is the capital of france", "not good", "who"] * 3


@pytest.mark.parametrize("batch_tokens,workers", [(4096, 1), (24, 1), (24, 3), (1, 2)])
def test_runner_returns_finetunes_logits_in_input_order(tok, batch_tokens, workers):
    model = tiny_model("sequence", 3)
    features, _ = encode_sequences([TextExample(t) for t in TEXTS], tok, None, max_length=32, pair=False)
    want = predict(model, features)                          # finetune's own batching
    got = Runner(model, batch_tokens=batch_tokens, workers=workers).logits(features)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_runner_keeps_token_logits_unpadded(tok):
    model = tiny_model("token", 4)
    features, _ = encode_sequences([TextExample(t) for t in TEXTS[:5]], tok, None, max_length=32, pair=False)
    got = Runner(model, batch_tokens=64, workers=2).logits(features)
    assert [g.shape for g in got] == [(len(f["input_ids"]), 4) for f in features]
    assert Runner(model).logits([]) == []


def test_runner_checks_its_arguments():
    with pytest.raises(TypeError, match="torch module"):
        Runner(lambda x: x)
    with pytest.raises(ValueError, match="batch_tokens"):
        Runner(tiny_model("sequence"), batch_tokens=0)
    with pytest.raises(ValueError, match="workers"):
        Runner(tiny_model("sequence"), workers=-1)


def test_threads_sets_torch_and_fastembed_counts(restore_threads):
    import torch

    from fastembed import _native

    Runner(tiny_model("sequence"), threads=2)
    assert torch.get_num_threads() == 2 and _native.get_num_threads() == 2
    with pytest.raises(ValueError, match="threads"):
        Runner(tiny_model("sequence"), threads=0)
    assert torch.get_num_threads() == 2                        # a refused argument changes nothing
