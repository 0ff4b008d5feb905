"""Features from a BERT encoder: choose hidden layers, pool them into one vector per text.

BERT's feature-based approach (Devlin et al. 2019, §5.3): instead of fine-tuning, read the
encoder's hidden states and feed them to another model. The paper compares layer choices on
CoNLL NER; concatenating the last four layers came closest to fine-tuning, summing them next.
Sentence embeddings average the last layer over the real tokens (Reimers & Gurevych 2019,
Sentence-BERT), or take [CLS].

    layers   "last"            hidden_states[-1]                      (B, T, C)
             "second_to_last"  hidden_states[-2]                      (B, T, C)
             "sum_last_4"      Σ hidden_states[-4:]                   (B, T, C)
             "concat_last_4"   hidden_states[-4], ..., [-1] on C      (B, T, 4C)
             "embeddings"      hidden_states[0] (before any attention) (B, T, C)
             "all"             every entry stacked                    (B, T, L+1, C)
             "scalar_mix"      γ · Σ_j softmax(w)_j · hidden_states[j]  (B, T, C)
                               ELMo's learned mixture (Peters et al. 2018): pass ``mix=`` a
                               :class:`ScalarMix` (trained with a task head by fine-tuning with
                               ``layers="scalar_mix"``, or built from chosen weights)
             [i, j, ...]       those entries concatenated on C, in the order given; 0 = the
                               embeddings, 1..L the layers, negative counts from the end
    pooling  "cls"             position 0 ([CLS]; rows are padded on the right)
             "mean"            average over the real tokens (attention mask 1), padding ignored
             "none"            every real token

Here L is the number of layers, so ``hidden_states`` has L + 1 entries, the embeddings' output
first. The named strategies address layers and need a model with that many (at least 4 for the
``_last_4`` ones); index lists address ``hidden_states`` freely.

:func:`combine_layers` and :func:`pool` are the torch-level pieces (differentiable; fine-tuning
uses them); :func:`extract` runs a model over texts or a tokenized batch and returns numpy.
Texts go through the encoder in batches of similar length, so the result does not depend on the
batching: the fused attention skips padded keys, and pooling reads real tokens only. Texts are
tokenized in one native batch call, ``tokenizer(texts)``, and those longer than ``max_length``
are cut by the tokenizer's own truncation (``[CLS]`` + the first pieces + ``[SEP]`` for BERT, as
``tokenizer(texts, truncation=True, max_length=max_length)`` gives them); a
:class:`TruncationWarning` says how many.

Left out on purpose: max pooling, text pairs (one segment per text), left-padded batches for
"cls".
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional, Union

import numpy as np

from ._optional import require_torch
from .tokenizers.base import Tokenizer, check_tokenizer

torch = require_torch("fastembed.features")

from torch import Tensor  # noqa: E402

LAYER_STRATEGIES = ("last", "second_to_last", "sum_last_4", "concat_last_4", "embeddings", "all", "scalar_mix")
POOLINGS = ("cls", "mean", "none")

Layers = Union[str, Sequence[int]]


class TruncationWarning(UserWarning):
    """Some texts were longer than ``max_length`` tokens and were cut to it."""


# --------------------------------------------------------------------------- layers and pooling


def _describe(num_layers: int) -> str:
    return (f"the model has {num_layers} layer{'s' if num_layers != 1 else ''}, so hidden_states has "
            f"{num_layers + 1} entries (0 = embeddings, 1..{num_layers} = layers; negative counts from the end)")


def _named(layers: Layers, name: str) -> bool:
    return isinstance(layers, str) and layers == name


def layer_indices(layers: Layers, num_layers: int) -> list[int]:
    """The ``hidden_states`` entries (0..num_layers) that ``layers`` reads, in order; ValueError
    for an unknown name, an index out of range, or too few layers for the name."""
    n = num_layers + 1
    if isinstance(layers, str):
        if layers not in LAYER_STRATEGIES:
            raise ValueError(f"unknown layers {layers!r}; expected one of {LAYER_STRATEGIES} or a list of "
                             "hidden_states indices")
        if layers in ("all", "scalar_mix"):
            return list(range(n))
        if layers == "embeddings":
            return [0]
        k = {"last": 1, "second_to_last": 2}.get(layers, 4)
        if num_layers < k:
            raise ValueError(f"layers={layers!r} needs a model with at least {k} layers; {_describe(num_layers)}")
        return [n - 1] if layers == "last" else [n - 2] if layers == "second_to_last" else list(range(n - 4, n))
    if not isinstance(layers, Iterable):
        raise TypeError(f"layers must be a name {LAYER_STRATEGIES} or a list of ints, got {type(layers).__name__}")
    out = []
    for i in layers:
        if isinstance(i, (bool, np.bool_)):
            raise TypeError(f"layers must hold ints, got {i!r}")
        try:
            i = operator.index(i)
        except TypeError:
            raise TypeError(f"layers must hold ints, got {type(i).__name__} {i!r}") from None
        if not -n <= i < n:
            raise ValueError(f"layer index {i} is out of range: {_describe(num_layers)}")
        out.append(i % n)
    if not out:
        raise ValueError("layers is an empty list; give at least one hidden_states index")
    return out


class ScalarMix(torch.nn.Module):
    """ELMo's scalar mix (Peters et al. 2018, eq. 1): γ · Σ_j s_j · h_j with s = softmax(w), over
    the L + 1 entries of ``hidden_states``. ``w`` starts at zero (an even average) and ``γ`` at 1;
    both are learned with a task head (:class:`fastembed.finetune.FineTuneModel` with
    ``layers="scalar_mix"``). :meth:`from_weights` fixes chosen weights instead: one-hot weights
    read a single layer exactly.

    >>> mix = ScalarMix.from_weights([0, 0, 1])                    # all of hidden_states[2]
    >>> h = [torch.full((1, 2, 3), float(i)) for i in range(3)]
    >>> mix(h)[0, 0].tolist()
    [2.0, 2.0, 2.0]
    """

    def __init__(self, num_entries: int, *, gamma: float = 1.0) -> None:
        super().__init__()
        num_entries = _positive_int(num_entries, "num_entries")
        self.scalars = torch.nn.Parameter(torch.zeros(num_entries))
        self.gamma = torch.nn.Parameter(torch.tensor(float(gamma)))

    @classmethod
    def from_weights(cls, weights: Sequence[float], gamma: float = 1.0) -> "ScalarMix":
        """A mix whose softmax gives exactly ``weights`` (non-negative, summing to 1; a zero weight
        becomes a logit of -inf, so that entry contributes nothing)."""
        w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
        if w.dim() != 1 or w.numel() == 0 or bool((w < 0).any()) or abs(float(w.sum()) - 1.0) > 1e-6:
            raise ValueError(f"weights must be a non-empty list of non-negative numbers summing to 1, got {weights!r}")
        mix = cls(w.numel(), gamma=gamma)
        with torch.no_grad():
            mix.scalars.copy_(torch.log(w).float())
        return mix

    @property
    def weights(self) -> Tensor:
        """The normalised layer weights softmax(w), (L + 1,)."""
        return torch.softmax(self.scalars, 0)

    def forward(self, hidden_states: Union[Sequence[Tensor], Tensor]) -> Tensor:
        """Mix L + 1 tensors (B, T, C) (or one stacked (B, T, L+1, C)) into (B, T, C)."""
        n = self.scalars.numel()
        if isinstance(hidden_states, Tensor):
            stacked = hidden_states
            if stacked.dim() < 2 or stacked.shape[-2] != n:
                raise ValueError(f"a stacked input must be (..., {n}, C) for a mix of {n} entries, got "
                                 f"{tuple(stacked.shape)}")
            w = self.weights.to(stacked.dtype)
            return self.gamma.to(stacked.dtype) * torch.einsum("...lc,l->...c", stacked, w)
        if len(hidden_states) != n:
            raise ValueError(f"this mix has {n} weights but got {len(hidden_states)} hidden states "
                             "(the model's layers + 1 for the embeddings)")
        w = self.weights.to(hidden_states[0].dtype)
        out = w[0] * hidden_states[0]
        for j in range(1, n):
            out = out + w[j] * hidden_states[j]
        return self.gamma.to(out.dtype) * out

    def extra_repr(self) -> str:
        return f"num_entries={self.scalars.numel()}"


def _check_mix(layers: Layers, mix: Optional[ScalarMix], num_layers: int) -> None:
    """``mix`` goes with ``layers="scalar_mix"`` and nothing else, with one weight per entry."""
    if (mix is not None) != _named(layers, "scalar_mix"):
        raise ValueError("layers='scalar_mix' needs mix=ScalarMix(...), and mix= goes with layers='scalar_mix' only")
    if mix is not None and mix.scalars.numel() != num_layers + 1:
        raise ValueError(f"mix has {mix.scalars.numel()} weights; {_describe(num_layers)}")


def feature_width(layers: Layers, hidden_size: int, num_layers: int) -> int:
    """The last-axis width of :func:`combine_layers`' output (per entry for "all")."""
    k = len(layer_indices(layers, num_layers))
    return hidden_size if isinstance(layers, str) and layers in ("sum_last_4", "all", "scalar_mix") else k * hidden_size


