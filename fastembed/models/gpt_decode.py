"""A lean GPT forward pass for generation: a preallocated KV cache and few ops per token.

:meth:`GPT.forward` serves training and scoring; a decoding step needs much less of it and
pays for what it does not need on every token: each layer's cache grows by a ``torch.cat``
(a copy of everything cached so far), the masks and positions are rebuilt from the whole
attention mask, and the projections read ``nn.Linear``'s (out, in) weights. :class:`KVDecoder`
computes the same function for inference only:

* each layer's keys and values go into a (B, H, max_length, D) buffer allocated once, written in
  place; attention reads the filled prefix. On the CPU a one-token step is a few native calls per
  layer (:meth:`KVDecoder._native_step`): the append and the attention in one
  (:func:`fastembed.ops.decode.decode_attention`), and for fp32 the bias, the tanh GELU and the
  residual adds in the epilogues of the panel products below;
* the key padding mask is one (B, max_length) buffer and the positions one (B,) counter, updated
  in place by each call;
* on the CPU the fp32 projections are :func:`fastembed.ops.panel.panel_linear`: each weight
  packed once into column panels that stream from memory, all rows of the step summed against a
  panel in registers (``csrc/nn/panel_linear.h``). At a decoding step's one to sixteen rows a
  product is bound by reading its weights; MKL's sgemm (``addmm`` with GPT-2's (in, out) layout)
  read them at about half the memory bandwidth at batch 8 (25 ms against 39 for GPT-2's matrices
  at batch 8, 2 threads of a Sapphire Rapids Xeon; they tie at batch 1). Elsewhere (a GPU) they
  are ``addmm(bias, x, W)`` with the weights stored (in, out);
* the residual adds happen in place on the residual stream.

The decoder's copies of the weights are made once per model and precision and kept until a
parameter changes (:func:`decode_weights`): for fp32 that is one more copy of the model's
matrices in memory (about 500 MB for GPT-2 124M), the price of the faster layout.

**Precision.** ``"fp32"`` computes what :meth:`GPT.forward` computes, its sums in another
order (same tokens as transformers' greedy ``generate``, up to the rounding of near ties).
``"bf16"`` stores the matrices in bfloat16 (half the bytes to stream per token, which is what
bounds decoding at small batches) and runs the products in bfloat16 on bfloat16 inputs;
LayerNorm, the residual stream,
the KV cache, attention and the logits' argmax / softmax stay float32. Its greedy tokens differ
from fp32's once two candidates are closer than bfloat16's rounding (8 bits of mantissa).
The weights keep (out, in) there, since PyTorch's bfloat16 products are faster in that layout.
``"int8"`` runs the four products of every layer as :class:`fastembed.models.precision.Int8Linear`
does for the Embedder: int8 weights with one scale per output channel (the QKV and FFN-up inputs
smoothed first, SmoothQuant), each token's activation quantized with its own scale, int32 sums
by oneDNN, the scales and the bias applied in one native pass. The tied output layer too (one
scale per vocabulary row): at GPT-2's size it is a third of the weights, and kept in float32 it
held batch-1 decoding at 15.2 ms a token against 10.7 with it in int8 (Sapphire Rapids, 2
threads; fp32: 21.2). LayerNorm, the residual stream, the KV cache, attention and the logits'
argmax / softmax stay float32. A quarter of the bytes per token; greedy tokens drift from fp32's
sooner than bf16's do (int8 keeps about 7 bits per value).

Not used for training, ``output_hidden_states`` or dropout: generation only, in eval mode under
``torch.inference_mode()``.
"""

from __future__ import annotations

import weakref
from typing import Any, NamedTuple, Optional

import torch
import torch.nn.functional as F

from ..ops import epilogue
from ..ops._reference import visible_mask
from .._native import _C
from ..ops.panel import pack_panels

PRECISIONS = ("fp32", "bf16", "int8")

__all__ = ["KVDecoder", "PRECISIONS", "decode_weights"]


class _Linear(NamedTuple):
    """One projection as the decoder stores it, by ``layout``:

    * "panels" (fp32 on the CPU): ``weight`` packed by :func:`fastembed.ops.panel.pack_panels`,
      ``bias`` float32 (out,), both as numpy arrays (views of the tensors) handed to the native
      kernel as they are: the checks of :func:`~fastembed.ops.panel.panel_linear` cost about 10 µs
      a call, 0.5 ms of a GPT-2 step;
    * "in_out" (fp32 elsewhere): ``weight`` (in, out) for ``addmm``, ``bias`` (out,);
    * "out_in" (bf16): ``weight`` (out, in) for ``F.linear``, ``bias`` (out,), both bfloat16;
    * "int8": ``weight`` an :class:`~fastembed.models.precision.Int8Linear` (it holds the codes and
      scales), ``bias`` float32.

    ``bias`` is None for the tied output layer, which has none.
    """

    weight: Any
    bias: Optional[torch.Tensor]
    layout: str
    out_features: int


