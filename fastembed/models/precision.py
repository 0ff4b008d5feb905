"""Inference at lower precision: a loaded BERT or GPT converted so that its big matrix products run
in bf16 or int8, chosen per machine, with everything quality-sensitive kept in float32.

    >>> check_precision("fp32")
    'fp32'
    >>> check_precision("fp16")
    Traceback (most recent call last):
    ...
    ValueError: precision must be one of 'fp32', 'bf16', 'int8'; got 'fp16'

:func:`prepare` ``(model, precision)`` replaces the four products of every transformer layer
(the packed QKV projection, the attention output, the FFN up and down projections) with
:class:`Bf16Linear` or :class:`Int8Linear`; it returns the precision actually used. Nothing else
changes: the embeddings, LayerNorm, softmax inside the fused attention, the epilogues (bias, GELU,
residual, LayerNorm), pooling, normalisation, heads (pooler, classifier, a GPT's tied output layer)
stay float32, and every converted product returns float32. The Embedder, ``fastembed.predict``
and generation all go through it; a model for ``fastembed.features.extract`` is converted by
calling it first.

- **bf16**: weights stored in bf16, the activation rounded to bf16 before each product, the
  product by PyTorch (oneDNN: AMX tiles where the CPU has them, AVX-512-BF16 dot products
  otherwise); the result comes back bf16 and is widened to float32 for the epilogue. Only used
  where the CPU computes bf16 natively (:func:`cpu_has_bf16`): elsewhere PyTorch emulates it and
  it would be slower than float32, so ``prepare`` warns (:class:`PrecisionFallbackWarning`) and
  keeps float32.
- **int8**: symmetric weights with one scale per output channel, the activation quantized per row
  (per token) with a scale computed from that row at run time (one native pass), products
  accumulated in int32 by oneDNN's int8 linear (AMX-int8 / VNNI / AVX2, picked by the library at
  run time; ``torch._int_mm`` where that op is missing), then rescaled to float32 by both scales,
  the per-token one inside the next epilogue's pass. Per-token activation scales matter: one scale for the whole
  batch (ONNX Runtime's dynamic quantization) lets the largest token of the batch decide the step
  of every other, which is what costs its vectors their fidelity. The QKV projection is the one
  product whose int8 error shows in the vectors (measured alone on MiniLM over 2,000 SST-2 texts:
  min cosine 0.9855 for QKV, 0.9998 for the attention output, 0.992 for FFN up, 0.995 for FFN
  down; all four: 0.971), so its input channels are rescaled first (SmoothQuant, see
  :class:`Int8Linear`) with ranges measured on random token ids: all four then give 0.998.

Which products are int8 is :data:`INT8_PRODUCTS` (all four by default); ``prepare``'s
``int8_products`` leaves the others in bf16 (where the CPU has it) or float32.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Iterable, Optional

import torch
from torch import nn

from ..ops import epilogue

__all__ = ["PRECISIONS", "INT8_PRODUCTS", "PrecisionFallbackWarning", "Bf16Linear", "Int8Linear", "check_precision",
           "cpu_has_bf16", "cpu_flags", "resolve_precision", "prepare", "quantize_rows", "linear_mm",
           "linear_mm_parts"]

PRECISIONS = ("fp32", "bf16", "int8")
# The layer products that prepare(model, "int8") quantizes: "qkv" (attention input projection),
# "out" (attention output), "up", "down" (FFN). The others of a layer stay float32.
INT8_PRODUCTS = ("qkv", "out", "up", "down")
SMOOTHED = ("qkv", "up")
_PRODUCTS = ("qkv", "out", "up", "down")


class PrecisionFallbackWarning(UserWarning):
    """The precision asked for is not computed natively here; the model runs in float32."""


def check_precision(precision: Any) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ValueError naming them."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(repr(p) for p in PRECISIONS)}; got {precision!r}")
    return precision


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (Linux); empty where that cannot be read."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_bf16() -> bool:
    """True when this CPU multiplies bf16 natively: AVX-512-BF16 dot products or AMX-BF16 tiles.
    Read from the kernel's flags; off Linux, from what PyTorch says its oneDNN build can use."""
    flags = cpu_flags()
    if flags:
        return "avx512_bf16" in flags or "amx_bf16" in flags
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):      # a build without the op: say no rather than guess
        return False


