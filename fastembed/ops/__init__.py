"""Fused masked attention: ``softmax(scale·QKᵀ + mask)·V`` without the T×T score matrix.

:func:`attention` is a PyTorch op (CPU and CUDA kernels, autograd, ``torch.compile``);
:func:`attention_numpy` runs the CPU kernel on numpy arrays without PyTorch.
"""

from __future__ import annotations

from typing import Any

from ._numpy import attention_numpy, dropout_mask

__all__ = ["attention", "attention_numpy", "dropout_mask"]


def attention(q: Any, k: Any, v: Any, *, causal: bool = False, key_padding_mask: Any = None, lengths: Any = None,
              dropout_p: float = 0.0, scale: float | None = None, layout: str = "bthd",
              dropout_seed: int | None = None) -> Any:
    """Fused masked attention on torch tensors, differentiable in q, k and v.

    q: (B, Tq, H, D), k and v: (B, Tk, H, D) in ``layout="bthd"``; (B, H, T, D) with
    ``layout="bhtd"``. Any strides with a contiguous D axis are read in place (e.g. slices of a
    packed QKV projection). CPU: float32 or float64; CUDA: float32, float16, bfloat16.

    Masks (combined): ``causal`` lets query i see keys j <= i + (Tk - Tq) (bottom-right aligned,
    as KV-cache decoding needs; the usual triangle when Tq == Tk); ``lengths`` (B,) ints marks keys
    j >= lengths[b] as padding; ``key_padding_mask`` (B, Tk) bool marks padded keys with True (the
    ``torch.nn.MultiheadAttention`` convention). A query that sees no key gets zeros.

    ``dropout_p`` drops attention probabilities (survivors scaled by 1/(1-p)); the mask comes from
    a counter-based generator seeded from torch's RNG (or ``dropout_seed``), is never stored, and
    :func:`dropout_mask` reproduces it. Pass ``dropout_p=0`` at evaluation time. ``scale``
    defaults to 1/sqrt(D). Returns (B, Tq, H, D) (a (B, H, Tq, D) view for ``"bhtd"``).

    >>> import torch
    >>> q = k = v = torch.eye(2).reshape(1, 2, 1, 2)          # B=1, T=2, H=1, D=2
    >>> out = attention(q, k, v, causal=True)                  # query 0 sees only key 0
    >>> [[round(x, 2) for x in row] for row in out[0, :, 0].tolist()]
    [[1.0, 0.0], [0.33, 0.67]]
    """
    from ._torch import attention as _attention

    return _attention(q, k, v, causal=causal, key_padding_mask=key_padding_mask, lengths=lengths,
                      dropout_p=dropout_p, scale=scale, layout=layout, dropout_seed=dropout_seed)
