"""Fused masked attention as a PyTorch custom op (``torch.ops.fastembed.attention_fwd`` /
``attention_bwd``), with a fake (meta) implementation and autograd, so it runs in eager mode,
under ``torch.compile`` and passes ``torch.library.opcheck``.

CPU tensors go to the C++ kernel through zero-copy numpy views, CUDA tensors to ``_C_cuda`` on
the current stream. Plain eager calls skip the dispatcher (:class:`_EagerAttention`: the same
kernels and saved tensors); anything that traces goes through the registered op.

Dropout randomness is a (2,) int64 CPU tensor ``[seed, offset]`` drawn from torch's generator by
:func:`attention` (so ``torch.manual_seed`` makes runs repeatable and a compiled graph draws a
fresh seed each call) and saved for the backward, which regenerates the same mask.
"""

from __future__ import annotations

from typing import Any, Optional

from .._optional import require_torch

torch = require_torch("fastembed.ops.attention")

from torch import Tensor  # noqa: E402

from .._native import _C, require_cuda  # noqa: E402
from ._args import check_layout, check_scalars, check_shapes  # noqa: E402

_CUDA_DTYPES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def _lse_dtype(q: Tensor) -> torch.dtype:
    return torch.float64 if q.dtype == torch.float64 else torch.float32


def _np(x: Optional[Tensor]) -> Any:
    return None if x is None else x.detach().numpy()


def _seed(rng: Optional[Tensor]) -> tuple[int, int]:
    if rng is None:
        return 0, 0
    seed, offset = rng.tolist()
    return seed & (2**64 - 1), offset & (2**64 - 1)


def _strides(x: Tensor) -> tuple[int, int, int]:
    return x.stride(0), x.stride(1), x.stride(2)


def _ptr(x: Optional[Tensor]) -> int:
    return 0 if x is None else x.data_ptr()


def _cuda_common(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, key_lengths: Optional[Tensor],
                 key_padding_mask: Optional[Tensor], causal: bool, scale: float, dropout_p: float, seed: int,
                 offset: int, stream: int) -> dict[str, Any]:
    B, Tq, H, D = q.shape
    return dict(q=q.data_ptr(), k=k.data_ptr(), v=v.data_ptr(), out=out.data_ptr(), lse=lse.data_ptr(), B=B, H=H,
                Tq=Tq, Tk=k.shape[1], D=D, q_strides=_strides(q), k_strides=_strides(k), v_strides=_strides(v),
                out_strides=_strides(out), dtype=_CUDA_DTYPES[q.dtype], causal=causal, scale=scale,
                dropout_p=dropout_p, seed=seed, offset=offset, key_lengths=_ptr(key_lengths),
                key_padding=_ptr(key_padding_mask),
                key_padding_sb=0 if key_padding_mask is None else key_padding_mask.stride(0), stream=stream)


def cuda_attention_forward(cu: Any, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
                           key_lengths: Optional[Tensor], key_padding_mask: Optional[Tensor], causal: bool,
                           scale: float, dropout_p: float, seed: int, offset: int, stream: int) -> None:
    """The CUDA module ``cu``'s forward on (B, T, H, D) views: writes ``out`` and ``lse``. ``cu`` is
    ``_C_cuda`` with CUDA tensors, or the emulated ``_C_cuda_emu`` with CPU tensors (the tests)."""
    cu.attention_forward(**_cuda_common(q, k, v, out, lse, key_lengths, key_padding_mask, causal, scale, dropout_p,
                                        seed, offset, stream))


def cuda_attention_backward(cu: Any, dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
                            dq: Tensor, dk: Tensor, dv: Tensor, key_lengths: Optional[Tensor],
                            key_padding_mask: Optional[Tensor], causal: bool, scale: float, dropout_p: float,
                            seed: int, offset: int, stream: int) -> None:
    """The CUDA module ``cu``'s backward: overwrites ``dq``, ``dk``, ``dv`` (see :func:`cuda_attention_forward`)."""
    cu.attention_backward(dout=dout.data_ptr(), dq=dq.data_ptr(), dk=dk.data_ptr(), dv=dv.data_ptr(),
                          dout_strides=_strides(dout), dq_strides=_strides(dq), dk_strides=_strides(dk),
                          dv_strides=_strides(dv),
                          **_cuda_common(q, k, v, out, lse, key_lengths, key_padding_mask, causal, scale, dropout_p,
                                         seed, offset, stream))


