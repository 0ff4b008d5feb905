"""BERT and GPT: shapes, attention paths agree, masking semantics, KV cache, overfitting, errors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from fastembed.models import GPT, BertConfig, BertForPreTraining, BertModel, GPTConfig  # noqa: E402

V = 97


def bert(**kw):
    torch.manual_seed(0)
    return BertForPreTraining(BertConfig.preset("tiny", vocab_size=V, **kw))


def gpt(**kw):
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny", vocab_size=V, **kw))


def mlm_batch(B=3, T=19, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(5, V, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 12:] = 0                                   # a padded row
    labels = torch.full((B, T), -100)
    pick = (torch.rand(B, T, generator=g) < 0.3) & (mask == 1)
    labels[pick] = x[pick]
    return dict(input_ids=x, token_type_ids=(torch.arange(T) >= T // 2).long().expand(B, T).clone(),
                attention_mask=mask, labels=labels, next_sentence_label=torch.tensor([0, 1, 0])[:B])


def test_bert_shapes_and_hidden_states():
    m = bert().eval()
    b = mlm_batch()
    out = m(**b, output_hidden_states=True)
    C = m.config.hidden_size
    assert out.last_hidden_state.shape == (3, 19, C)
    assert out.extras["pooler_output"].shape == (3, C)
    assert out.extras["nsp_logits"].shape == (3, 2)
    assert len(out.hidden_states) == m.config.num_layers + 1
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
    assert out.logits is None                            # with labels: scored blockwise, never formed
    assert {k: int(v) for k, v in out.counts.items()} == m.loss_counts(b)
    full = m(b["input_ids"], b["token_type_ids"], b["attention_mask"])
    assert full.logits.shape == (3, 19, V)
    chosen = b["labels"] != -100
    mlm = torch.nn.functional.cross_entropy(full.logits[chosen], b["labels"][chosen], reduction="sum")
    nsp = torch.nn.functional.cross_entropy(full.extras["nsp_logits"], b["next_sentence_label"], reduction="sum")
    torch.testing.assert_close(out.loss_sums["mlm"], mlm)
    torch.testing.assert_close(out.loss_sums["nsp"], nsp)
    torch.testing.assert_close(out.loss, mlm / chosen.sum() + nsp / 3)
    assert int(out.correct["mlm"]) == int((full.logits[chosen].argmax(-1) == b["labels"][chosen]).sum())


def test_gpt_shapes_and_counts():
    m = gpt().eval()
    x = torch.randint(0, V, (2, 11))
    labels = x.roll(-1, 1)
    labels[:, -1] = -100
    out = m(x, labels=labels, output_hidden_states=True)
    assert out.logits is None
    assert len(out.hidden_states) == m.config.num_layers + 1
    assert int(out.counts["lm"]) == 20 == m.loss_counts({"labels": labels})["lm"]
    logits = m(x).logits
    assert logits.shape == (2, 11, V)
    ref = torch.nn.functional.cross_entropy(logits.reshape(-1, V), labels.reshape(-1), ignore_index=-100)
    torch.testing.assert_close(out.loss, ref)


@pytest.mark.parametrize("make", [bert, gpt], ids=["bert", "gpt"])
@pytest.mark.parametrize("impl", ["sdpa", "reference"])
def test_fused_attention_matches_other_paths(make, impl):
    """Same weights, dropout off: outputs and every gradient agree across attention paths."""
    fused = make(hidden_dropout=0.0, attention_dropout=0.0).double()
    other = make(hidden_dropout=0.0, attention_dropout=0.0, attn_impl=impl).double()
    other.load_state_dict(fused.state_dict())
    b = mlm_batch() if make is bert else {"input_ids": mlm_batch()["input_ids"], "labels": mlm_batch()["labels"]}
    outs = []
    for m in (fused, other):
        out = m(**b)
        out.loss.backward()
        outs.append((out.last_hidden_state, {n: p.grad for n, p in m.named_parameters()}))
    torch.testing.assert_close(outs[0][0], outs[1][0], rtol=1e-10, atol=1e-10)
    for n, g in outs[0][1].items():
        torch.testing.assert_close(g, outs[1][1][n], rtol=1e-9, atol=1e-10, msg=n)


def test_gpt_is_causal():
    m = gpt().eval()
    x = torch.randint(0, V, (2, 16))
    y = x.clone()
    y[:, 9] = (y[:, 9] + 1) % V
    with torch.no_grad():
        a, b = m(x).logits, m(y).logits
    torch.testing.assert_close(a[:, :9], b[:, :9], rtol=0, atol=0)   # earlier positions: bit-identical
    assert (a[:, 9:] - b[:, 9:]).abs().amax(-1).min() > 1e-6           # this and later ones change


def test_bert_sees_both_sides_and_ignores_padding():
    m = bert().bert.eval()
    x = torch.randint(5, V, (1, 16))
    y = x.clone()
    y[0, 9] = (y[0, 9] + 1) % V
    with torch.no_grad():
        a, b = m(x).last_hidden_state, m(y).last_hidden_state
        assert (a - b).abs().amax(-1).min() > 1e-6                      # every position changes
        padded = torch.cat([x, torch.zeros(1, 5, dtype=torch.long)], 1)
        mask = (torch.arange(21) < 16).long()[None]
        c = m(padded, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(c[:, :16], a, rtol=1e-5, atol=1e-5)     # padding changes nothing real


def test_gpt_kv_cache_equals_full_forward():
    m = gpt().eval()
    x = torch.randint(0, V, (2, 12))
    with torch.no_grad():
        full = m(x).logits
        out = m(x[:, :7], use_cache=True)
        step = m(x[:, 7:9], past_key_values=out.extras["past_key_values"], use_cache=True)
        last = m(x[:, 9:], past_key_values=step.extras["past_key_values"])
    torch.testing.assert_close(torch.cat([out.logits, step.logits, last.logits], 1), full, rtol=1e-5, atol=1e-5)


def test_gpt_left_padding_with_attention_mask():
    m = gpt().eval()
    x = torch.randint(0, V, (1, 6))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), x], 1)
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        torch.testing.assert_close(m(padded, attention_mask=mask).logits[:, 3:], m(x).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [bert, gpt], ids=["bert", "gpt"])
def test_tiny_model_overfits_one_batch(make):
    m = make(hidden_dropout=0.0, attention_dropout=0.0)
    b = mlm_batch()
    if make is gpt:
        b = {"input_ids": b["input_ids"], "labels": b["input_ids"].roll(-1, 1)}
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        loss = m(**b).loss
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first, (first, loss.item())


def test_mlm_unmasked_weight_adds_second_loss():
    m = bert(mlm_unmasked_weight=0.5).eval()
    b = mlm_batch()
    out = m(**b)
    assert set(out.loss_sums) == {"mlm", "mlm_unmasked", "nsp"}
    n_other = int(((b["labels"] == -100) & (b["attention_mask"] == 1)).sum())
    assert int(out.counts["mlm_unmasked"]) == n_other == m.loss_counts(b)["mlm_unmasked"]


def test_tied_output_layers():
    b, g = bert(), gpt()
    assert b.bert.embeddings.word.weight.data_ptr() == b.state_dict()["bert.embeddings.word.weight"].data_ptr()
    with torch.no_grad():
        b.bert.embeddings.word.weight[7].add_(1.0)
        g.wte.weight[7].add_(1.0)
    h = torch.randn(1, b.config.hidden_size)
    assert b.mlm_logits(h).shape == (1, V)


def test_bf16_autocast_runs_on_cpu():
    m = gpt()
    x = torch.randint(0, V, (2, 8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(x, labels=x)
    out.loss.backward()
    assert torch.isfinite(out.loss)


def test_presets_and_config_errors():
    assert BertConfig.preset("base").hidden_size == 768 and GPTConfig.preset("base").num_layers == 12
    assert BertConfig.preset("mini").num_heads == 4
    with pytest.raises(ValueError, match="unknown BertConfig preset"):
        BertConfig.preset("huge")
    with pytest.raises(ValueError, match="not divisible"):
        BertConfig(hidden_size=100, num_heads=3)
    with pytest.raises(ValueError, match="attn_impl"):
        GPTConfig(attn_impl="flash")
    with pytest.raises(ValueError, match="no field"):
        BertConfig.from_dict({"hidden": 3})


def test_bad_inputs_say_what_is_wrong():
    m = bert().eval()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        m(torch.tensor([[1, V]]))
    with pytest.raises(TypeError, match="int64"):
        m(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="shape \\(batch, length\\)"):
        m(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="max_position"):
        m(torch.zeros(1, 600, dtype=torch.long))
    with pytest.raises(ValueError, match="labels has shape"):
        m(torch.zeros(1, 3, dtype=torch.long), labels=torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="attention_mask has shape"):
        BertModel(m.config)(torch.zeros(1, 3, dtype=torch.long), attention_mask=torch.ones(1, 4))
