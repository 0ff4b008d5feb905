"""Plain-PyTorch attention: the slow, obviously correct oracle the tests hold the kernels to.

It materializes the full (B, H, Tq, Tk) score matrix, so use it on small inputs only; run it in
float64 for a reference. Same masks and conventions as :func:`fastembed.ops.attention`.
"""

from __future__ import annotations

from typing import Any

import torch


def visible_mask(B: int, Tq: int, Tk: int, *, causal: bool = False, key_padding_mask: Any = None,
                 lengths: Any = None, device: Any = None) -> torch.Tensor:
    """(B, 1, Tq, Tk) bool: True where query i may attend to key j."""
    vis = torch.ones(B, 1, Tq, Tk, dtype=torch.bool, device=device)
    j = torch.arange(Tk, device=device)
    if causal:  # bottom-right aligned: query i is key position i + (Tk - Tq)
        i = torch.arange(Tq, device=device)[:, None]
        vis = vis & (j[None, :] <= i + (Tk - Tq))
    if lengths is not None:
        vis = vis & (j[None, None, None, :] < lengths.to(device)[:, None, None, None])
    if key_padding_mask is not None:
        vis = vis & ~key_padding_mask.to(device)[:, None, None, :]
    return vis


def attention_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = False,
                        key_padding_mask: Any = None, lengths: Any = None, dropout_mask: Any = None,
                        dropout_p: float = 0.0, scale: float | None = None, layout: str = "bthd",
                        exact_masking: bool = False) -> torch.Tensor:
    """softmax(scale·QKᵀ + mask)·V in the dtype given. ``dropout_mask`` (B, H, Tq, Tk) bool keep-mask
    (e.g. :func:`fastembed.ops.dropout_mask`) applies dropout with survivors scaled by 1/(1-p).
    Rows with no visible key give zeros.

    Non-finite inputs: a NaN or inf in q, or in a key or value a row sees, reaches that row as in
    plain softmax math (a row whose visible scores are all -inf gives NaN). A key masked by
    ``lengths`` or ``key_padding_mask`` does not exist: its K and V rows are replaced by zeros, so
    whatever they hold reaches neither an output nor a gradient. A key in a row's causal future
    holds a value that later rows see: ``p @ v`` lets 0·NaN of it into the earlier rows (as SDPA's
    math path does); ``exact_masking=True`` sums over each row's visible keys only, which is what
    the kernels do in the forward pass (a test oracle: it syncs with the device and, when v is not
    finite, builds a (B, H, Tq, Tk, D) tensor). In the backward pass a non-finite K or q in the
    causal future still reaches dQ / dK through 0·NaN, in the kernels as in this reference."""
    if layout == "bthd":
        q, k, v = (x.transpose(1, 2) for x in (q, k, v))
    elif layout != "bhtd":
        raise ValueError(f"layout must be 'bthd' or 'bhtd', got {layout!r}")
    B, _, Tq, D = q.shape
    Tk = k.shape[2]
    scale = D ** -0.5 if scale is None else scale
    vis = visible_mask(B, Tq, Tk, causal=causal, key_padding_mask=key_padding_mask, lengths=lengths,
                       device=q.device)
    if lengths is not None or key_padding_mask is not None:   # keys that do not exist for any row
        exists = visible_mask(B, 1, Tk, key_padding_mask=key_padding_mask, lengths=lengths, device=q.device)
        exists = exists[:, :, 0, :, None]                         # (B, 1, Tk, 1)
        k, v = k.masked_fill(~exists, 0.0), v.masked_fill(~exists, 0.0)
    s = (q @ k.transpose(-1, -2)) * scale
    any_vis = vis.any(-1, keepdim=True)
    s = s.masked_fill(~vis, float("-inf")).masked_fill(~any_vis, 0.0)  # no NaN from empty rows
    p = torch.softmax(s, dim=-1) * vis
    if dropout_mask is not None:
        p = p * dropout_mask.to(p.device) / (1.0 - dropout_p)
    if not exact_masking or bool(torch.isfinite(v).all()):
        out = p @ v
    else:  # the visible keys' values only (B·H·Tq·Tk·D memory: fine for the small tests that get here)
        seen = torch.where(vis[..., None], v[:, :, None, :, :], 0.0)   # (B, H, Tq, Tk, D); where first: no NaN gradients
        out = (p[..., None] * seen).sum(-2)
    return out.transpose(1, 2) if layout == "bthd" else out


def bias_gelu_reference(y: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """GELU(y + bias), exact (erf) GELU: what :func:`fastembed.ops.epilogue.bias_gelu_` computes."""
    return torch.nn.functional.gelu(y + bias)


def bias_residual_layer_norm_reference(y: torch.Tensor, bias: torch.Tensor, residual: torch.Tensor,
                                       weight: torch.Tensor, ln_bias: torch.Tensor, eps: float) -> torch.Tensor:
    """LayerNorm(y + bias + residual) over the last axis: what
    :func:`fastembed.ops.epilogue.bias_residual_layer_norm_` computes."""
    return torch.nn.functional.layer_norm(y + bias + residual, (y.shape[-1],), weight, ln_bias, eps)
