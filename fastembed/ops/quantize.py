"""Per-row (per-token) symmetric int8 quantization of a float32 activation, in one native pass
(``csrc/nn/quantize.h``), for the int8 products of :mod:`fastembed.models.precision`.

    >>> import torch
    >>> q, scale = quantize_rows(torch.tensor([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0]]))
    >>> q.tolist(), [round(s, 6) for s in scale.view(-1).tolist()]
    ([[64, -127, 32], [0, 0, 0]], [0.007874, 0.0])

``x · col_scale`` ≈ ``q · scale`` row by row: ``scale`` = the row's largest magnitude / 127, codes
rounded half to even. The slow, obviously correct version is :func:`quantize_rows_reference`
(PyTorch, four passes), which the tests compare against bit for bit.
"""

from __future__ import annotations

from typing import Optional

from .._optional import require_torch

torch = require_torch("fastembed.ops.quantize")

from torch import Tensor  # noqa: E402

from .._native import _C  # noqa: E402

__all__ = ["quantize_rows", "quantize_rows_reference"]


def quantize_rows(x: Tensor, col_scale: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """(int8 codes (M, K), float32 scales (M, 1)) of a float32 CPU matrix ``x`` (M, K) with a
    contiguous last axis, each column first multiplied by ``col_scale`` (K,) when given. A row
    with a NaN or an infinity gets codes 0 and scale NaN (its product row then comes out NaN)."""
    if not isinstance(x, Tensor) or x.dim() != 2 or x.dtype != torch.float32 or x.device.type != "cpu":
        raise TypeError(f"quantize_rows: x must be a 2-D float32 CPU tensor, got "
                        f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}"
                        f"{'' if not isinstance(x, Tensor) else f' {x.dtype} on {x.device}'}")
    cs = None
    if col_scale is not None:
        if col_scale.dtype != torch.float32 or col_scale.device.type != "cpu":
            raise TypeError("quantize_rows: col_scale must be a float32 CPU tensor")
        cs = col_scale.detach().contiguous().numpy()
    q = torch.empty(x.shape, dtype=torch.int8)
    scale = torch.empty((x.shape[0], 1), dtype=torch.float32)
    _C.quantize_rows_s8(x.detach().numpy(), cs, q.numpy(), scale.view(-1).numpy())
    return q, scale


def quantize_rows_reference(x: Tensor, col_scale: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """:func:`quantize_rows` in plain PyTorch (the same float32 arithmetic: two products, then
    round half to even)."""
    if col_scale is not None:
        x = x * col_scale
    amax = torch.linalg.vector_norm(x, float("inf"), dim=1, keepdim=True)
    q = torch.mul(x, 127.0 / amax.clamp_min(1e-30)).round_().to(torch.int8)
    scale = amax / 127.0
    bad = ~torch.isfinite(x).all(1, keepdim=True)
    return q.masked_fill(bad, 0), scale.masked_fill(bad, float("nan"))