class _Layer(NamedTuple):
    ln1: tuple[torch.Tensor, torch.Tensor]
    qkv: _Linear
    out: _Linear
    ln2: tuple[torch.Tensor, torch.Tensor]
    up: _Linear
    down: _Linear


class _Weights(NamedTuple):
    key: tuple                       # (data_ptr, version) of every parameter they were made from
    layers: list[_Layer]
    ln_f: tuple[torch.Tensor, torch.Tensor]
    head: _Linear                    # the tied LM head: the token embedding, no bias (None)
    dtype: torch.dtype               # of the products' inputs


_CACHE: "weakref.WeakKeyDictionary[Any, dict[str, _Weights]]" = weakref.WeakKeyDictionary()


def _params_key(model: Any) -> tuple:
    return tuple((p.data_ptr(), p._version) for p in model.parameters())


def decode_weights(model: Any, precision: str) -> _Weights:
    """The decoder's copies of ``model``'s weights for ``precision``, made on first use and kept
    (weakly, per model) until a parameter is replaced or changed in place (its version counter)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    key = _params_key(model)
    per_model = _CACHE.setdefault(model, {})
    w = per_model.get(precision)
    if w is None or w.key != key:
        per_model.pop(precision, None)                              # free the stale copy first
        w = per_model[precision] = _make_weights(model, precision, key)
    return w


def _make_weights(model: Any, precision: str, key: tuple) -> _Weights:
    dtype = torch.bfloat16 if precision == "bf16" else model.wte.weight.dtype
    on_cpu = model.wte.weight.device.type == "cpu"
    if precision == "int8":
        from .precision import Int8Linear, _input_amax

        amax = _input_amax(model)          # the QKV and FFN-up inputs' channel ranges (SmoothQuant)

    def linear(weight: torch.Tensor, bias: Optional[torch.Tensor], int8: Any = None) -> _Linear:
        out = weight.shape[0]
        if precision == "int8":
            return _Linear(int8, None if bias is None else bias.detach().float(), "int8", out)
        b = None if bias is None else bias.detach().to(dtype)
        if precision == "fp32" and on_cpu and dtype == torch.float32:
            return _Linear(pack_panels(weight).numpy(), None if b is None else b.contiguous().numpy(), "panels", out)
        if precision == "fp32":
            return _Linear(weight.detach().t().contiguous(), b, "in_out", out)
        return _Linear(weight.detach().to(dtype).contiguous(), b, "out_in", out)

    def layer_linear(m: torch.nn.Linear) -> _Linear:
        return linear(m.weight, m.bias, Int8Linear(m, amax.get(m)) if precision == "int8" else None)

    def ln(m: torch.nn.LayerNorm) -> tuple[torch.Tensor, torch.Tensor]:
        return m.weight.detach(), m.bias.detach()

    with torch.no_grad():
        layers = [_Layer(ln(b.ln1), layer_linear(b.attn.qkv), layer_linear(b.attn.out), ln(b.ln2),
                         layer_linear(b.up), layer_linear(b.down))
                  for b in model.blocks]
        e = model.wte.weight.detach()      # the tied output layer: the embedding matrix, no bias
        int8_head = None
        if precision == "int8":
            tied = torch.nn.Linear(e.shape[1], e.shape[0], bias=False, device="meta")
            tied.weight = torch.nn.Parameter(e, requires_grad=False)
            int8_head = Int8Linear(tied)
        head = linear(e, None, int8_head)
    return _Weights(key, layers, ln(model.ln_f), head, dtype)


def _project(x: torch.Tensor, lin: _Linear) -> torch.Tensor:
    """(M, in) -> (M, out) = x·W + b, in the product's dtype."""
    if lin.layout == "panels":
        y = torch.empty((x.shape[0], lin.out_features), dtype=torch.float32)
        _C.panel_linear(x.contiguous().numpy(), lin.weight, lin.bias, y.numpy())
        return y
    if lin.layout == "in_out":
        return torch.mm(x, lin.weight) if lin.bias is None else torch.addmm(lin.bias, x, lin.weight)
    if lin.layout == "out_in":
        return F.linear(x, lin.weight, lin.bias)
    y, row_scale = lin.weight.mm_parts(x)                  # int8: sums · weight scales, token scales apart
    if lin.bias is None:
        return y.mul_(row_scale)
    if epilogue.usable(y):
        return epilogue.bias_(y, lin.bias, row_scale)      # one pass: y · row_scale + bias
    return y.mul_(row_scale).add_(lin.bias)