def combine_layers(hidden_states: Sequence[Tensor], layers: Layers = "last", mix: Optional[ScalarMix] = None) -> Tensor:
    """One feature tensor from ``hidden_states`` (the L + 1 tensors (B, T, C) that a model gives
    with ``output_hidden_states=True``, embeddings first); shapes in the module docstring:
    (B, T, C), (B, T, kC) for k concatenated entries, (B, T, L+1, C) for "all". ``mix`` is the
    :class:`ScalarMix` that ``layers="scalar_mix"`` needs (and nothing else takes).

    >>> h = [torch.full((1, 2, 3), float(i)) for i in range(5)]   # embeddings + 4 layers
    >>> combine_layers(h, "sum_last_4")[0, 0].tolist()
    [10.0, 10.0, 10.0]
    >>> combine_layers(h, [0, -1]).shape
    torch.Size([1, 2, 6])
    """
    idx = layer_indices(layers, len(hidden_states) - 1)
    _check_mix(layers, mix, len(hidden_states) - 1)
    if mix is not None:
        return mix(hidden_states)
    if _named(layers, "all"):
        return torch.stack(tuple(hidden_states), dim=2)
    if _named(layers, "sum_last_4"):
        a, b, c, d = (hidden_states[i] for i in idx)
        return a + b + c + d
    if len(idx) == 1:
        return hidden_states[idx[0]]
    return torch.cat([hidden_states[i] for i in idx], dim=-1)


