"""What a transformer layer does after a matrix product, fused into one pass (CPU, float32,
inference): the native kernels of ``csrc/nn/epilogue.h`` on torch tensors, in place.

    >>> import torch
    >>> y, b = torch.tensor([[-1.0, 0.0, 2.0]]), torch.tensor([0.0, 0.0, 1.0])
    >>> [round(v, 4) for v in bias_gelu_(y, b)[0].tolist()]        # GELU(y + b), exact (erf) GELU
    [-0.1587, 0.0, 2.996]

The layer computes its products without the bias (``torch.mm``) and hands the output here: one
pass adds the bias and applies GELU, or adds the bias and the residual and applies LayerNorm,
while PyTorch's ``addmm`` → ``gelu`` / ``add`` → ``layer_norm`` walks the activation two or three
times. ``row_scale`` (rows,) multiplies each row first, in the same pass: an int8 product's
per-token activation scale (:mod:`fastembed.models.precision`). There is no backward: these run only where no gradient is needed (:func:`usable`).
The slow, obviously correct versions are ``F.gelu(y + b)`` and ``F.layer_norm(y + b + residual)``
(``fastembed/ops/_reference.py``), which the tests compare against.
"""

from __future__ import annotations

from .._optional import require_torch

torch = require_torch("fastembed.ops.epilogue")

from typing import Optional  # noqa: E402

from torch import Tensor  # noqa: E402

from .._native import _C  # noqa: E402

__all__ = ["bias_", "bias_gelu_", "bias_residual_layer_norm_", "usable"]


def usable(x: Tensor) -> bool:
    """True when the fused epilogues apply to activations like ``x``: a float32 CPU tensor, no
    autograd recording (``torch.no_grad`` or ``torch.inference_mode``) and not inside
    ``torch.compile``'s tracing (the compiler fuses the plain PyTorch ops itself)."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and not torch.compiler.is_compiling())


def _matrix(y: Tensor, name: str) -> Tensor:
    if not isinstance(y, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(f"{name} requires grad; the fused epilogues have no backward (use them under "
                           "torch.no_grad() or torch.inference_mode())")
    if y.device.type != "cpu" or y.dtype != torch.float32:
        raise TypeError(f"{name} must be a float32 CPU tensor, got {y.dtype} on {y.device}")
    return y.reshape(-1, y.shape[-1]) if y.dim() != 2 else y


def _in_place(y: Tensor) -> Tensor:
    """``y`` as the (rows, C) matrix the kernel writes, sharing y's memory."""
    m = _matrix(y, "y")
    if m.data_ptr() != y.data_ptr() or (y.dim() != 2 and not y.is_contiguous()):
        raise ValueError("y must be contiguous (it is updated in place)")
    return m


def _vector(v: Tensor, name: str) -> object:
    if not isinstance(v, Tensor) or v.device.type != "cpu" or v.dtype != torch.float32:
        raise TypeError(f"{name} must be a float32 CPU tensor")
    return v.detach().numpy()


def _row_scale(row_scale: Optional[Tensor]) -> object:
    return None if row_scale is None else _vector(row_scale.reshape(-1), "row_scale")


def bias_(y: Tensor, bias: Tensor, row_scale: Optional[Tensor] = None) -> Tensor:
    """``y = y · row_scale[:, None] + bias`` in place and return ``y`` (..., C); ``bias`` (C,),
    ``row_scale`` one float32 per row of ``y`` viewed as (rows, C), or None."""
    m = _in_place(y)
    _C.bias_(m.detach().numpy(), _vector(bias, "bias"), _row_scale(row_scale))
    return y


def bias_gelu_(y: Tensor, bias: Tensor, row_scale: Optional[Tensor] = None) -> Tensor:
    """``y = GELU(y · row_scale[:, None] + bias)`` in place and return ``y`` (..., C); ``bias``
    (C,), ``row_scale`` as in :func:`bias_` (None: 1)."""
    m = _in_place(y)
    _C.bias_gelu_(m.detach().numpy(), _vector(bias, "bias"), _row_scale(row_scale))
    return y


def bias_residual_layer_norm_(y: Tensor, bias: Tensor, residual: Tensor, weight: Tensor, ln_bias: Tensor,
                              eps: float, row_scale: Optional[Tensor] = None) -> Tensor:
    """``y = LayerNorm(y · row_scale[:, None] + bias + residual)`` (affine ``weight``, ``ln_bias``,
    over the last axis) in place and return ``y``. ``y`` and ``residual`` (..., C) of one shape,
    the rest (C,); ``row_scale`` as in :func:`bias_` (None: 1)."""
    m = _in_place(y)
    if not isinstance(residual, Tensor) or residual.shape != y.shape:
        raise ValueError(f"residual must be a tensor of y's shape {tuple(y.shape)}, got "
                         f"{tuple(residual.shape) if isinstance(residual, Tensor) else type(residual).__name__}")
    r = _matrix(residual.detach(), "residual")
    _C.bias_residual_layer_norm_(m.detach().numpy(), _vector(bias, "bias"), r.numpy(), _vector(weight, "weight"),
                                 _vector(ln_bias, "ln_bias"), float(eps), _row_scale(row_scale))
    return y
