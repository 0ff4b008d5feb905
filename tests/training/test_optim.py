"""Parameter groups (what decays) and the learning-rate schedule."""

from __future__ import annotations

import math

import pytest
import torch

from fastembed.training import lr_schedule, make_optimizer, param_groups, set_lr

from .toy import make_model


def test_no_decay_for_bias_layernorm_and_embeddings_and_tied_weight_counted_once():
    model = make_model()
    groups = param_groups(model, 0.1)
    names = {g["weight_decay"]: set(g["param_names"]) for g in groups}
    assert names[0.1] == {"proj.weight", "cls_head.weight"}
    assert names[0.0] == {"embed.weight", "norm.weight", "norm.bias", "proj.bias", "lm_head.bias", "cls_head.bias"}
    # lm_head.weight is embed.weight: one parameter, listed once
    params = [p for g in groups for p in g["params"]]
    assert len(params) == len({id(p) for p in params}) == len(list(model.parameters()))


def test_embedding_by_name_and_frozen_parameters():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pos_embed = torch.nn.Parameter(torch.zeros(4, 3))  # a bare position table
            self.w = torch.nn.Parameter(torch.zeros(3, 3))
            self.frozen = torch.nn.Parameter(torch.zeros(3, 3), requires_grad=False)

    names = {g["weight_decay"]: g["param_names"] for g in param_groups(M(), 0.01)}
    assert names == {0.01: ["w"], 0.0: ["pos_embed"]}


def test_make_optimizer_is_adamw_with_groups():
    opt = make_optimizer(make_model(), lr=1e-3, weight_decay=0.1, betas=(0.9, 0.98), eps=1e-6)
    assert isinstance(opt, torch.optim.AdamW)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]
    assert opt.param_groups[0]["betas"] == (0.9, 0.98) and opt.param_groups[0]["eps"] == 1e-6
    assert opt.param_groups[0]["foreach"] is True
    set_lr(opt, 0.5)
    assert all(g["lr"] == 0.5 for g in opt.param_groups)


def test_warmup_then_linear_to_min():
    lrs = [lr_schedule(s, lr=2.0, warmup_steps=4, total_steps=12, min_lr_ratio=0.25) for s in range(14)]
    assert lrs[:4] == pytest.approx([0.5, 1.0, 1.5, 2.0])               # (step + 1) / warmup
    assert lrs[4] == pytest.approx(2.0)                                   # decay starts at the peak
    assert lrs[8] == pytest.approx(0.5 + 1.5 * 0.5)                       # halfway
    assert lrs[12] == lrs[13] == pytest.approx(0.5)                       # min_lr = 2.0 * 0.25
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))


def test_cosine_and_constant():
    cos = [lr_schedule(s, lr=1.0, warmup_steps=0, total_steps=10, kind="cosine", min_lr_ratio=0.1) for s in range(11)]
    assert cos[0] == pytest.approx(1.0) and cos[10] == pytest.approx(0.1)
    assert cos[5] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert cos[2] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.2)))
    const = [lr_schedule(s, lr=1.0, warmup_steps=2, total_steps=10, kind="constant") for s in range(12)]
    assert const == pytest.approx([0.5] + [1.0] * 11)
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_schedule(0, lr=1.0, warmup_steps=0, total_steps=1, kind="step")
