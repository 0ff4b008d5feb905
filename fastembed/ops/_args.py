"""Argument rules shared by the torch op and the numpy entry of attention."""

from __future__ import annotations

import math
from typing import Any


def check_layout(layout: str) -> None:
    if layout not in ("bthd", "bhtd"):
        raise ValueError(f"attention: layout must be 'bthd' (B, T, H, D) or 'bhtd' (B, H, T, D), got {layout!r}")


def check_shapes(q_shape: tuple, k_shape: tuple, v_shape: tuple) -> tuple[int, int, int, int, int]:
    """Shapes in (B, T, H, D) order -> (B, Tq, Tk, H, D), or ValueError naming the argument."""
    for name, shape in (("q", q_shape), ("k", k_shape), ("v", v_shape)):
        if len(shape) != 4:
            raise ValueError(f"attention: '{name}' must be 4-D (B, T, H, D) or (B, H, T, D), got shape {tuple(shape)}")
    B, Tq, H, D = q_shape
    Tk = k_shape[1]
    if B < 1 or H < 1 or D < 1:
        raise ValueError(f"attention: 'q' must have batch, heads and head dim >= 1, got (B, T, H, D) = {tuple(q_shape)}")
    if (k_shape[0], k_shape[2], k_shape[3]) != (B, H, D):
        raise ValueError(f"attention: 'k' must match q in batch, heads and head dim: q is (B, T, H, D) = "
                         f"{tuple(q_shape)}, k is {tuple(k_shape)}")
    if tuple(v_shape) != tuple(k_shape):
        raise ValueError(f"attention: 'v' must have the shape of 'k' {tuple(k_shape)}, got {tuple(v_shape)}")
    return B, Tq, Tk, H, D


def _real(x: Any, name: str) -> float:
    """A number as float. Strings and bools are refused: float("0.1") would take a string."""
    if not isinstance(x, (str, bytes, bool)):
        try:
            return float(x)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"attention: {name} must be a number, got {type(x).__name__} {x!r}")


def check_scalars(dropout_p: Any, scale: Any, D: int) -> tuple[float, float]:
    p = _real(dropout_p, "dropout_p")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"attention: dropout_p must be in [0, 1), got {dropout_p}")
    s = D ** -0.5 if scale is None else _real(scale, "scale")
    if not math.isfinite(s):
        raise ValueError(f"attention: scale must be finite, got {scale}")
    return p, s
