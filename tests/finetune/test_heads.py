"""Heads: shapes and losses; FineTuneModel's frozen mode really freezes (bit-identical weights,
no encoder gradients, no dropout) and the feature-layer choices have the right widths."""

from __future__ import annotations

import pytest
import torch

from fastembed.finetune.heads import (FineTuneModel, SequenceClassificationHead, SpanHead, TokenClassificationHead,
                                      combine_layers, feature_width, make_head)
from fastembed.finetune.loop import make_finetune_optimizer
from fastembed.features import ScalarMix

from .conftest import tiny_bert

B, T, C = 3, 7, 32


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 30, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 5:] = 0                                    # a padded row
    ids[1, 5:] = 0
    return ids, torch.zeros_like(ids), mask


def test_sequence_head_shapes_and_loss():
    head = SequenceClassificationHead(C, 3)
    hidden, pooled, mask = torch.randn(B, T, C), torch.randn(B, C), torch.ones(B, T)
    logits = head(hidden, pooled, mask)
    assert logits.shape == (B, 3)
    labels = torch.tensor([0, 2, 1])
    loss = head.loss(logits, mask, labels)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, labels))
    mean = SequenceClassificationHead(C, 2, pooling="mean", dropout=0.0)
    assert mean(hidden, None, mask).shape == (B, 2)
    with pytest.raises(ValueError, match="at least 2 labels"):
        SequenceClassificationHead(C, 1)


def test_span_head_masks_padding_and_averages_two_losses():
    head = SpanHead(C)
    hidden, mask = torch.randn(B, T, C), torch.ones(B, T, dtype=torch.long)
    mask[0, 4:] = 0
    logits = head(hidden, None, mask)
    assert logits.shape == (B, T, 2)
    assert bool((logits[0, 4:] < -1e30).all())        # padding can never be the start or the end
    s, e = torch.tensor([1, 0, 6]), torch.tensor([3, 0, 6])
    F = torch.nn.functional
    want = 0.5 * (F.cross_entropy(logits[..., 0], s) + F.cross_entropy(logits[..., 1], e))
    torch.testing.assert_close(head.loss(logits, mask, s, e), want)
    with pytest.raises(ValueError, match="positions"):
        head.loss(logits, mask, torch.tensor([0, 0, T]), e)


@pytest.mark.parametrize("lstm_hidden", [0, 8])
def test_token_head_ignores_minus_100(lstm_hidden):
    head = TokenClassificationHead(C, 5, lstm_hidden=lstm_hidden, dropout=0.0)
    hidden, mask = torch.randn(B, T, C), torch.ones(B, T, dtype=torch.long)
    mask[2, 3:] = 0
    logits = head(hidden, None, mask)
    assert logits.shape == (B, T, 5)
    labels = torch.full((B, T), -100)
    labels[0, 1], labels[2, 2] = 4, 0
    loss = head.loss(logits, mask, labels)
    F = torch.nn.functional
    want = 0.5 * (F.cross_entropy(logits[0, 1:2], labels[0, 1:2]) + F.cross_entropy(logits[2, 2:3], labels[2, 2:3]))
    torch.testing.assert_close(loss, want)
    zero = head.loss(logits, mask, torch.full((B, T), -100))
    assert zero.detach().item() == 0.0 and zero.requires_grad  # nothing labelled: zero, and backward still works


def test_make_head_kinds():
    assert isinstance(make_head("span", C), SpanHead)
    assert make_head("token", C, 4).out.out_features == 4
    with pytest.raises(ValueError, match="unknown head kind"):
        make_head("regression", C)


def test_frozen_encoder_stays_bit_identical_and_gets_no_gradient():
    encoder = tiny_bert()                              # dropout 0.1: must be off when frozen
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    model = FineTuneModel(encoder, make_head("sequence", C, 2), freeze_encoder=True)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    model.train()
    assert not model.encoder.training and model.head.training
    ids, types, mask = batch()
    head_before = model.head.out.weight.clone()
    for _ in range(3):
        loss = model(ids, types, mask, labels=torch.tensor([0, 1, 1])).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, before[k]), f"frozen encoder weight {k} changed"
    assert all(p.grad is None and not p.requires_grad for p in model.encoder.parameters())
    assert not torch.equal(model.head.out.weight, head_before)
    a, b = model.encode(ids, types, mask), model.encode(ids, types, mask)
    assert torch.equal(a[0], b[0]) and not a[0].requires_grad   # no dropout, no graph


