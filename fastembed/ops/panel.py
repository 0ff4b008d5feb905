"""``y = x·Wᵀ + b`` for a few rows of ``x`` (a decoding step), with ``W`` packed once into column
panels that stream from memory (``csrc/nn/panel_linear.h``; CPU, float32, inference).

    >>> import torch
    >>> w = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])      # nn.Linear(2, 3).weight
    >>> packed = pack_panels(w)
    >>> tuple(packed.shape)                                           # (ceil(3 / 32), 2, 32)
    (1, 2, 32)
    >>> panel_linear(torch.tensor([[1.0, 1.0]]), packed, 3, torch.tensor([0.0, 0.0, 0.5])).tolist()
    [[3.0, 7.0, 11.5]]

At one to sixteen rows a product is bound by reading ``W``; MKL's sgemm reads GPT-2's matrices at
about half the memory bandwidth at eight rows, this kernel at most of it (``python -m benchmarks
generate`` and ``tests/ops/test_panel.py``). The slow, obviously correct version is
``x.double() @ W.double().T + b`` (:func:`panel_linear_reference`), which the tests compare
against.
"""

from __future__ import annotations

import math
from typing import Optional

from .._optional import require_torch

torch = require_torch("fastembed.ops.panel")

from torch import Tensor  # noqa: E402

from .._native import _C  # noqa: E402

__all__ = ["EPILOGUES", "PANEL", "gelu_tanh_reference", "pack_panels", "panel_linear", "panel_linear_reference"]

PANEL = 32  # columns of W per packed panel (kPanel in csrc/nn/panel_linear.h)


def pack_panels(weight: Tensor) -> Tensor:
    """An ``nn.Linear`` weight (out, in) as float32 panels (ceil(out / 32), in, 32):
    ``packed[p, k, j] = weight[32·p + j, k]``, zeros past the last output."""
    if not isinstance(weight, Tensor) or weight.dim() != 2:
        raise TypeError(f"pack_panels: weight must be a 2-D tensor (out, in), got "
                        f"{tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__}")
    out, k = weight.shape
    panels = -(-out // PANEL)
    padded = torch.zeros((panels * PANEL, k), dtype=torch.float32)
    padded[:out] = weight.detach().to(device="cpu", dtype=torch.float32)
    return padded.view(panels, PANEL, k).transpose(1, 2).contiguous()


EPILOGUES = {"store": 0, "accumulate": 1, "gelu_tanh": 2}


def panel_linear(x: Tensor, packed: Tensor, out_features: int, bias: Optional[Tensor] = None, *,
                 epilogue: str = "store", out: Optional[Tensor] = None) -> Tensor:
    """``x`` (M, in) float32 CPU with a contiguous last axis, ``packed`` from :func:`pack_panels`
    of an (out_features, in) weight, ``bias`` (out_features,) or None -> (M, out_features).

    ``epilogue``, applied to z = x·Wᵀ + b while it is in cache: "store" (z), "accumulate"
    (``out + z``, written into ``out``: a residual add) or "gelu_tanh" (GELU's tanh form, GPT-2's
    FFN). ``out`` (M, out_features) float32 receives the result (required for "accumulate")."""
    if epilogue not in EPILOGUES:
        raise ValueError(f"panel_linear: epilogue must be one of {tuple(EPILOGUES)}, got {epilogue!r}")
    if epilogue == "accumulate" and out is None:
        raise ValueError("panel_linear: epilogue='accumulate' adds into 'out'; pass out=")
    if not isinstance(x, Tensor) or x.dim() != 2 or x.dtype != torch.float32 or x.device.type != "cpu":
        raise TypeError(f"panel_linear: x must be a 2-D float32 CPU tensor, got "
                        f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}"
                        f"{'' if not isinstance(x, Tensor) else f' {x.dtype} on {x.device}'}")
    if not isinstance(packed, Tensor) or packed.dtype != torch.float32 or packed.device.type != "cpu":
        raise TypeError("panel_linear: packed must be a float32 CPU tensor from pack_panels")
    if bias is not None and (bias.dtype != torch.float32 or bias.device.type != "cpu"):
        raise TypeError("panel_linear: bias must be a float32 CPU tensor or None")
    if out is not None and (not isinstance(out, Tensor) or out.dtype != torch.float32 or out.device.type != "cpu"
                            or tuple(out.shape) != (x.shape[0], int(out_features))):
        raise TypeError(f"panel_linear: out must be a float32 CPU tensor of shape {(x.shape[0], int(out_features))}")
    y = torch.empty((x.shape[0], int(out_features)), dtype=torch.float32) if out is None else out
    _C.panel_linear(x.detach().numpy(), packed.detach().numpy(), None if bias is None else bias.detach().numpy(),
                    y.detach().numpy(), EPILOGUES[epilogue])
    return y


def gelu_tanh_reference(z: Tensor) -> Tensor:
    """GELU's tanh form in float64: z/2·(1 + tanh(√(2/π)·(z + 0.044715·z³)))."""
    z = z.double()
    return 0.5 * z * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (z + 0.044715 * z ** 3)))


def panel_linear_reference(x: Tensor, weight: Tensor, bias: Optional[Tensor] = None, *, epilogue: str = "store",
                           out: Optional[Tensor] = None) -> Tensor:
    """What :func:`panel_linear` computes, in float64 from the unpacked (out, in) weight (``out``:
    what "accumulate" adds to; it is not written)."""
    y = x.double() @ weight.double().T
    y = y if bias is None else y + bias.double()
    if epilogue == "gelu_tanh":
        return gelu_tanh_reference(y)
    return y + out.double() if epilogue == "accumulate" else y
