"""Multi-head self-attention with one packed QKV projection, shared by BERT and GPT.

The projection writes (B, T, 3, H, D); q, k and v are strided views of it that
:func:`fastembed.ops.attention` reads in place (no transposes, no copies). ``impl`` switches to
PyTorch's SDPA or to the plain reference for comparison; all paths compute the same function.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import attention as fused_attention
from ..ops._reference import attention_reference, visible_mask


class SelfAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, dropout: float, impl: str = "fused") -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, hidden_size // num_heads
        self.qkv = nn.Linear(hidden_size, 3 * hidden_size)
        self.out = nn.Linear(hidden_size, hidden_size)
        self.dropout, self.impl = dropout, impl

    def forward(self, x: torch.Tensor, *, causal: bool = False, key_padding_mask: Optional[torch.Tensor] = None,
                past: Optional[tuple[torch.Tensor, torch.Tensor]] = None, project: bool = True) -> tuple[torch.Tensor, Any]:
        """x (B, T, C) -> (B, T, C). ``key_padding_mask`` (B, Tk) bool, True = padded key (Tk counts
        the ``past`` keys too). ``past`` = (k, v) of earlier positions, each (B, Tpast, H, D); the
        second return value is the (k, v) to cache, or None when ``past`` is None. With
        ``project=False`` the output projection is left to the caller: the result is the heads'
        outputs side by side (BERT's inference path fuses that projection's epilogue)."""
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.unbind(2)                                  # (B, T, H, D) views, stride 3·C on T
        present = None
        if past is not None:
            k, v = torch.cat([past[0], k], 1), torch.cat([past[1], v], 1)
            present = (k, v)
        p = self.dropout if self.training else 0.0
        y = attend(q, k, v, causal=causal, key_padding_mask=key_padding_mask, dropout_p=p, impl=self.impl)
        y = y.reshape(B, T, C)
        return (self.out(y) if project else y), present


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool, key_padding_mask: Optional[torch.Tensor],
           dropout_p: float, impl: str) -> torch.Tensor:
    """(B, Tq, H, D) q with (B, Tk, H, D) k, v -> (B, Tq, H, D), by the chosen implementation."""
    if impl == "fused":
        dtype = q.dtype
        if q.device.type == "cpu" and dtype not in (torch.float32, torch.float64):
            q, k, v = q.float(), k.float(), v.float()            # the CPU kernel accumulates in fp32 anyway
        return fused_attention(q, k, v, causal=causal, key_padding_mask=key_padding_mask,
                               dropout_p=dropout_p).to(dtype)
    if impl == "sdpa":
        B, Tq, Tk = q.shape[0], q.shape[1], k.shape[1]
        mask = None
        if key_padding_mask is not None or (causal and Tq != Tk):
            mask = visible_mask(B, Tq, Tk, causal=causal, key_padding_mask=key_padding_mask, device=q.device)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask,
                                           dropout_p=dropout_p, is_causal=causal and mask is None)
        y = y.transpose(1, 2)
        if mask is not None:                                     # SDPA gives NaN where a query sees no key
            y = y.masked_fill(~mask.any(-1).transpose(1, 2)[..., None], 0.0)
        return y
    if impl == "reference":
        keep = None
        if dropout_p > 0:
            keep = torch.rand(q.shape[0], q.shape[2], q.shape[1], k.shape[1], device=q.device) >= dropout_p
        return attention_reference(q, k, v, causal=causal, key_padding_mask=key_padding_mask, dropout_mask=keep,
                                   dropout_p=dropout_p)
    raise ValueError(f"unknown attention implementation {impl!r}; expected 'fused', 'sdpa' or 'reference'")