def test_end_to_end_trains_the_encoder():
    model = FineTuneModel(tiny_bert(), make_head("token", C, 3), freeze_encoder=False)
    ids, types, mask = batch()
    labels = torch.zeros(B, T, dtype=torch.long)
    model(ids, types, mask, labels=labels).loss.backward()
    assert model.encoder.layers[0].up.weight.grad is not None


@pytest.mark.parametrize("layers", ["last", "second_to_last", "sum_last_4", "concat_last_4", "embeddings"])
def test_feature_layers(layers):
    encoder = tiny_bert().eval()
    width = feature_width(layers, C, encoder.config.num_layers)
    model = FineTuneModel(encoder, make_head("token", width, 3), freeze_encoder=True, layers=layers)
    ids, types, mask = batch()
    hidden, _ = model.encode(ids, types, mask)
    assert hidden.shape == (B, T, width)
    states = encoder(ids, types, mask, output_hidden_states=True).hidden_states
    want = {"last": states[-1], "second_to_last": states[-2], "embeddings": states[0],
            "sum_last_4": states[-1] + states[-2] + states[-3] + states[-4],
            "concat_last_4": torch.cat(states[-4:], -1)}[layers]
    torch.testing.assert_close(hidden, want, atol=1e-5, rtol=1e-5)


def test_layer_choice_errors():
    with pytest.raises(ValueError, match="layers must be one of"):
        feature_width("middle", C, 4)
    with pytest.raises(ValueError, match="layers must be one of"):
        feature_width("all", C, 4)
    with pytest.raises(ValueError, match="pooler reads the last layer"):
        FineTuneModel(tiny_bert(), make_head("sequence", C, 2), layers="embeddings")
    with pytest.raises(ValueError, match="at least 4 layers"):
        combine_layers(tuple(torch.zeros(1) for _ in range(3)), "concat_last_4")


def test_scalar_mix_is_trained_with_the_head_and_encoder_stays_frozen():
    encoder = tiny_bert()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    model = FineTuneModel(encoder, make_head("token", C, 3), freeze_encoder=True, layers="scalar_mix")
    opt = make_finetune_optimizer(model, lr=1e-3, head_lr=1e-1, weight_decay=0.01)
    assert any(p is model.mix.scalars for g in opt.param_groups for p in g["params"])
    ids, types, mask = batch()
    hidden, _ = model.encode(ids, types, mask)
    assert hidden.shape == (B, T, encoder.config.num_layers + 1, C)      # stacked: the mix comes after
    labels = torch.randint(0, 3, (B, T), generator=torch.Generator().manual_seed(1))
    w0 = model.mix.weights.detach().clone()
    for _ in range(3):
        model(ids, types, mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    assert not torch.allclose(model.mix.weights, w0)                     # the layer weights learned
    assert abs(float(model.mix.weights.detach().sum()) - 1.0) < 1e-6
    for k, v in encoder.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_scalar_mix_with_one_hot_weights_equals_that_layer():
    encoder = tiny_bert().eval()
    model = FineTuneModel(encoder, make_head("token", C, 3), freeze_encoder=True, layers="scalar_mix")
    n = encoder.config.num_layers + 1
    ids, types, mask = batch()
    with torch.no_grad():                  # as the frozen encoder runs (the fused inference path)
        states = encoder(ids, types, mask, output_hidden_states=True).hidden_states
    for j in range(n):
        model.mix.load_state_dict(ScalarMix.from_weights([float(i == j) for i in range(n)]).state_dict())
        hidden, _ = model.encode(ids, types, mask)
        torch.testing.assert_close(model.mix(hidden), states[j], rtol=0, atol=0)
