"""fastembed.features: layer strategies equal hand-made combinations of the hidden states, pooling
reads real tokens only (a padded batch equals each text alone), and wrong arguments say why."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fastembed.features import (ScalarMix, TruncationWarning, combine_layers, extract,  # noqa: E402
                                layer_indices, pool, tokenize_texts)
from fastembed.models import BertConfig, BertForPreTraining, BertModel  # noqa: E402
from fastembed.tokenizers import WordPieceTokenizer  # noqa: E402

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "big", "red", "##s", "##ly", ".", ",", "!"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
TEXTS = ["the cat sat on the mat.", "dogs ran", "", "a big red dog ran on the mat, the cats sat!", "cat"]
L = 5                                                        # layers of the test model


def model(num_layers=L, **kw):
    torch.manual_seed(0)
    cfg = BertConfig.preset("tiny", vocab_size=len(VOCAB), num_layers=num_layers, hidden_size=32, num_heads=2,
                            intermediate_size=64, hidden_dropout=0.0, attention_dropout=0.0, **kw)
    return BertModel(cfg).eval()


@pytest.fixture(scope="module")
def tok():
    return WordPieceTokenizer(VOCAB)


@pytest.fixture(scope="module")
def m():
    return model()


def padded_batch(tok, texts):
    ids = [tok.encode(t).astype(np.int64) for t in texts]
    T = max(len(a) for a in ids)
    x = np.zeros((len(ids), T), np.int64)
    mask = np.zeros_like(x)
    for r, a in enumerate(ids):
        x[r, :len(a)], mask[r, :len(a)] = a, 1
    return {"input_ids": torch.from_numpy(x), "attention_mask": torch.from_numpy(mask)}


# each strategy, by hand from hidden_states (hs: L + 1 tensors (B, T, C))
BY_HAND = {
    "last": lambda hs: hs[-1],
    "second_to_last": lambda hs: hs[-2],
    "sum_last_4": lambda hs: hs[-4] + hs[-3] + hs[-2] + hs[-1],
    "concat_last_4": lambda hs: torch.cat([hs[-4], hs[-3], hs[-2], hs[-1]], -1),
    "all": lambda hs: torch.stack(hs, 2),
    "embeddings": lambda hs: hs[0],
    (0,): lambda hs: hs[0],
    (-1, 0, 2): lambda hs: torch.cat([hs[-1], hs[0], hs[2]], -1),
    (-4, -3, -2, -1): lambda hs: torch.cat(hs[-4:], -1),
}


@pytest.mark.parametrize("layers", list(BY_HAND), ids=str)
def test_combine_layers_equals_hand_combination(m, tok, layers):
    b = padded_batch(tok, TEXTS)
    with torch.no_grad():
        hs = m(b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True).hidden_states
    spec = list(layers) if isinstance(layers, tuple) else layers
    torch.testing.assert_close(combine_layers(hs, spec), BY_HAND[layers](hs), rtol=0, atol=0)


@pytest.mark.parametrize("pooling", ["cls", "mean", "none"])
@pytest.mark.parametrize("layers", list(BY_HAND), ids=str)
def test_extract_equals_hand_computed_features(m, tok, layers, pooling):
    b = padded_batch(tok, TEXTS)
    mask = b["attention_mask"]
    with torch.no_grad():
        hs = m(b["input_ids"], attention_mask=mask, output_hidden_states=True).hidden_states
    h = BY_HAND[layers](hs)                                   # (B, T, ...)
    spec = list(layers) if isinstance(layers, tuple) else layers
    got = extract(m, b, layers=spec, pooling=pooling, batch_size=2)
    if pooling == "none":
        assert isinstance(got, list) and len(got) == len(TEXTS)
        for r, g in enumerate(got):
            n = int(mask[r].sum())
            assert g.shape == (n, *h.shape[2:])
            np.testing.assert_allclose(g, h[r, :n].numpy(), rtol=0, atol=1e-6)
        return
    if pooling == "cls":
        want = h[:, 0]
    else:                                                     # mean over real tokens, written out
        want = torch.stack([h[r, :int(mask[r].sum())].mean(0) for r in range(len(TEXTS))])
    assert got.dtype == np.float32 and got.shape == tuple(want.shape)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)


def test_pooled_shapes(m, tok):
    C = m.config.hidden_size
    assert extract(m, TEXTS, tokenizer=tok).shape == (5, C)
    assert extract(m, TEXTS, tokenizer=tok, layers="concat_last_4").shape == (5, 4 * C)
    assert extract(m, TEXTS, tokenizer=tok, layers="all", pooling="mean").shape == (5, L + 1, C)
    assert extract(m, TEXTS, tokenizer=tok, layers=[1, 2]).shape == (5, 2 * C)
    assert extract(m, TEXTS, tokenizer=tok, layers=np.array([1, 2])).shape == (5, 2 * C)
    for layers, shape in (("last", (0, C)), ("concat_last_4", (0, 4 * C)), ("all", (0, L + 1, C))):
        assert extract(m, [], tokenizer=tok, layers=layers).shape == shape
    assert extract(m, [], tokenizer=tok, pooling="none") == []
    none = extract(m, TEXTS, tokenizer=tok, layers="all", pooling="none")
    assert [a.shape for a in none] == [(len(tok.encode(t)), L + 1, C) for t in TEXTS]


@pytest.mark.parametrize("pooling", ["cls", "mean", "none"])
def test_padded_batches_equal_texts_alone(m, tok, pooling):
    """Batching, padding and length sorting do not change any text's features."""
    alone = [extract(m, [t], tokenizer=tok, pooling=pooling, layers="sum_last_4") for t in TEXTS]
    for batch_size in (1, 2, 32):
        got = extract(m, TEXTS, tokenizer=tok, pooling=pooling, layers="sum_last_4", batch_size=batch_size)
        for i, a in enumerate(alone):
            np.testing.assert_allclose(got[i], a[0], rtol=1e-5, atol=1e-6)


