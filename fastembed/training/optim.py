"""AdamW with decoupled weight decay on the weight matrices only, and the learning-rate schedule.

Which parameters decay (:func:`param_groups`). The rule is by shape and by module, not by a list
of names, so it works for any model:

- no decay for anything with ``ndim < 2``: biases, LayerNorm/RMSNorm weights and biases;
- no decay for embedding tables: weights owned by an ``nn.Embedding``, and any parameter whose
  name contains ``"embed"`` (position tables kept as a bare ``nn.Parameter``);
- decay for everything else (the weight matrices of linear and attention layers).

A weight shared by two modules (GPT's output layer tied to the token embedding) is one parameter
and is counted once, under the first name ``named_parameters()`` gives it. A tied output layer is
therefore an embedding and does not decay. (BERT's reference code also exempts only biases and
LayerNorm; nanoGPT decays every 2-D tensor, embeddings included. We follow the common modern
choice: decay shrinks rows of rare tokens towards zero, which is not what regularisation means.)

The schedule is a pure function of the step (:func:`lr_schedule`), applied with :func:`set_lr`
before each optimizer step, so there is no scheduler object to save: a checkpoint's step is all
the schedule's state.
"""

from __future__ import annotations

import math

from .._optional import require_torch

torch = require_torch("fastembed.training")
nn = torch.nn


def param_groups(model: "nn.Module", weight_decay: float) -> list[dict]:
    """Two AdamW parameter groups: ``[decay (weight_decay), no decay (0.0)]``, empty groups dropped.

    Each group carries ``param_names`` so ``optimizer.state_dict()`` says which tensor is which.
    Frozen parameters (``requires_grad=False``) are left out.
    """
    embedding_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    decay: dict[str, "nn.Parameter"] = {}
    no_decay: dict[str, "nn.Parameter"] = {}
    for name, p in model.named_parameters():  # shared parameters appear once (remove_duplicate=True)
        if not p.requires_grad:
            continue
        is_embedding = id(p) in embedding_weights or "embed" in name.lower()
        (no_decay if p.ndim < 2 or is_embedding else decay)[name] = p
    groups = [
        {"params": list(decay.values()), "param_names": list(decay), "weight_decay": weight_decay},
        {"params": list(no_decay.values()), "param_names": list(no_decay), "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


def make_optimizer(model: "nn.Module", lr: float, weight_decay: float = 0.01,
                   betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> "torch.optim.AdamW":
    """AdamW over :func:`param_groups`. On CPU the multi-tensor (``foreach``) update is asked for
    explicitly (PyTorch only picks it by default on GPUs); elsewhere PyTorch's default is kept."""
    groups = param_groups(model, weight_decay)
    on_cpu = all(p.device.type == "cpu" for g in groups for p in g["params"])
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps, foreach=True if on_cpu else None)


def lr_schedule(step: int, *, lr: float, warmup_steps: int, total_steps: int, kind: str = "linear",
                min_lr_ratio: float = 0.0) -> float:
    """The learning rate for optimizer step ``step`` (0-based): linear warmup, then decay.

    Warmup: ``lr * (step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, so the first
    step already moves and step ``warmup_steps - 1`` uses the full ``lr``. Then, with ``t`` going
    from 0 at step ``warmup_steps`` to 1 at step ``total_steps``, the rate falls from ``lr`` to
    ``min_lr = lr * min_lr_ratio``: ``"linear"`` (BERT) as ``1 - t``, ``"cosine"`` (GPT-3,
    nanoGPT) as ``(1 + cos(pi t)) / 2``; ``"constant"`` stays at ``lr``. Past ``total_steps``
    it stays at ``min_lr``.

    >>> [round(lr_schedule(s, lr=1.0, warmup_steps=2, total_steps=6), 3) for s in range(7)]
    [0.5, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    >>> round(lr_schedule(4, lr=1.0, warmup_steps=2, total_steps=6, kind="cosine", min_lr_ratio=0.1), 3)
    0.55
    """
    if kind not in ("linear", "cosine", "constant"):
        raise ValueError(f"unknown schedule kind {kind!r}: expected 'linear', 'cosine' or 'constant'")
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if kind == "constant":
        return lr
    t = min(max((step - warmup_steps) / max(total_steps - warmup_steps, 1), 0.0), 1.0)
    shape = 1.0 - t if kind == "linear" else 0.5 * (1.0 + math.cos(math.pi * t))
    return lr * (min_lr_ratio + (1.0 - min_lr_ratio) * shape)


def set_lr(optimizer: "torch.optim.Optimizer", lr: float) -> None:
    """Give every parameter group learning rate ``lr`` (call before ``optimizer.step()``)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
