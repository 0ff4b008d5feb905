"""fastembed.inspect: attention maps checked against the models' real forward, token vectors
checked against hand-picked hidden states."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fastembed.inspect import SkippedSentencesWarning, attention_maps, find_word, token_vectors  # noqa: E402
from fastembed.models import GPT, BertConfig, BertForPreTraining, BertModel, GPTConfig  # noqa: E402
from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer  # noqa: E402

TEXTS = ["the bank of the river is steep", "she went to the bank to deposit money",
         "the river bank flooded", "money in the bank", "lower newest widest"] * 30


@pytest.fixture(scope="module")
def bpe():
    return BPETokenizer.train(TEXTS, vocab_size=300, special_tokens=["[PAD]", "[CLS]", "[SEP]"], progress=False)


def tiny_bert(impl="fused", pretraining=False):
    torch.manual_seed(0)
    cfg = BertConfig.preset("tiny", vocab_size=300, max_position=64, attn_impl=impl)
    return BertForPreTraining(cfg) if pretraining else BertModel(cfg)


def tiny_gpt(impl="fused"):
    torch.manual_seed(1)
    return GPT(GPTConfig.preset("tiny", vocab_size=300, max_position=64, attn_impl=impl))


def attention_modules(net):
    return [l.attn for l in (net.layers if hasattr(net, "layers") else net.blocks)]


def record_attention(net):
    """Hooks that keep each attention module's input x and the input of its output projection."""
    xs, ys, handles = {}, {}, []
    for i, m in enumerate(attention_modules(net)):
        handles.append(m.register_forward_pre_hook(lambda mod, args, i=i: xs.__setitem__(i, args[0])))
        handles.append(m.out.register_forward_pre_hook(lambda mod, args, i=i: ys.__setitem__(i, args[0])))
    return xs, ys, handles


def check_against_forward(net, maps, run):
    """(maps[l] @ v) must equal what layer l fed its output projection in a real forward."""
    xs, ys, handles = record_attention(net)
    net.eval()
    try:
        run()                          # with autograd on: the path that calls attn.out as a module
        with torch.no_grad():
            for i, m in enumerate(attention_modules(net)):
                x = xs[i]
                B, T, C = x.shape
                v = m.qkv(x).view(B, T, 3, m.num_heads, m.head_dim)[:, :, 2]       # (B, T, H, D)
                y = torch.einsum("bhqk,bkhd->bqhd", maps[i], v).reshape(B, T, C)
                torch.testing.assert_close(y, ys[i], atol=1e-5, rtol=1e-5)
    finally:
        for h in handles:
            h.remove()


@pytest.mark.parametrize("impl", ["fused", "sdpa", "reference"])
def test_bert_maps_match_forward(impl):
    model = tiny_bert(impl)
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, 300, (3, 9), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 4:] = 0
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    model.train()                                       # put back afterwards
    maps = attention_maps(model, ids, token_type_ids=types, attention_mask=mask)
    assert model.training and all(m.training for m in model.modules())
    assert all(not m._forward_pre_hooks for m in attention_modules(model))
    assert maps.shape == (2, 3, 2, 9, 9) and maps.dtype == torch.float32
    check_against_forward(model, maps, lambda: model(ids, types, mask))
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 3, 2, 9))              # every query sees a key
    assert (maps[:, 1, :, :, 6:] == 0).all() and (maps[:, 2, :, :, 4:] == 0).all()  # padded keys exactly 0
    assert (maps[:, 0] > 0).all()


def test_pretraining_model_uses_its_encoder():
    model = tiny_bert(pretraining=True)
    ids = torch.randint(5, 300, (2, 7), generator=torch.Generator().manual_seed(4))
    maps = attention_maps(model, ids.numpy())
    torch.testing.assert_close(maps, attention_maps(model.bert, ids))
    check_against_forward(model.bert, maps, lambda: model.bert(ids))