def resolve_precision(precision: Any, device: Any = "cpu", *, stacklevel: int = 2) -> str:
    """The precision to run ``precision`` at on ``device``: ``precision`` itself where it runs
    natively, else "fp32" with a :class:`PrecisionFallbackWarning` saying why. ValueError for an
    unknown precision."""
    precision = check_precision(precision)
    kind = torch.device(device).type
    reason = None
    if precision == "bf16" and kind == "cpu" and not cpu_has_bf16():
        reason = ("this CPU has neither AVX-512-BF16 nor AMX-BF16, so bf16 products would be emulated "
                  "(slower than float32)")
    elif precision == "int8" and kind != "cpu":
        reason = f"the int8 path is for the CPU (its products are oneDNN's and torch._int_mm's CPU kernels), not {kind}"
    if reason is None:
        return precision
    warnings.warn(f"precision={precision!r}: {reason}; using float32 instead", PrecisionFallbackWarning,
                  stacklevel=stacklevel + 1)
    return "fp32"


def quantize_rows(x: torch.Tensor, col_scale: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 rows, float32 scales (rows, 1)) of a float32 matrix: row i of ``x · col_scale`` ≈
    q[i] · scale[i], the scale chosen so that the row's largest magnitude maps to 127 (symmetric,
    no zero point; an all-zero row gets scale 0 and codes 0). One native pass on the CPU
    (:func:`fastembed.ops.quantize.quantize_rows`); the PyTorch expression elsewhere."""
    from ..ops import quantize

    x = x.float()
    if x.device.type == "cpu" and x.dim() == 2 and x.stride(-1) == 1:
        return quantize.quantize_rows(x, col_scale)
    return quantize.quantize_rows_reference(x, col_scale)


def _onednn_int8_ok() -> bool:
    """True when PyTorch's oneDNN int8 linear (``torch.ops.onednn.qlinear_pointwise``, the kernel
    of its x86 int8 inference: AMX-int8 tiles or VNNI, chosen by oneDNN at run time) is present
    and gives exact int32 sums on a small product here. Measured on MiniLM's products it is 1.4-2×
    faster than ``torch._int_mm``, which stays the fallback."""
    global _ONEDNN_OK
    if _ONEDNN_OK is None:
        try:
            g = torch.Generator().manual_seed(0)
            a = torch.randint(-127, 128, (5, 70), dtype=torch.int8, generator=g)
            w = torch.randint(-127, 128, (9, 70), dtype=torch.int8, generator=g)
            ones = torch.ones(9)
            got = _onednn_linear(a, torch.ops.onednn.qlinear_prepack(w, None), ones, torch.zeros(9, dtype=torch.long))
            _ONEDNN_OK = bool(torch.equal(got, (a.long() @ w.long().t()).float()))
        except (AttributeError, RuntimeError, NotImplementedError):
            _ONEDNN_OK = False
    return _ONEDNN_OK


_ONEDNN_OK: Optional[bool] = None


def _onednn_linear(q: torch.Tensor, packed: torch.Tensor, w_scale: torch.Tensor, w_zero: torch.Tensor) -> torch.Tensor:
    """int8 (M, K) codes times a packed int8 weight -> float32 (M, N) sums times ``w_scale`` (N,).
    The activation scale is 1 here: oneDNN takes one scale per tensor, and ours are per row, so
    they are applied afterwards (in the epilogue's pass)."""
    return torch.ops.onednn.qlinear_pointwise(q, 1.0, 0, packed, w_scale, w_zero, None, 1.0, 0, torch.float32,
                                              "none", [], "")


class _LowPrecisionLinear(nn.Module):
    """An ``nn.Linear`` for inference whose weight is held at a lower precision: ``mm(x)`` is the
    product without the bias (float32 out, for the fused epilogues), ``forward`` adds the bias."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        bias = linear.bias.detach().float() if linear.bias is not None else None
        self.register_buffer("bias", bias)

    def mm(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"input has {x.shape[-1]} features; this layer takes {self.in_features}")
        y = self.mm(x.reshape(-1, self.in_features).float())
        if self.bias is not None:
            y = y.add_(self.bias)
        return y.view(*x.shape[:-1], self.out_features).to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bf16Linear(_LowPrecisionLinear):
    """bf16 weight; ``mm`` rounds the activation to bf16 and multiplies with PyTorch's bf16 matmul."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__(linear)
        self.register_buffer("weight", linear.weight.detach().to(torch.bfloat16).contiguous())

    def mm(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mm(x.to(torch.bfloat16), self.weight.t()).to(torch.float32)


class Int8Linear(_LowPrecisionLinear):
    """int8 weight with one float32 scale per output channel (symmetric); the activation is
    quantized per row at run time (:func:`quantize_rows`, one native pass).

    ``input_amax`` (K,), the largest magnitude seen on each input channel, turns on SmoothQuant's
    migration (Xiao et al. 2023, alpha 0.5): input channel k is divided by
    ``s_k = sqrt(input_amax_k / max_n |W_nk|)`` and the weight's column k multiplied by it, the same
    product, with the activation's few large channels no longer setting the step of every other.

    :meth:`mm_parts` returns the product with the weight scales applied and the per-row
    activation scales apart, so that a fused epilogue multiplies them in its own pass
    (:mod:`fastembed.ops.epilogue`'s ``row_scale``); :meth:`mm` applies them itself."""

    def __init__(self, linear: nn.Linear, input_amax: Optional[torch.Tensor] = None) -> None:
        super().__init__(linear)
        w = linear.weight.detach().float()
        self.register_buffer("input_scale", None)
        if input_amax is not None:
            s = (input_amax.float().clamp_min(1e-5).sqrt() / w.abs().amax(0).clamp_min(1e-5).sqrt())
            w = w * s
            self.input_scale = (1.0 / s).contiguous()
        q, scale = quantize_rows(w.contiguous())
        self.register_buffer("weight", q.contiguous())
        self.register_buffer("weight_scale", scale.view(-1).contiguous())
        self._packed: Optional[tuple[torch.Tensor, torch.Tensor]] = None   # oneDNN's layout of `weight`

    def _pack(self) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
        if self._packed is None and self.weight.device.type == "cpu" and _onednn_int8_ok():
            self._packed = (torch.ops.onednn.qlinear_prepack(self.weight, None),
                            torch.zeros(self.out_features, dtype=torch.long))
        return self._packed

    def _apply(self, fn, *args, **kwargs):           # .to() / .cpu(): the packed copy is rebuilt on use
        self._packed = None
        return super()._apply(fn, *args, **kwargs)

    def mm_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(``x · Wᵀ`` with the weight scales applied but not the activation's, the activation's
        per-row scales (rows, 1)): the product is ``y · scales``."""
        x = x.float()
        if x.stride(-1) != 1:
            x = x.contiguous()
        q, s = quantize_rows(x, self.input_scale)
        packed = self._pack()
        if packed is not None and q.shape[0] > 0:
            return _onednn_linear(q, packed[0], self.weight_scale, packed[1]), s
        return torch.mul(torch._int_mm(q, self.weight.t()), self.weight_scale), s

    def mm(self, x: torch.Tensor) -> torch.Tensor:
        y, s = self.mm_parts(x)
        return y.mul_(s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"input has {x.shape[-1]} features; this layer takes {self.in_features}")
        y, s = self.mm_parts(x.reshape(-1, self.in_features))
        if self.bias is not None and epilogue.usable(y):
            epilogue.bias_(y, self.bias, s)                          # one pass: y · s + bias
        else:
            y = y.mul_(s) if self.bias is None else y.mul_(s).add_(self.bias)
        return y.view(*x.shape[:-1], self.out_features).to(x.dtype)


def linear_mm(linear: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x · Wᵀ`` without the bias for an ``nn.Linear`` or a converted layer: what a fused
    inference path calls instead of ``torch.mm(x, linear.weight.t())``."""
    if isinstance(linear, _LowPrecisionLinear):
        return linear.mm(x)
    return torch.mm(x, linear.weight.t())


def linear_mm_parts(linear: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """(y, row_scale): ``x · Wᵀ`` without the bias is ``y · row_scale`` (row_scale None: ``y``
    itself), for a fused epilogue that applies the int8 activation scales in its own pass."""
    if isinstance(linear, Int8Linear):
        return linear.mm_parts(x)
    return linear_mm(linear, x), None


def _layer_products(model: nn.Module) -> Iterable[tuple[nn.Module, str, str]]:
    """(parent module, attribute, product name) of every layer product in ``model``: the ``qkv``
    and ``out`` of each attention block (fastembed's SelfAttention) and the ``up`` and ``down`` of
    the layer that holds it."""
    from .attention import SelfAttention

    for layer in model.modules():
        attn = getattr(layer, "attn", None)
        if not isinstance(attn, SelfAttention):
            continue
        for name in ("qkv", "out"):
            yield attn, name, name
        for name in ("up", "down"):
            if isinstance(getattr(layer, name, None), (nn.Linear, _LowPrecisionLinear)):
                yield layer, name, name


def _input_amax(model: nn.Module) -> dict[nn.Module, torch.Tensor]:
    """Per-channel largest input magnitude of every attention's QKV projection, measured on one
    seeded batch of random token ids (8 rows of 32): no data set is needed, and the channels that
    run large are a property of the LayerNorm before the projection more than of the text. Empty
    when ``model`` holds no fastembed BertModel or GPT to run."""
    from .bert import BertModel
    from .gpt import GPT

    runner = next((m for m in model.modules() if isinstance(m, (BertModel, GPT))), None)
    if runner is None:
        return {}
    seen: dict[nn.Module, torch.Tensor] = {}

    def record(module: nn.Module, args: tuple[Any, ...]) -> None:
        x = args[0].detach().reshape(-1, args[0].shape[-1]).abs().amax(0).float()
        seen[module] = torch.maximum(seen[module], x) if module in seen else x

    hooks = [getattr(parent, attr).register_forward_pre_hook(record)
             for parent, attr, name in _layer_products(runner) if name in SMOOTHED]
    param = next(runner.parameters())
    cfg = runner.config
    ids = torch.randint(0, cfg.vocab_size, (8, min(32, cfg.max_position)),
                        generator=torch.Generator().manual_seed(0)).to(param.device)
    was_training = runner.training
    try:
        # autograd on: BERT's fused inference path (which calls up/down/out without the module)
        # is skipped, so the hooks see every product; the batch is small
        with torch.enable_grad():
            runner.eval()
            runner(ids, logits_to_keep=1) if isinstance(runner, GPT) else runner(ids)
    finally:
        runner.train(was_training)
        for h in hooks:
            h.remove()
    return seen


def prepare(model: nn.Module, precision: str, *, device: Any = None,
            int8_products: Optional[Iterable[str]] = None, stacklevel: int = 2) -> str:
    """Convert ``model`` (a fastembed BertModel, BertForPreTraining, fine-tuned BERT or GPT) in place
    for inference at ``precision``; return the precision used ("fp32" after a fallback warning, see
    :func:`resolve_precision`). "fp32" leaves the model as it is. The converted layers hold no
    float32 weight and have no backward: the model is for inference only from then on (reload it
    to train). ``int8_products``: which products int8 applies to (default :data:`INT8_PRODUCTS`;
    the others are left in bf16 where the CPU has it, else float32)."""
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else "cpu"
    used = resolve_precision(precision, device, stacklevel=stacklevel + 1)
    if used == "fp32":
        return used
    chosen = set(INT8_PRODUCTS if int8_products is None else int8_products)
    unknown = chosen - set(_PRODUCTS)
    if unknown:
        raise ValueError(f"int8_products: unknown products {sorted(unknown)}; expected some of {_PRODUCTS}")
    rest = Bf16Linear if cpu_has_bf16() else None
    amax = _input_amax(model) if used == "int8" and chosen & set(SMOOTHED) else {}
    for parent, attr, name in list(_layer_products(model)):
        linear = getattr(parent, attr)
        if isinstance(linear, _LowPrecisionLinear):
            raise ValueError("the model has already been converted to a lower precision; load it again to change it")
        if used == "bf16" or name not in chosen:
            new = rest(linear) if rest is not None else None
        else:
            new = Int8Linear(linear, amax.get(linear) if name in SMOOTHED else None)
        if new is not None:
            setattr(parent, attr, new.to(linear.weight.device))
    model.eval()
    return used