def test_pool_mean_reads_real_tokens_only():
    h = torch.randn(3, 6, 4)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    poisoned = h.clone()
    poisoned[mask == 0] = 1e6
    got = pool(poisoned, mask, "mean")
    torch.testing.assert_close(got[0], h[0].mean(0))
    torch.testing.assert_close(got[1], h[1, :2].mean(0))
    assert torch.equal(got[2], torch.zeros(4))                # no real token: zeros, not NaN
    torch.testing.assert_close(pool(h, None, "mean"), h.mean(1))
    assert torch.equal(pool(h, mask, "cls"), h[:, 0])
    assert pool(h, mask, "none") is h
    all_layers = torch.randn(2, 6, 3, 4)                      # (B, T, L+1, C)
    torch.testing.assert_close(pool(all_layers, mask[:2], "mean")[1], all_layers[1, :2].mean(0))


def test_pool_is_differentiable():
    h = torch.randn(2, 5, 3, requires_grad=True)
    pool(combine_layers([h, 2 * h], [0, -1]), torch.ones(2, 5), "mean").sum().backward()
    torch.testing.assert_close(h.grad, torch.full_like(h, 3 / 5))


def test_layer_errors_say_how_many_layers():
    with pytest.raises(ValueError, match="unknown layers 'top'"):
        layer_indices("top", 5)
    with pytest.raises(ValueError, match="index 6 is out of range: the model has 5 layers, so hidden_states has 6"):
        layer_indices([6], 5)
    with pytest.raises(ValueError, match="layer index -7 is out of range"):
        layer_indices([0, -7], 5)
    with pytest.raises(ValueError, match="at least 4 layers; the model has 2 layers"):
        layer_indices("concat_last_4", 2)
    with pytest.raises(ValueError, match="empty"):
        layer_indices([], 5)
    with pytest.raises(TypeError, match="ints"):
        layer_indices([1.0], 5)
    with pytest.raises(TypeError, match="ints"):
        layer_indices([True], 5)
    assert layer_indices([np.int64(-1), 0], 5) == [5, 0]
    assert layer_indices("sum_last_4", 4) == [1, 2, 3, 4]


def test_extract_errors(m, tok):
    with pytest.raises(ValueError, match="out of range: the model has 5 layers"):
        extract(m, TEXTS, tokenizer=tok, layers=[9])
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        extract(m, TEXTS, tokenizer=tok, pooling="max")
    with pytest.raises(ValueError, match="tokenizer"):
        extract(m, TEXTS)
    with pytest.raises(TypeError, match="single str"):
        extract(m, "the cat", tokenizer=tok)
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        extract(m, ["the cat", 3], tokenizer=tok)
    with pytest.raises(ValueError, match="input_ids"):
        extract(m, {"attention_mask": torch.ones(1, 3)})
    with pytest.raises(ValueError, match="max_length"):
        extract(m, TEXTS, tokenizer=tok, max_length=10_000)
    with pytest.raises(ValueError, match="batch_size"):
        extract(m, TEXTS, tokenizer=tok, batch_size=0)
    with pytest.raises(TypeError, match="BertModel"):
        extract(torch.nn.Linear(2, 2), TEXTS, tokenizer=tok)


def test_truncation_is_reported(m, tok):
    long = "the cat sat on the mat " * 3                       # 18 pieces + [CLS] [SEP]
    with pytest.warns(TruncationWarning, match="1 of 2 texts were longer than max_length=8"):
        got = extract(m, ["cat", long], tokenizer=tok, max_length=8, pooling="none")
    cut = tok([long], truncation=True, max_length=8)["input_ids"][0]          # [CLS] 6 pieces [SEP]
    assert cut.tolist() == [*tok.encode(long)[:7].tolist(), tok.sep_token_id]
    assert got[1].shape[0] == 8
    ref = extract(m, {"input_ids": cut[None]}, pooling="none")[0]
    np.testing.assert_allclose(got[1], ref, rtol=0, atol=1e-6)