@pytest.mark.parametrize("impl", ["fused", "sdpa"])
def test_gpt_maps_are_causal_and_match_forward(impl):
    model = tiny_gpt(impl)
    ids = torch.randint(0, 300, (2, 8), generator=torch.Generator().manual_seed(5))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0                                     # left padding, as in generation
    maps = attention_maps(model, ids, attention_mask=mask)
    assert maps.shape == (2, 2, 2, 8, 8)
    upper = torch.triu(torch.ones(8, 8, dtype=torch.bool), 1)
    assert (maps[..., upper] == 0).all()
    assert (maps[:, 1, :, :, :3] == 0).all()            # padded keys
    assert (maps[:, 1, :, :3] == 0).all()               # a padded query sees no key: zeros
    sums = maps.sum(-1)
    torch.testing.assert_close(sums[:, 0], torch.ones(2, 2, 8))
    torch.testing.assert_close(sums[:, 1, :, 3:], torch.ones(2, 2, 5))
    check_against_forward(model, maps, lambda: model(ids, attention_mask=mask))
    torch.testing.assert_close(maps[:, 0, :, 0, 0], torch.ones(2, 2))              # query 0 sees only key 0


def test_maps_errors():
    model = tiny_bert()
    ids = torch.randint(5, 300, (2, 5))
    with pytest.raises(TypeError, match="BertModel.*GPT"):
        attention_maps(torch.nn.Linear(2, 2), ids)
    with pytest.raises(ValueError, match=r"input_ids\[None\]"):
        attention_maps(model, ids[0])
    with pytest.raises(ValueError, match="attention_mask has shape"):
        attention_maps(model, ids, attention_mask=torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="token_type_ids has shape"):
        attention_maps(model, ids, token_type_ids=torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="GPT has no segments"):
        attention_maps(tiny_gpt(), ids, token_type_ids=torch.zeros_like(ids))
    with pytest.raises(TypeError, match="integers"):
        attention_maps(model, ids.float())
    with pytest.raises(ValueError, match="empty"):
        attention_maps(model, torch.zeros(1, 0, dtype=torch.long))


# --------------------------------------------------------------------------- token vectors


def hidden(model, ids, layer=-1):
    model.eval()
    with torch.no_grad():
        return model(torch.tensor([ids]), output_hidden_states=True).hidden_states[layer][0]


def test_find_word():
    assert find_word("The Bank, banks", "bank") == (4, 8)
    assert find_word("riverbank", "bank") is None
    assert find_word("a river bank", "river bank") == (2, 12)


def test_token_vectors_bpe_bert(bpe):
    model = tiny_bert()
    cls, sep = bpe.special_tokens["[CLS]"], bpe.special_tokens["[SEP]"]
    s0, s1 = "the river bank flooded", "Money in the BANK of the river"
    pieces0 = [bpe.decode_single_token_bytes(int(t)) for t in bpe.encode(s0)]
    pieces1 = [bpe.decode_single_token_bytes(int(t)) for t in bpe.encode(s1)]
    assert pieces0[:3] == [b"the", b" river", b" bank"]
    k = pieces1.index(b" o")                              # "of" is " o" + "f": " o" straddles the word's start
    assert pieces1[k + 1] == b"f"
    vecs, used = token_vectors(model, bpe, [s0, s1], "bank")
    assert used == [s0, s1] and vecs.shape == (2, 128) and vecs.dtype == np.float32
    h0 = hidden(model, [cls, *bpe.encode(s0).tolist(), sep])
    np.testing.assert_allclose(vecs[0], h0[3].numpy(), atol=1e-5)                 # [CLS] the river [bank]
    ids1 = [cls, *bpe.encode(s1).tolist(), sep]
    b = pieces1.index(b"B")                              # " " "B" "A" "N" "K": the lone space is not the word's
    assert pieces1[b - 1:b + 4] == [b" ", b"B", b"A", b"N", b"K"]
    np.testing.assert_allclose(vecs[1], hidden(model, ids1)[b + 1:b + 5].mean(0).numpy(), atol=1e-5)
    # "of": tokens " o" and "f", both covering the word, averaged; layer 1 = after the first layer
    vec_of, _ = token_vectors(model, bpe, [s1], "OF", layer=1)
    expected = hidden(model, ids1, layer=1)[k + 1:k + 3].mean(0).numpy()
    np.testing.assert_allclose(vec_of[0], expected, atol=1e-5)
    # a multi-word phrase takes every token it covers
    vec_rb, _ = token_vectors(model, bpe, [s0], "RIVER bank")
    np.testing.assert_allclose(vec_rb[0], h0[2:4].mean(0).numpy(), atol=1e-5)