class KVDecoder:
    """One generation's forward passes over a GPT: :meth:`__call__` feeds the next tokens of every
    row and returns the logits of the last one, keeping the keys and values in a cache allocated
    for ``max_length`` positions.

    ``attn``: "fused" (:func:`fastembed.ops.attention`) or "sdpa" for every call. By default a
    call that feeds one token per row (a decoding step) runs natively on the CPU
    (:meth:`_native_step`; PyTorch's SDPA elsewhere), and a longer one (the prompt) the model's
    ``attn_impl`` ("reference" is taken as "fused": the decoder is not a test oracle). One query
    against the cache is bound by reading the cache; the fused kernel's tiles are sized for
    training's T × T and read it at about 40% of SDPA's rate (GPT-2 124M, batch 8, 97 cached
    positions: 541 µs a layer against 208; 2 threads, Sapphire Rapids).
    """

    def __init__(self, model: Any, batch: int, max_length: int, *, precision: str = "fp32",
                 attn: Optional[str] = None) -> None:
        cfg = model.config
        if not 0 < max_length <= cfg.max_position:
            raise ValueError(f"max_length must be in 1..{cfg.max_position} (the model's max_position), "
                             f"got {max_length}")
        self.model, self.cfg, self.precision = model, cfg, precision
        self.weights = decode_weights(model, precision)
        device = model.wte.weight.device
        act = model.wte.weight.dtype if precision == "fp32" else torch.float32
        H, C = cfg.num_heads, cfg.hidden_size
        D = C // H
        self.H, self.D, self.C, self.B, self.max_length = H, D, C, batch, max_length
        self.eps = cfg.layer_norm_eps
        self.scale = D ** -0.5
        self.attn = attn                                  # None: chosen per call (see above)
        self.prompt_attn = attn or ("sdpa" if cfg.attn_impl == "sdpa" else "fused")
        # (layers, B, H, max_length, D): each head's cached keys are one contiguous run
        self.k = torch.zeros((cfg.num_layers, batch, H, max_length, D), dtype=act, device=device)
        self.v = torch.zeros_like(self.k)
        self.padded = torch.ones((batch, max_length), dtype=torch.bool, device=device)   # True: not a real key
        self.count = torch.zeros(batch, dtype=torch.long, device=device)              # real tokens so far
        self.length = 0                                                               # positions filled
        # One-token steps on the CPU run natively (see _native_step): numpy views made once.
        self.native = attn is None and device.type == "cpu" and act == torch.float32
        if self.native:
            self._k_np = [self.k[i].numpy() for i in range(cfg.num_layers)]
            self._v_np = [self.v[i].numpy() for i in range(cfg.num_layers)]
            self._padded_np = self.padded.numpy()
            self._qkv = torch.empty((batch, 3 * C))
            self._y = torch.empty((batch, C))
            self._u = torch.empty((batch, self.weights.layers[0].up.out_features)) if cfg.num_layers else None

    @torch.no_grad()                       # inference only; the panel products take no autograd inputs
    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``ids`` (B, T) the next T tokens of each row, ``mask`` (B, T) 1 = a real token (0: left
        padding, or a finished row's filler) -> (B, V) float32 logits after the last of them.
        Positions count real tokens only, as in :meth:`GPT.forward` with an attention mask."""
        B, T = ids.shape
        n0, n = self.length, self.length + T
        if B != self.B or n > self.max_length:
            raise ValueError(f"the decoder holds {self.B} rows of up to {self.max_length} positions; feeding "
                             f"{tuple(ids.shape)} after {n0} would need {n}")
        real = mask.to(torch.bool)
        self.padded[:, n0:n] = ~real
        steps = real.long().cumsum(1)
        pos = (self.count[:, None] + steps - 1).clamp_min_(0)
        self.count += steps[:, -1]
        self.length = n
        w = self.weights
        model = self.model
        h = (model.wte.weight[ids] + model.wpe.weight[pos]).view(B * T, self.C)    # (M, C) residual stream
        if T == 1 and self.native:
            return self._native_step(h, n)
        attn = self.attn or ("sdpa" if T == 1 else self.prompt_attn)
        visible = None
        if attn == "sdpa":         # (B, 1, T, n): the keys each query sees; (B, 1, T, 1): queries that see none
            if T == 1 and h.device.type == "cpu" and not bool(self.padded[:, :n].any()):
                visible = (None, None)                             # every key visible: SDPA without a mask
            else:
                mask = visible_mask(B, T, n, causal=T > 1, key_padding_mask=self.padded[:, :n], device=h.device)
                visible = (mask, ~mask.any(-1)[..., None])
        for i, layer in enumerate(w.layers):
            x = F.layer_norm(h, (self.C,), layer.ln1[0], layer.ln1[1], self.eps)
            qkv = _project(x.to(w.dtype), layer.qkv).view(B, T, 3, self.H, self.D)
            k, v = self.k[i].transpose(1, 2), self.v[i].transpose(1, 2)      # (B, max_length, H, D) views
            k[:, n0:n] = qkv[:, :, 1]
            v[:, n0:n] = qkv[:, :, 2]
            y = self._attend(qkv[:, :, 0].to(k.dtype), k[:, :n], v[:, :n], T, visible)
            h += _project(y.reshape(B * T, self.C).to(w.dtype), layer.out).to(h.dtype)
            x = F.layer_norm(h, (self.C,), layer.ln2[0], layer.ln2[1], self.eps)
            u = torch._C._nn.gelu_(_project(x.to(w.dtype), layer.up), approximate="tanh")
            h += _project(u, layer.down).to(h.dtype)
        last = h.view(B, T, self.C)[:, -1]
        x = F.layer_norm(last, (self.C,), w.ln_f[0], w.ln_f[1], self.eps)
        return _project(x.to(w.dtype), w.head).float()

    def _native_step(self, h: torch.Tensor, n: int) -> torch.Tensor:
        """A one-token step (``h`` (B, C), the embeddings; ``n`` positions after it) in few native
        calls per layer, on buffers made once: the append to the cache and the attention in one
        (``csrc/attention/decode.h``), and for fp32 the bias, the tanh GELU and the residual adds in
        the panel products' epilogues (``csrc/nn/panel_linear.h``). Every call into PyTorch costs
        microseconds of dispatch; at GPT-2's sizes a step made of them spent about 3 ms of 32 (batch
        8) on GELU, residual adds, cache copies and views."""
        w, C, eps = self.weights, self.C, self.eps
        padded = self._padded_np if bool(self.padded[:, :n].any()) else None
        qkv, y, u = self._qkv, self._y, self._u
        qkv_np, y_np, h_np = qkv.numpy(), y.numpy(), h.numpy()
        u_np = u.numpy() if u is not None else None
        for i, layer in enumerate(w.layers):
            x = F.layer_norm(h, (C,), layer.ln1[0], layer.ln1[1], eps)
            if layer.qkv.layout == "panels":
                _C.panel_linear(x.numpy(), layer.qkv.weight, layer.qkv.bias, qkv_np, 0)
            else:
                qkv.copy_(_project(x.to(w.dtype), layer.qkv))
            _C.decode_attention(qkv_np, self._k_np[i], self._v_np[i], n, padded, self.scale, y_np)
            if layer.out.layout == "panels":                                  # h += y·W + b
                _C.panel_linear(y_np, layer.out.weight, layer.out.bias, h_np, 1)
                x = F.layer_norm(h, (C,), layer.ln2[0], layer.ln2[1], eps)
                _C.panel_linear(x.numpy(), layer.up.weight, layer.up.bias, u_np, 2)     # u = GELU(x·W + b)
                _C.panel_linear(u_np, layer.down.weight, layer.down.bias, h_np, 1)       # h += u·W + b
            else:
                h += _project(y.to(w.dtype), layer.out).to(h.dtype)
                x = F.layer_norm(h, (C,), layer.ln2[0], layer.ln2[1], eps)
                up = torch._C._nn.gelu_(_project(x.to(w.dtype), layer.up), approximate="tanh")
                h += _project(up, layer.down).to(h.dtype)
        x = F.layer_norm(h, (C,), w.ln_f[0], w.ln_f[1], eps)
        return _project(x.to(w.dtype), w.head).float()

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, T: int,
                visible: Optional[tuple[Optional[torch.Tensor], Optional[torch.Tensor]]]) -> torch.Tensor:
        """(B, T, H, D) queries over the (B, n, H, D) cached prefix -> (B, T, H, D); the new
        queries are the last T positions (causal, bottom-right aligned). ``visible``: SDPA's mask
        and the queries that see no key (their output is zeros, as the fused kernel gives), both
        None when every key is visible; None for the fused kernel."""
        if visible is not None:
            mask, blind = visible
            y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                               attn_mask=mask, dropout_p=0.0, scale=self.scale)
            return (y if blind is None else y.masked_fill_(blind, 0.0)).transpose(1, 2)
        from ..ops._torch import _forward      # the kernel itself: the checks of ops.attention cost ~30 µs a call

        out, _ = _forward(q, k, v, None, self.padded[:, :k.shape[1]], T > 1, self.scale, 0.0, None)
        return out