def test_texts_become_the_tokenizers_own_rows(tok):
    """tokenize_texts gives ``tok(texts, truncation=True, max_length=...)``'s ids, from one native
    call (plus one for the long texts), and each text's length before the cut."""
    texts = TEXTS + ["the cat sat on the mat " * k for k in range(1, 6)] + ["cat [SEP] dog"]
    for max_length in (2, 5, 8, 64):
        ids, counts = tokenize_texts(tok, texts, max_length)
        want = tok(texts, truncation=True, max_length=max_length)["input_ids"]
        assert [a.tolist() for a in ids] == [a.tolist() for a in want]
        assert all(a.dtype == np.int64 for a in ids)
        assert counts.tolist() == [len(a) for a in tok(texts)["input_ids"]]
    assert tokenize_texts(tok, [], 8)[0] == [] and tokenize_texts(tok, [], 8)[1].shape == (0,)


def test_texts_are_tokenized_in_batches(m, tok, monkeypatch):
    """No per-text loop: extract calls the tokenizer once, and once more for the texts it cuts."""
    calls = []
    real = type(tok).__call__

    def spy(self, texts, *args, **kwargs):
        calls.append(len(texts))
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(type(tok), "__call__", spy)
    extract(m, TEXTS * 10, tokenizer=tok, max_length=64)
    assert calls == [len(TEXTS) * 10]
    with pytest.warns(TruncationWarning, match="20 of 50"):
        extract(m, TEXTS * 10, tokenizer=tok, max_length=6)
    assert calls[1:] == [50, 20]


def test_eval_mode_inside_and_mode_restored():
    torch.manual_seed(0)
    pre = BertForPreTraining(BertConfig.preset("tiny", vocab_size=len(VOCAB), hidden_size=32, num_heads=2,
                                               intermediate_size=64, hidden_dropout=0.5, attention_dropout=0.5))
    pre.train()
    tok = WordPieceTokenizer(VOCAB)
    a = extract(pre, TEXTS, tokenizer=tok, pooling="mean")    # BertForPreTraining: its encoder is used
    b = extract(pre, TEXTS, tokenizer=tok, pooling="mean")
    np.testing.assert_array_equal(a, b)                       # no dropout while extracting
    assert pre.training and pre.bert.training


# --------------------------------------------------------------------------- scalar mix (ELMo)


@pytest.mark.parametrize("j", range(L + 1))
def test_scalar_mix_with_one_hot_weights_equals_the_single_layer_features(m, tok, j):
    mix = ScalarMix.from_weights([float(i == j) for i in range(L + 1)])
    got = extract(m, TEXTS, tokenizer=tok, layers="scalar_mix", mix=mix, pooling="mean", batch_size=2)
    want = extract(m, TEXTS, tokenizer=tok, layers=[j], pooling="mean", batch_size=2)
    np.testing.assert_array_equal(got, want)


def test_scalar_mix_is_gamma_times_the_softmax_weighted_sum(m, tok):
    b = padded_batch(tok, TEXTS)
    with torch.no_grad():
        hs = m(b["input_ids"], attention_mask=b["attention_mask"], output_hidden_states=True).hidden_states
        mix = ScalarMix(L + 1, gamma=0.5)
        mix.scalars.copy_(torch.arange(L + 1, dtype=torch.float32))
        e = torch.exp(torch.arange(L + 1, dtype=torch.float64))
        want = 0.5 * sum(float(e[i] / e.sum()) * hs[i].double() for i in range(L + 1))
        torch.testing.assert_close(combine_layers(hs, "scalar_mix", mix).double(), want, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(mix(torch.stack(hs, 2)), mix(hs), rtol=1e-6, atol=1e-6)   # stacked input
    assert ScalarMix(3).weights.tolist() == pytest.approx([1 / 3] * 3)                 # starts as an even average


def test_scalar_mix_errors(m, tok):
    with pytest.raises(ValueError, match="needs mix="):
        extract(m, TEXTS, tokenizer=tok, layers="scalar_mix")
    with pytest.raises(ValueError, match="needs mix="):
        extract(m, TEXTS, tokenizer=tok, layers="last", mix=ScalarMix(L + 1))
    with pytest.raises(ValueError, match="mix has 3 weights"):
        extract(m, TEXTS, tokenizer=tok, layers="scalar_mix", mix=ScalarMix(3))
    with pytest.raises(ValueError, match="summing to 1"):
        ScalarMix.from_weights([0.5, 0.6])
    with pytest.raises(ValueError, match="num_entries"):
        ScalarMix(0)
