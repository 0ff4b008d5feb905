"""One decoding step's attention over a preallocated KV cache (``csrc/attention/decode.h``; CPU,
float32, inference): each row's newest key and value are written into the cache and its query
attends over every cached position, in one native call.

    >>> import torch
    >>> k = torch.zeros(1, 1, 4, 2); v = torch.zeros(1, 1, 4, 2)        # B=1, H=1, capacity 4, D=2
    >>> qkv = torch.tensor([[1.0, 0.0, 1.0, 0.0, 3.0, 4.0]])            # q | new key | new value
    >>> decode_attention(qkv, k, v, 1).tolist()                        # one key: its value
    [[3.0, 4.0]]
    >>> v[0, 0, 0].tolist()
    [3.0, 4.0]

The slow, obviously correct version is :func:`decode_attention_reference` (float64, a softmax over
the visible scores), which the tests compare against.
"""

from __future__ import annotations

from typing import Optional

from .._optional import require_torch

torch = require_torch("fastembed.ops.decode")

from torch import Tensor  # noqa: E402

from .._native import _C  # noqa: E402

__all__ = ["decode_attention", "decode_attention_reference"]


def _f32_cpu(name: str, t: object) -> Tensor:
    if not isinstance(t, Tensor) or t.dtype != torch.float32 or t.device.type != "cpu":
        got = f"{t.dtype} on {t.device}" if isinstance(t, Tensor) else type(t).__name__
        raise TypeError(f"decode_attention: {name} must be a float32 CPU tensor, got {got}")
    return t


def decode_attention(qkv: Tensor, k: Tensor, v: Tensor, n: int, padded: Optional[Tensor] = None,
                     scale: Optional[float] = None, out: Optional[Tensor] = None) -> Tensor:
    """``qkv`` (B, 3·H·D) each row's query | key | value; ``k``, ``v`` (B, H, capacity, D)
    C-contiguous caches, updated in place at position ``n - 1``; ``padded`` (B, >= n) bool, True =
    a key to hide (None: all visible); ``scale`` defaults to 1/√D -> (B, H·D), each head's
    attention output (zeros where a row sees no key)."""
    for name, t in (("qkv", qkv), ("k", k), ("v", v)):
        _f32_cpu(name, t)
    if padded is not None and (not isinstance(padded, Tensor) or padded.dtype != torch.bool):
        raise TypeError("decode_attention: padded must be a bool tensor or None")
    if k.dim() != 4:
        raise ValueError(f"decode_attention: k must be (B, H, capacity, D), got shape {tuple(k.shape)}")
    B, H, _, D = k.shape
    if out is None:
        out = torch.empty((B, H * D), dtype=torch.float32)
    _f32_cpu("out", out)
    _C.decode_attention(qkv.detach().numpy(), k.detach().numpy(), v.detach().numpy(), n,
                        None if padded is None else padded.numpy(), D ** -0.5 if scale is None else scale,
                        out.detach().numpy())
    return out


def decode_attention_reference(qkv: Tensor, k: Tensor, v: Tensor, n: int, padded: Optional[Tensor] = None,
                               scale: Optional[float] = None) -> Tensor:
    """What :func:`decode_attention` returns, in float64, without touching the caches: the new key
    and value replace position ``n - 1`` of copies."""
    B, H, _, D = k.shape
    C = H * D
    q = qkv[:, :C].double().view(B, H, 1, D)
    keys, values = k[:, :, :n].double().clone(), v[:, :, :n].double().clone()
    keys[:, :, n - 1] = qkv[:, C:2 * C].double().view(B, H, D)
    values[:, :, n - 1] = qkv[:, 2 * C:].double().view(B, H, D)
    scores = (q @ keys.transpose(-1, -2)).squeeze(2) * (D ** -0.5 if scale is None else scale)   # (B, H, n)
    hidden = torch.zeros(B, n, dtype=torch.bool) if padded is None else padded[:, :n]
    scores = scores.masked_fill(hidden[:, None, :], float("-inf"))
    p = torch.softmax(scores, dim=-1).nan_to_num(0.0)           # a row with no visible key: zeros
    return (p[:, :, None, :] @ values).view(B, C)