def _forward(q: Tensor, k: Tensor, v: Tensor, key_lengths: Optional[Tensor], key_padding_mask: Optional[Tensor],
             causal: bool, scale: float, dropout_p: float, rng: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    """(B, Tq, H, D) q and (B, Tk, H, D) k, v (any strides, contiguous D) -> out (B, Tq, H, D), lse (B, H, Tq)."""
    B, Tq, H, D = q.shape
    out = torch.empty((B, Tq, H, D), dtype=q.dtype, device=q.device)
    lse = torch.empty((B, H, Tq), dtype=_lse_dtype(q), device=q.device)
    seed, offset = _seed(rng)
    if q.device.type == "cpu":
        _C.attention_forward(_np(q), _np(k), _np(v), out.numpy(), lse.numpy(), causal, scale, dropout_p, seed,
                             offset, _np(key_lengths), _np(key_padding_mask))
    else:
        cuda_attention_forward(require_cuda("fastembed.ops.attention on CUDA tensors"), q, k, v, out, lse,
                               key_lengths, key_padding_mask, causal, scale, dropout_p, seed, offset,
                               torch.cuda.current_stream(q.device).cuda_stream)
    return out, lse


@torch.library.custom_op("fastembed::attention_fwd", mutates_args=())
def attention_fwd(q: Tensor, k: Tensor, v: Tensor, key_lengths: Optional[Tensor], key_padding_mask: Optional[Tensor],
                  causal: bool, scale: float, dropout_p: float, rng: Optional[Tensor]) -> tuple[Tensor, Tensor]:
    """The forward as a registered op (what ``torch.compile`` and ``opcheck`` see): :func:`_forward`."""
    return _forward(q, k, v, key_lengths, key_padding_mask, causal, scale, dropout_p, rng)


@attention_fwd.register_fake
def _(q, k, v, key_lengths, key_padding_mask, causal, scale, dropout_p, rng):
    B, Tq, H, D = q.shape
    return q.new_empty((B, Tq, H, D)), q.new_empty((B, H, Tq), dtype=_lse_dtype(q))


def _backward_kernel(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
                     key_lengths: Optional[Tensor], key_padding_mask: Optional[Tensor], causal: bool, scale: float,
                     dropout_p: float, rng: Optional[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients (dq, dk, dv), each contiguous (B, T, H, D)."""
    dq = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    dk = torch.empty(k.shape, dtype=k.dtype, device=k.device)
    dv = torch.empty(v.shape, dtype=v.dtype, device=v.device)
    seed, offset = _seed(rng)
    if q.device.type == "cpu":
        _C.attention_backward(_np(dout), _np(q), _np(k), _np(v), _np(out), _np(lse), dq.numpy(), dk.numpy(),
                              dv.numpy(), causal, scale, dropout_p, seed, offset, _np(key_lengths),
                              _np(key_padding_mask))
    else:
        cuda_attention_backward(require_cuda("fastembed.ops.attention on CUDA tensors"), dout, q, k, v, out, lse, dq,
                                dk, dv, key_lengths, key_padding_mask, causal, scale, dropout_p, seed, offset,
                                torch.cuda.current_stream(q.device).cuda_stream)
    return dq, dk, dv


@torch.library.custom_op("fastembed::attention_bwd", mutates_args=())
def attention_bwd(dout: Tensor, q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor,
                  key_lengths: Optional[Tensor], key_padding_mask: Optional[Tensor], causal: bool, scale: float,
                  dropout_p: float, rng: Optional[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
    """The backward as a registered op: :func:`_backward_kernel`."""
    return _backward_kernel(dout, q, k, v, out, lse, key_lengths, key_padding_mask, causal, scale, dropout_p, rng)


@attention_bwd.register_fake
def _(dout, q, k, v, out, lse, key_lengths, key_padding_mask, causal, scale, dropout_p, rng):
    return q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape)


def _setup_context(ctx, inputs, output):
    q, k, v, key_lengths, key_padding_mask, causal, scale, dropout_p, rng = inputs
    out, lse = output
    ctx.save_for_backward(q, k, v, out, lse, key_lengths, key_padding_mask, rng)
    ctx.causal, ctx.scale, ctx.dropout_p = causal, scale, dropout_p


def _gradients(ctx, dout, kernel):
    """(dq, dk, dv, None × 6) from what :func:`_setup_context` saved, by ``kernel`` (the
    registered backward op, or its body on the eager path)."""
    q, k, v, out, lse, key_lengths, key_padding_mask, rng = ctx.saved_tensors
    if dout.stride(-1) != 1:
        dout = dout.contiguous()
    dq, dk, dv = kernel(dout, q, k, v, out, lse, key_lengths, key_padding_mask, ctx.causal, ctx.scale,
                        ctx.dropout_p, rng)
    return dq, dk, dv, None, None, None, None, None, None


def _backward(ctx, dout, dlse):
    return _gradients(ctx, dout, attention_bwd)


attention_fwd.register_autograd(_backward, setup_context=_setup_context)


class _EagerAttention(torch.autograd.Function):
    """The same forward and backward as the registered op, without the dispatcher.

    A call through ``torch.library.custom_op`` costs about 80 µs of Python dispatch on top of the
    kernel (measured against a direct call of the same kernel), which dominates short sequences:
    one decoding step of a KV-cache generation calls attention once per layer. Plain eager calls
    take this path; tracing (``torch.compile``, fake tensors, tensor subclasses, dispatch modes)
    takes the registered op, which is what :func:`_traced` decides.
    """

    @staticmethod
    def forward(ctx, q, k, v, key_lengths, key_padding_mask, causal, scale, dropout_p, rng):
        out, lse = _forward(q, k, v, key_lengths, key_padding_mask, causal, scale, dropout_p, rng)
        ctx.mark_non_differentiable(lse)
        _setup_context(ctx, (q, k, v, key_lengths, key_padding_mask, causal, scale, dropout_p, rng), (out, lse))
        return out, lse

    @staticmethod
    def backward(ctx, dout, dlse):
        return _gradients(ctx, dout, _backward_kernel)


# The private hooks _traced reads (present in every torch this package supports; if a future
# torch drops one, every call takes the registered op, which is always correct).
_EAGER_HOOKS = all(hasattr(m, n) for m, n in ((torch._C, "_is_torch_function_mode_enabled"),
                                             (torch._C, "_len_torch_dispatch_stack"),
                                             (getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor")))


def _traced(*tensors: Optional[Tensor]) -> bool:
    """True when the call must go through the registered op: under ``torch.compile``, with a
    torch-function or dispatch mode active (fake tensors, ``make_fx``, ``FlopCounterMode``), or
    with a tensor that is not a plain ``torch.Tensor`` (subclasses, functorch wrappers)."""
    if not _EAGER_HOOKS or torch.compiler.is_compiling() or torch._C._is_torch_function_mode_enabled() \
            or torch._C._len_torch_dispatch_stack() > 0:
        return True
    for x in tensors:
        if x is not None and (type(x) is not Tensor or torch._C._functorch.is_functorch_wrapped_tensor(x)):
            return True
    return False


def attention(q: Tensor, k: Tensor, v: Tensor, *, causal: bool = False, key_padding_mask: Optional[Tensor] = None,
              lengths: Optional[Tensor] = None, dropout_p: float = 0.0, scale: Optional[float] = None,
              layout: str = "bthd", dropout_seed: Optional[int] = None) -> Tensor:
    check_layout(layout)
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"attention: '{name}' must be a torch.Tensor, got {type(x).__name__}")
    if layout == "bhtd":
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    B, Tq, Tk, H, D = check_shapes(tuple(q.shape), tuple(k.shape), tuple(v.shape))
    for name, x in (("k", k), ("v", v)):
        if x.dtype != q.dtype:
            raise TypeError(f"attention: '{name}' has dtype {x.dtype} but 'q' has {q.dtype}; they must match")
        if x.device != q.device:
            raise ValueError(f"attention: '{name}' is on {x.device} but 'q' is on {q.device}; they must match")
    dev = q.device
    if dev.type == "cpu":
        if q.dtype not in (torch.float32, torch.float64):
            raise TypeError(f"attention: the CPU kernel takes float32 or float64 tensors, got q of dtype {q.dtype}")
    elif dev.type == "cuda":
        if q.dtype not in _CUDA_DTYPES:
            raise TypeError(f"attention: the CUDA kernel takes float32, float16 or bfloat16, got q of dtype {q.dtype}")
        if D > 256:
            raise ValueError(f"attention: the CUDA kernel supports head dims up to 256, got D={D}")
    else:
        raise ValueError(f"attention: tensors on {dev} are not supported (CPU or CUDA)")
    p, s = check_scalars(dropout_p, scale, D)
    q, k, v = (x if x.stride(-1) == 1 or D == 1 else x.contiguous() for x in (q, k, v))
    if lengths is not None:
        if not isinstance(lengths, torch.Tensor) or lengths.dim() != 1 or lengths.shape[0] != B \
                or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise ValueError(f"attention: 'lengths' must be an integer tensor of shape (B,) = ({B},), got "
                             f"{getattr(lengths, 'shape', type(lengths).__name__)}")
        # Values outside [0, Tk] raise in the CPU kernel (no data-dependent check here, so the op
        # stays traceable) and are clamped by the CUDA kernel.
        lengths = lengths.to(device=dev, dtype=torch.int64).contiguous()
    if key_padding_mask is not None:
        if not isinstance(key_padding_mask, torch.Tensor) or key_padding_mask.dtype != torch.bool:
            raise TypeError("attention: 'key_padding_mask' must be a bool tensor (B, Tk), True = padded key")
        if tuple(key_padding_mask.shape) != (B, Tk):
            raise ValueError(f"attention: 'key_padding_mask' must have shape (B, Tk) = ({B}, {Tk}), got "
                             f"{tuple(key_padding_mask.shape)}")
        key_padding_mask = key_padding_mask.to(dev)
        if key_padding_mask.stride(1) != 1:
            key_padding_mask = key_padding_mask.contiguous()
    rng = None
    if p > 0.0:
        if dropout_seed is not None:
            rng = torch.tensor([int(dropout_seed) & (2**63 - 1), 0], dtype=torch.int64)
        else:
            rng = torch.randint(0, 2**62, (2,), dtype=torch.int64)
            rng[1] = 0
    args = (q, k, v, lengths, key_padding_mask, bool(causal), s, p, rng)
    if _traced(q, k, v, lengths, key_padding_mask):
        out, _ = attention_fwd(*args)
    elif torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad):
        out, _ = _EagerAttention.apply(*args)
    else:
        out, _ = _forward(*args)
    return out.transpose(1, 2) if layout == "bhtd" else out