def pool(h: Tensor, attention_mask: Optional[Tensor] = None, pooling: str = "mean") -> Tensor:
    """Pool features h (B, T, ...) over the token axis: "cls" -> h[:, 0], "mean" -> the average
    over positions where ``attention_mask`` (B, T) is non-zero (a row without any gives zeros;
    no mask = every position is real), "none" -> h unchanged.

    >>> h = torch.tensor([[[1.0], [3.0], [100.0]]])               # the last position is padding
    >>> pool(h, torch.tensor([[1, 1, 0]]), "mean").tolist()
    [[2.0]]
    """
    if pooling == "cls":
        return h[:, 0]
    if pooling == "none":
        return h
    if pooling != "mean":
        raise ValueError(f"unknown pooling {pooling!r}; expected one of {POOLINGS}")
    if attention_mask is None:
        return h.mean(1)
    if attention_mask.shape != h.shape[:2]:
        raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}; expected {tuple(h.shape[:2])} "
                         "(the first two axes of h)")
    m = (attention_mask != 0).to(h.dtype).reshape(*attention_mask.shape, *([1] * (h.dim() - 2)))
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)


# --------------------------------------------------------------------------- texts to batches


def check_texts(texts: Any) -> list[str]:
    """``texts`` as a list of str; TypeError for a bare string, bytes or a non-str item."""
    if isinstance(texts, (str, bytes)):
        raise TypeError(f"texts must be a list of str, got a single {type(texts).__name__}; wrap it in a list")
    if not isinstance(texts, Iterable):
        raise TypeError(f"texts must be a list of str, got {type(texts).__name__}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}, not str")
    return texts


def tokenize_texts(tokenizer: Tokenizer, texts: Sequence[str], max_length: int) -> tuple[list[np.ndarray], np.ndarray]:
    """(int64 ids of each text with the tokenizer's special tokens, at most ``max_length`` of
    them; each text's token count before truncation). The rows are those of
    ``tokenizer(texts, truncation=True, max_length=max_length)``: one native call for the batch,
    and a second one for the texts that were too long (for BERT, a cut text keeps its first
    ``max_length - 2`` pieces and still ends with [SEP])."""
    ids = tokenizer(texts)["input_ids"] if texts else []
    counts = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
    cut = np.flatnonzero(counts > max_length)
    if len(cut):
        rows = tokenizer([texts[i] for i in cut], truncation=True, max_length=max_length)["input_ids"]
        for i, row in zip(cut, rows):
            ids[i] = row
    return ids, counts


