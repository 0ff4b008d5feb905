"""Cross-entropy over a large vocabulary without the (tokens × vocabulary) logits in memory.

``linear_cross_entropy(h, W, targets)`` is ``F.cross_entropy(h @ Wᵀ + b, targets, reduction="sum")``
computed a block of rows at a time: each block's logits are turned into the loss *and*, when a
gradient is wanted, straight into the gradients (softmax − one-hot, then ∂h = G·W and
∂W += Gᵀ·h) while they are still in cache. The backward pass only scales what the forward pass
left. The matrix products are the same ones autograd would run; what goes away is the
N × V logits tensor (0.8 GB for GPT-2's vocabulary at 4096 tokens) and the passes over it.
"""

from __future__ import annotations

from typing import Any, Optional

import torch

# Rows per block: the block's logits (rows × V floats) should stay far below the last-level cache
# of a socket but be tall enough for an efficient matrix product.
DEFAULT_BLOCK_ELEMENTS = 1 << 23


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], targets: torch.Tensor,
                ignore_index: int, block_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        N = h.shape[0]
        acc = torch.float64 if h.dtype == torch.float64 else torch.float32   # accumulate in fp32 at least
        want_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1] or ctx.needs_input_grad[2]
        loss = torch.zeros((), dtype=acc, device=h.device)
        correct = torch.zeros((), dtype=torch.int64, device=h.device)
        dh = torch.empty_like(h) if want_grad else None
        dw = torch.zeros_like(weight, dtype=acc) if want_grad else None
        db = torch.zeros(weight.shape[0], dtype=acc, device=h.device) if want_grad and bias is not None else None
        for start in range(0, N, block_rows):
            stop = min(start + block_rows, N)
            hb, tb = h[start:stop], targets[start:stop]
            logits = (hb @ weight.t()).to(acc)
            if bias is not None:
                logits += bias.to(acc)
            scored = tb != ignore_index
            safe_t = torch.where(scored, tb, 0)
            lse = torch.logsumexp(logits, dim=1)
            picked = logits.gather(1, safe_t[:, None])[:, 0]
            loss += ((lse - picked) * scored).sum()
            correct += ((logits.argmax(1) == tb) & scored).sum()
            if want_grad:
                g = logits.sub_(lse[:, None]).exp_()                            # softmax, in place
                g[torch.arange(stop - start, device=g.device), safe_t] -= 1.0   # − one-hot
                g *= scored[:, None]                                             # ignored rows: no gradient
                gw = g.to(weight.dtype)
                dh[start:stop] = gw @ weight
                dw.addmm_(g.t(), hb.to(acc))
                if db is not None:
                    db += g.sum(0)
        ctx.save_for_backward(dh, dw, db)
        ctx.dtypes = (weight.dtype, None if bias is None else bias.dtype)
        ctx.mark_non_differentiable(correct)
        return loss, correct

    @staticmethod
    def backward(ctx: Any, dloss: torch.Tensor, _dcorrect: Any) -> tuple:
        dh, dw, db = ctx.saved_tensors
        dh = dh * dloss.to(dh.dtype)
        dw = (dw * dloss).to(ctx.dtypes[0])
        db = (db * dloss).to(ctx.dtypes[1]) if db is not None else None
        return dh, dw, db, None, None, None


def linear_cross_entropy(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, *,
                         bias: Optional[torch.Tensor] = None, ignore_index: int = -100,
                         block_rows: Optional[int] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed cross-entropy, number of correct argmax predictions) of ``h @ weight.T + bias``
    against ``targets``; rows whose target is ``ignore_index`` count for nothing. h (N, C),
    weight (V, C), targets (N,) int64. The loss is float32 (float64 for float64 inputs)."""
    if h.dim() != 2 or weight.dim() != 2 or h.shape[1] != weight.shape[1]:
        raise ValueError(f"h must be (N, C) and weight (V, C); got {tuple(h.shape)} and {tuple(weight.shape)}")
    if targets.shape != h.shape[:1]:
        raise ValueError(f"targets must be ({h.shape[0]},), got {tuple(targets.shape)}")
    if block_rows is None:
        block_rows = max(16, DEFAULT_BLOCK_ELEMENTS // weight.shape[0])
    if h.dtype != weight.dtype:                   # autocast hands us mixed dtypes: compute in h's
        weight = weight.to(h.dtype)
    return _LinearCrossEntropy.apply(h, weight, bias, targets, ignore_index, int(block_rows))
