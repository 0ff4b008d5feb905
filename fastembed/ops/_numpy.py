"""Attention on numpy arrays, for inference without PyTorch (forward only, no dropout)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._native import _C
from ._args import check_layout, check_scalars, check_shapes


def attention_numpy(q: np.ndarray, k: np.ndarray, v: np.ndarray, *, causal: bool = False,
                    key_padding_mask: Any = None, lengths: Any = None, scale: float | None = None,
                    layout: str = "bthd") -> np.ndarray:
    """``softmax(scale·q·kᵀ + mask)·v`` for float32/float64 numpy arrays on the CPU kernel.

    Same arguments and masks as :func:`fastembed.ops.attention` (without dropout). Returns a new
    array in ``layout``.

    >>> import numpy as np
    >>> q = k = v = np.eye(2, dtype=np.float32).reshape(1, 2, 1, 2)   # B=1, T=2, H=1, D=2
    >>> out = attention_numpy(q, k, v, causal=True)
    >>> out[0, :, 0].astype(float).round(2).tolist()    # query 0 sees only key 0
    [[1.0, 0.0], [0.33, 0.67]]
    """
    check_layout(layout)
    arrays = []
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, np.ndarray):
            raise TypeError(f"attention_numpy: '{name}' must be a numpy.ndarray, got {type(x).__name__}")
        if x.ndim == 4 and layout == "bhtd":
            x = x.swapaxes(1, 2)
        if x.ndim == 4 and x.shape[3] > 1 and x.strides[3] != x.itemsize:
            x = np.ascontiguousarray(x)
        arrays.append(x)
    q, k, v = arrays
    B, Tq, Tk, H, D = check_shapes(q.shape, k.shape, v.shape)
    _, s = check_scalars(0.0, scale, D)
    out = np.empty((B, Tq, H, D), dtype=q.dtype)
    lse = np.empty((B, H, Tq), dtype=q.dtype)
    if lengths is not None:
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
    if key_padding_mask is not None:
        key_padding_mask = np.asarray(key_padding_mask)
        if key_padding_mask.dtype != np.bool_:
            raise TypeError(f"attention_numpy: 'key_padding_mask' must be a bool array (True = padded key), "
                            f"got dtype {key_padding_mask.dtype}")
    _C.attention_forward(q, k, v, out, lse, bool(causal), s, 0.0, 0, 0, lengths, key_padding_mask)
    return out.swapaxes(1, 2) if layout == "bhtd" else out


def dropout_mask(B: int, H: int, Tq: int, Tk: int, p: float, seed: int, offset: int = 0) -> np.ndarray:
    """The (B, H, Tq, Tk) bool keep-mask the attention kernels (CPU and CUDA) apply for dropout
    probability ``p`` and ``seed``: for tests and debugging.

    >>> m = dropout_mask(1, 1, 64, 64, 0.25, seed=7)
    >>> m.shape, bool(0.7 < m.mean() < 0.8)
    ((1, 1, 64, 64), True)
    """
    return _C.attention_dropout_mask(B, H, Tq, Tk, p, seed, offset)