def warn_truncated(truncated: np.ndarray, n: int, max_length: int, where: str, stacklevel: int) -> None:
    """The once-per-call :class:`TruncationWarning`; ``where`` says where the indices are kept."""
    if len(truncated) == 0:
        return
    shown = ", ".join(str(int(i)) for i in truncated[:5]) + (", ..." if len(truncated) > 5 else "")
    warnings.warn(f"{len(truncated)} of {n} texts were longer than max_length={max_length} tokens and were "
                  f"truncated to it (indices {shown}; all of them: {where})", TruncationWarning,
                  stacklevel=stacklevel + 1)


def length_buckets(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Indices in batches of ``batch_size`` of similar length, longest first (stable), so that a
    batch pads only to its own longest text; every index appears once."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[s:s + batch_size] for s in range(0, len(order), batch_size)]


def pad_batch(ids: Sequence[np.ndarray], pad_id: Optional[int]) -> tuple[Tensor, Tensor, bool]:
    """(input_ids (B, T) int64, attention_mask (B, T) int64, whether any row is padded) for id
    arrays of different lengths, padded on the right to the longest with ``pad_id`` (None: 0;
    padding is masked, so any id in the vocabulary does)."""
    pad_id = 0 if pad_id is None else pad_id
    lens = np.fromiter((len(a) for a in ids), dtype=np.int64, count=len(ids))
    T = int(lens.max())
    x = np.full((len(ids), T), pad_id, dtype=np.int64)
    for r, a in enumerate(ids):
        x[r, :len(a)] = a
    mask = (np.arange(T)[None, :] < lens[:, None]).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(mask), bool((lens < T).any())


# --------------------------------------------------------------------------- extract


def _positive_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


def _encoder(model: Any) -> Any:
    """The BertModel inside ``model`` (a BertForPreTraining's ``.bert``; its heads are not needed),
    or an ELMo biLM itself (its L + 1 layers, 2 × embed_size wide, are the hidden states)."""
    from .models import BertForPreTraining, BertModel, ELMo

    if isinstance(model, BertForPreTraining):
        return model.bert
    if not isinstance(model, (BertModel, ELMo)):
        raise TypeError(f"model must be a fastembed BertModel (or BertForPreTraining) or ELMo, got {type(model).__name__}")
    return model


def _to_numpy(x: Tensor) -> np.ndarray:
    x = x.detach()
    return (x if x.dtype == torch.float64 else x.float()).cpu().numpy()


def _batch_tensor(batch: Mapping[str, Any], key: str, device: Any) -> Optional[Tensor]:
    v = batch.get(key)
    if v is None:
        return None
    return torch.as_tensor(v if isinstance(v, Tensor) else np.asarray(v)).to(device=device, dtype=torch.int64)


def _split_batch(batch: Mapping[str, Any], batch_size: int, device: Any) -> tuple[list[tuple], np.ndarray]:
    """A tokenized batch as (input_ids, attention_mask, token_type_ids, padded) pieces of
    ``batch_size`` rows, in order."""
    x = _batch_tensor(batch, "input_ids", device)
    if x is None:
        raise ValueError("the batch has no 'input_ids'")
    if x.dim() != 2:
        raise ValueError(f"input_ids must have shape (batch, length), got {tuple(x.shape)}")
    mask = _batch_tensor(batch, "attention_mask", device)
    mask = torch.ones_like(x) if mask is None else mask
    types = _batch_tensor(batch, "token_type_ids", device)
    pieces = []
    for s in range(0, x.shape[0], batch_size):
        sl = slice(s, s + batch_size)
        pieces.append((x[sl], mask[sl], None if types is None else types[sl], bool((mask[sl] == 0).any())))
    return pieces, np.arange(x.shape[0])


def _split_texts(texts: Any, tokenizer: Tokenizer, max_length: int, batch_size: int,
                 device: Any) -> tuple[Iterable[tuple], np.ndarray]:
    """Texts as (input_ids, attention_mask, None, padded) buckets of similar length, padded one
    at a time as they are used, and the input index of each row of the buckets end to end."""
    texts = check_texts(texts)
    ids, counts = tokenize_texts(tokenizer, texts, max_length)
    warn_truncated(np.flatnonzero(counts > max_length), len(texts), max_length,
                   "compare each text's token count with max_length", stacklevel=3)
    buckets = length_buckets(np.minimum(counts, max_length), batch_size)

    def piece(chunk: np.ndarray) -> tuple:
        x, mask, padded = pad_batch([ids[i] for i in chunk], tokenizer.pad_token_id)
        return x.to(device), mask.to(device), None, padded

    return map(piece, buckets), np.concatenate(buckets) if buckets else np.zeros(0, np.int64)


def extract(model: Any, texts_or_batch: Any, *, tokenizer: Optional[Tokenizer] = None, layers: Layers = "last",
            pooling: str = "cls", max_length: Optional[int] = None, batch_size: int = 32,
            mix: Optional[ScalarMix] = None) -> Any:
    """Features of texts (a list of str, with ``tokenizer``) or of a tokenized batch (a mapping
    with ``input_ids`` (B, T) and optionally ``attention_mask`` and ``token_type_ids``, numpy or
    torch, padded on the right).

    Returns numpy (float32; float64 for a float64 model): (N, C) pooled, (N, kC) for k
    concatenated entries, (N, L+1, C) for ``layers="all"``; with ``pooling="none"`` a list of N
    arrays (T_i, ...) holding each text's real tokens only. ``max_length`` (texts only; default
    the model's ``max_position``) truncates longer texts with a :class:`TruncationWarning`. The
    model runs in eval mode under ``torch.inference_mode`` and is put back in its mode after.
    ``layers="scalar_mix"`` needs ``mix`` (a :class:`ScalarMix` of L + 1 entries).
    """
    enc = _encoder(model)
    cfg = enc.config
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; expected one of {POOLINGS}")
    k = len(layer_indices(layers, cfg.num_layers))                 # fails before any work
    _check_mix(layers, mix, cfg.num_layers)
    batch_size = _positive_int(batch_size, "batch_size")
    param = next(enc.parameters())
    if isinstance(texts_or_batch, Mapping):
        if max_length is not None:
            raise ValueError("max_length applies to texts; a tokenized batch is used as it is")
        pieces, order = _split_batch(texts_or_batch, batch_size, param.device)
    else:
        if tokenizer is None:
            raise ValueError("texts need a tokenizer=... (e.g. fastembed.models.hf.load_wordpiece(model_dir)); "
                             "or pass a tokenized batch (a dict with input_ids)")
        check_tokenizer(tokenizer, "extract")
        limit = cfg.max_position if max_length is None else _positive_int(max_length, "max_length")
        if not 2 <= limit <= cfg.max_position:
            raise ValueError(f"max_length must be in [2, {cfg.max_position}] (the model's max_position), got {limit}")
        pieces, order = _split_texts(texts_or_batch, tokenizer, limit, batch_size, param.device)

    want_states = not _named(layers, "last")
    results = []
    was_training = enc.training
    enc.eval()
    try:
        with torch.inference_mode():
            for x, mask, types, padded in pieces:
                out = enc(x, token_type_ids=types, attention_mask=mask if padded else None,
                          output_hidden_states=want_states)
                h = combine_layers(out.hidden_states, layers, mix) if want_states else out.last_hidden_state
                results.append((pool(h, mask, pooling), mask))
    finally:
        enc.train(was_training)
    if pooling == "none":
        return _per_text(results, order)
    if not results:                                                # no texts: empty, of the right width
        C = feature_width(layers, getattr(enc, "feature_size", cfg.hidden_size), cfg.num_layers)
        trailing = (k, C) if _named(layers, "all") else (C,)
        return np.zeros((0, *trailing), np.float64 if param.dtype == torch.float64 else np.float32)
    pooled = np.concatenate([_to_numpy(v) for v, _ in results])
    out_arr = np.empty_like(pooled)
    out_arr[order] = pooled
    return out_arr


def _per_text(results: list[tuple[Tensor, Tensor]], order: np.ndarray) -> list[np.ndarray]:
    """Unpooled (b, T, ...) outputs as one (T_i, ...) array of real tokens per text, in input order."""
    rows: list[np.ndarray] = []
    for h, mask in results:
        keep = (mask != 0).cpu().numpy()
        hn = _to_numpy(h)
        rows += [hn[r][keep[r]] for r in range(hn.shape[0])]
    out: list[Any] = [None] * len(rows)
    for pos, i in enumerate(order):
        out[int(i)] = rows[pos]
    return out
