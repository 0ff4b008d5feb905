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
DEFAULT_BLOCK_ELEMENTS = 1 << 25


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor], targets: torch.Tensor,
                ignore_index: int, block_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        N, V = h.shape[0], weight.shape[0]
        acc = torch.float64 if h.dtype == torch.float64 else torch.float32   # accumulate in fp32 at least
        want_grad = any(ctx.needs_input_grad[:3])
        w = weight.to(acc)
        loss = torch.zeros((), dtype=acc, device=h.device)
        correct = torch.zeros((), dtype=torch.int64, device=h.device)
        dh = torch.empty(h.shape, dtype=acc, device=h.device) if want_grad else None
        dw = torch.zeros_like(w) if want_grad else None
        db = torch.zeros(V, dtype=acc, device=h.device) if want_grad and bias is not None else None
        # One block's logits, reused. Vocabulary-major (V, rows): W·hᵀ runs about twice as fast as
        # h·Wᵀ when the hidden size is small (the product's inner dimension).
        flat = torch.empty(V * min(block_rows, N), dtype=acc, device=h.device)
        for start in range(0, N, block_rows):
            stop = min(start + block_rows, N)
            r = stop - start
            hb, tb = h[start:stop].to(acc), targets[start:stop]
            e = flat[:V * r].view(V, r)
            torch.mm(w, hb.t().contiguous(), out=e)
            if bias is not None:
                e += bias.to(acc)[:, None]
            scored = tb != ignore_index
            t = torch.where(scored, tb, 0)
            cols = torch.arange(r, device=h.device)
            picked = e[t, cols]
            top = e.amax(dim=0)
            correct += ((picked >= top) & scored).sum()                   # the target holds the maximum
            total = e.sub_(top).exp_().sum(dim=0)                          # e = exp(logits - max), in place
            loss += ((total.log() + top - picked) * scored).sum()
            if not want_grad:
                continue
            # ∂loss/∂logits = G = softmax - onehot(t) = e * inv - onehot(t), with inv = 1/total (0 on
            # ignored rows). G is never formed: the row scales and the one-hot go to the thin sides.
            inv = scored / total
            torch.mm(e.t(), w, out=dh[start:stop])
            dh[start:stop].mul_(inv[:, None]).sub_(w[t] * scored[:, None])                 # G·W
            dw.addmm_(e, hb * inv[:, None]).index_add_(0, t, hb * scored[:, None], alpha=-1)  # Gᵀ·h
            if db is not None:
                db.add_(e @ inv).index_add_(0, t, scored.to(acc), alpha=-1)              # Σ_rows G
        ctx.save_for_backward(dh, dw, db)
        ctx.dtypes = (h.dtype, weight.dtype, None if bias is None else bias.dtype)
        ctx.mark_non_differentiable(correct)
        return loss, correct

    @staticmethod
    def backward(ctx: Any, dloss: torch.Tensor, _dcorrect: Any) -> tuple:
        dh, dw, db = ctx.saved_tensors
        dh = (dh * dloss).to(ctx.dtypes[0])
        dw = (dw * dloss).to(ctx.dtypes[1])
        db = (db * dloss).to(ctx.dtypes[2]) if db is not None else None
        return dh, dw, db, None, None, None


def linear_cross_entropy(h: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, *,
                         bias: Optional[torch.Tensor] = None, ignore_index: int = -100,
                         block_rows: Optional[int] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed cross-entropy, number of correct argmax predictions) of ``h @ weight.T + bias``
    against ``targets``; rows whose target is ``ignore_index`` count for nothing (a prediction is
    correct when the target's logit is the row's maximum). h (N, C),
    weight (V, C), targets (N,) int64. The loss is float32 (float64 for float64 inputs)."""
    if h.dim() != 2 or weight.dim() != 2 or h.shape[1] != weight.shape[1]:
        raise ValueError(f"h must be (N, C) and weight (V, C); got {tuple(h.shape)} and {tuple(weight.shape)}")
    if targets.shape != h.shape[:1]:
        raise ValueError(f"targets must be ({h.shape[0]},), got {tuple(targets.shape)}")
    if block_rows is None:   # a multiple of 64: MKL's sgemm runs at half speed on odd widths (667: 48 GFLOP/s, 640: 115)
        block_rows = max(64, DEFAULT_BLOCK_ELEMENTS // weight.shape[0] // 64 * 64)
    return _LinearCrossEntropy.apply(h, weight, bias, targets, ignore_index, int(block_rows))
