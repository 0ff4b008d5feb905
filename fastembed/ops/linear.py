"""Inference products against a weight packed once (CPU, float32): ``x·Wᵀ + b`` for an
``nn.Linear``'s weight W (N, K), by the native kernel of ``csrc/nn/linear.h``.

    >>> import torch
    >>> layer = torch.nn.Linear(3, 2)
    >>> x = torch.randn(4, 3)
    >>> with torch.no_grad():
    ...     bool(torch.allclose(linear(x, layer.weight, layer.bias), layer(x), atol=1e-6))
    True

Why: a general sgemm repacks both operands on every call; for an encoder's shapes (a batch of a
few hundred tokens against 384 × 1536 weights) MKL spent about a tenth of its time copying. Here
the weight is packed on first use and the activations are read in place.

The packed copy is kept beside the weight, held weakly (it goes when the weight goes), and made
again when the weight changes: in place (an optimizer step or ``load_state_dict`` moves the
tensor's version counter) or by moving to new memory. It takes as much memory as the weight.
No autograd: for inference only (:func:`fastembed.ops.epilogue.usable` tells when it applies).
The slow, obviously correct version is ``F.linear``, which the tests compare against.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Optional

from .._optional import require_torch

torch = require_torch("fastembed.ops.linear")

from torch import Tensor  # noqa: E402

from .._native import _C  # noqa: E402

__all__ = ["linear", "packed_weight"]

# id(weight) -> (weak reference to it, (version, address) when packed, packed form). Keyed by id,
# not by the tensor: a tensor's == is elementwise, which a WeakKeyDictionary would call.
_packed: dict[int, tuple[Any, tuple[int, int], Any]] = {}
_lock = threading.Lock()


def _forget(ident: int) -> Any:
    def drop(_ref: Any) -> None:
        with _lock:
            _packed.pop(ident, None)
    return drop


def _check(t: Any, name: str, dim: int) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"linear: '{name}' must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu" or t.dtype != torch.float32:
        raise TypeError(f"linear: '{name}' must be a float32 CPU tensor, got {t.dtype} on {t.device}")
    if t.dim() != dim:
        raise ValueError(f"linear: '{name}' must have {dim} dimension(s), got shape {tuple(t.shape)}")
    if t.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(f"linear: '{name}' requires grad; the packed product has no backward (use it under "
                           "torch.no_grad() or torch.inference_mode())")
    return t


def packed_weight(weight: Tensor) -> Any:
    """The packed form of ``weight`` (N, K) for :func:`linear`: made on first use, then reused
    until the weight changes (see the module docstring)."""
    w = _check(weight, "weight", 2)
    key = (w._version, w.data_ptr())
    with _lock:
        hit = _packed.get(id(w))
    if hit is not None and hit[0]() is w and hit[1] == key:
        return hit[2]
    src = w.detach()
    packed = _C.pack_linear_weight((src if src.stride(-1) == 1 else src.contiguous()).numpy())
    with _lock:
        _packed[id(w)] = (weakref.ref(w, _forget(id(w))), key, packed)
    return packed


def linear(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``x @ weight.T + bias`` for x (..., K), weight (N, K), bias (N,) or None: a new float32
    tensor (..., N), equal to ``F.linear`` up to float rounding (sums in another order)."""
    w = _check(weight, "weight", 2)
    if not isinstance(x, Tensor) or x.dim() == 0:
        raise TypeError(f"linear: 'x' must be a torch.Tensor (..., K), got {getattr(x, 'shape', type(x).__name__)}")
    _check(x, "x", x.dim())
    N, K = w.shape
    if x.shape[-1] != K:
        raise ValueError(f"linear: 'x' has {x.shape[-1]} features in its last axis but 'weight' {tuple(w.shape)} "
                         f"takes {K}")
    b = None
    if bias is not None:
        b = _check(bias, "bias", 1)
        if b.shape[0] != N:
            raise ValueError(f"linear: 'bias' must have shape ({N},) to match 'weight', got {tuple(b.shape)}")
        b = b.detach().contiguous().numpy()
    rows = 1
    for n in x.shape[:-1]:
        rows *= n
    x2 = x.detach().reshape(rows, K)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    y = torch.empty((*x.shape[:-1], N), dtype=torch.float32)
    _C.linear_packed(x2.numpy(), packed_weight(w), N, b, y.view(-1, N).numpy())
    return y