def test_token_vectors_skips_and_warns(bpe):
    model = tiny_bert()
    with pytest.warns(SkippedSentencesWarning, match="skipped 2 of 3 sentences: 2 do not contain"):
        vecs, used = token_vectors(model, bpe, ["the banker", "the bank", "banks"], "bank")
    assert used == ["the bank"] and vecs.shape == (1, 128)
    with pytest.raises(ValueError, match="none of the 2 sentences"), pytest.warns(SkippedSentencesWarning):
        token_vectors(model, bpe, ["riverbank", "no"], "bank")
    with pytest.raises(ValueError, match="empty"):
        token_vectors(model, bpe, [], "bank")
    with pytest.raises(ValueError, match="word"):
        token_vectors(model, bpe, ["a bank"], "  ")
    with pytest.raises(ValueError, match="out of range"):
        token_vectors(model, bpe, ["a bank"], "bank", layer=3)
    with pytest.raises(TypeError, match="BPETokenizer or WordPieceTokenizer"):
        token_vectors(model, object(), ["a bank"], "bank")
    with pytest.raises(TypeError, match="list of str"):
        token_vectors(model, bpe, "a bank", "bank")


def test_token_vectors_truncation(bpe):
    torch.manual_seed(0)
    model = BertModel(BertConfig.preset("tiny", vocab_size=300, max_position=8))
    long = "the river is steep the river is steep bank"
    with pytest.warns(SkippedSentencesWarning, match="beyond the model's max_position=8"):
        _, used = token_vectors(model, bpe, [long, "a bank"], "bank")
    assert used == ["a bank"]


def test_token_vectors_gpt_without_specials(bpe):
    model = tiny_gpt()
    s = "she went to the bank to deposit money"
    body = bpe.encode(s).tolist()
    pos = [bpe.decode_single_token_bytes(t) for t in body].index(b" bank")
    vecs, used = token_vectors(model, bpe, [s, "the bank"], "bank", layer=-1)
    np.testing.assert_allclose(vecs[0], hidden(model, body)[pos].numpy(), atol=1e-5)
    np.testing.assert_allclose(vecs[1], hidden(model, bpe.encode("the bank").tolist())[1].numpy(), atol=1e-5)


def test_token_vectors_wordpiece():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "bank", "flood", "##ed", ".", "river", ","]
    tok = WordPieceTokenizer(vocab)
    torch.manual_seed(0)
    model = BertModel(BertConfig.preset("tiny", vocab_size=len(vocab), max_position=32))
    s = "The river, BANK flooded."
    assert tok.encode(s).tolist() == [2, 5, 10, 11, 6, 7, 8, 9, 3]
    vecs, used = token_vectors(model, tok, [s, "the river flooded"], "Flooded", layer=-2)
    assert used == [s, "the river flooded"]
    h = hidden(model, tok.encode(s).tolist(), layer=-2)
    np.testing.assert_allclose(vecs[0], h[5:7].mean(0).numpy(), atol=1e-5)       # flood ##ed
    bank, _ = token_vectors(model, tok, [s], "bank")
    np.testing.assert_allclose(bank[0], hidden(model, tok.encode(s).tolist())[4].numpy(), atol=1e-5)


def test_token_vectors_elmo_reads_every_layer_without_specials():
    """ELMo: no [CLS]/[SEP] are added, each layer is [forward; backward], and a padded batch
    (sentences of different lengths) gives the same vectors as each sentence alone."""
    from fastembed.models import ELMo, ELMoConfig

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "bank", "flood", "##ed", ".", "river", ","]
    tok = WordPieceTokenizer(vocab)
    torch.manual_seed(0)
    model = ELMo(ELMoConfig(vocab_size=len(vocab), embed_size=8, hidden_size=12, num_layers=2, dropout=0.0))
    s, short = "The river, BANK flooded.", "the bank"
    body = tok.encode(s, add_special_tokens=False).tolist()
    assert body == [5, 10, 11, 6, 7, 8, 9]
    for layer in (0, 1, 2):
        vecs, used = token_vectors(model, tok, [s, short], "bank", layer=layer)
        assert used == [s, short] and vecs.shape == (2, 16)
        np.testing.assert_allclose(vecs[0], hidden(model, body, layer)[3].numpy(), atol=1e-6)
        np.testing.assert_allclose(vecs[1], hidden(model, [5, 6], layer)[1].numpy(), atol=1e-6)
    flooded, _ = token_vectors(model, tok, [s], "flooded")
    np.testing.assert_allclose(flooded[0], hidden(model, body)[4:6].mean(0).numpy(), atol=1e-6)
    with pytest.raises(TypeError, match="ELMo biLM has no attention"):
        attention_maps(model, torch.tensor([body]))
