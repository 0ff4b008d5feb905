"""Look inside a trained transformer: its attention maps, and the contextual vector of a word.

    attention_maps(model, input_ids)              (L, B, H, T, T)   every layer's and head's
                                                                    softmax(q·kᵀ/√D + masks)
    token_vectors(model, tokenizer, sentences, word)   (N, C), [sentences used]
                                                                    the word's hidden state in
                                                                    each sentence

Models: :class:`fastembed.models.BertModel`, :class:`~fastembed.models.BertForPreTraining` (its
encoder is used; the heads are not run) and :class:`~fastembed.models.GPT` (causal);
:func:`token_vectors` also reads an :class:`~fastembed.models.ELMo` biLM (its L + 1 layers, forward
and backward side by side; no special tokens are added). Both functions run the model in eval mode under ``torch.no_grad()`` and put every module back in the
mode it was in.

**Attention maps** are not returned by the fused kernel (it never materialises them). They are
recomputed: a forward pre-hook on each :class:`~fastembed.models.attention.SelfAttention` records
its input and the masks the model gave it, then q and k come from the module's own packed QKV
projection and the probabilities are formed in float32 (float64 for a float64 model) with the
same masks as the kernel: a padded key (``attention_mask`` 0) and, for GPT, a later key get
probability exactly 0; a query that sees no key (a left-padding position of GPT) gets a row of
zeros. So ``maps[l] @ v`` is the attention output of layer l (tests/test_inspect.py checks this
against the model's real forward).

**Token vectors**: the mean of ``hidden_states[layer]`` over the tokens that cover the word's
first whole-word, case-insensitive occurrence in each sentence. The word is found in the
original text (:func:`find_word`) and the tokens are located by the character spans the
tokenizer gives them (``return_offsets=True``), for any tokenizer: a token that straddles the
word's edge (BPE's ``" o"`` of ``"of"``) is included. For a BERT model, [CLS] and [SEP] are
added around the sentence's tokens when the tokenizer has them.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import numpy as np

from ._optional import require_torch

torch = require_torch("fastembed.inspect")

from torch import Tensor, nn  # noqa: E402

from .data.specials import special_ids  # noqa: E402
from .features import check_texts, layer_indices, pad_batch  # noqa: E402
from .ops._reference import visible_mask  # noqa: E402
from .tokenizers.base import Tokenizer, check_tokenizer  # noqa: E402

SUPPORTED = "fastembed.models.BertModel, fastembed.models.BertForPreTraining or fastembed.models.GPT"


class SkippedSentencesWarning(UserWarning):
    """Some sentences did not contain the word (or lost it to truncation) and were left out."""


# --------------------------------------------------------------------------- models


def _unwrap(model: Any, where: str, *, elmo: bool = False) -> tuple[nn.Module, str]:
    """(the network to run, "bert", "gpt" or, where ``elmo`` allows it, "elmo"); TypeError for
    any other model."""
    from .models import GPT, BertForPreTraining, BertModel, ELMo

    if isinstance(model, BertForPreTraining):
        return model.bert, "bert"
    if isinstance(model, BertModel):
        return model, "bert"
    if isinstance(model, GPT):
        return model, "gpt"
    if isinstance(model, ELMo):
        if elmo:
            return model, "elmo"
        raise TypeError(f"{where}: an ELMo biLM has no attention; model must be a {SUPPORTED}")
    raise TypeError(f"{where}: model must be a {SUPPORTED}{' or fastembed.models.ELMo' if elmo else ''}, "
                    f"got {type(model).__name__}")


def _attention_modules(net: nn.Module, kind: str) -> list[nn.Module]:
    stack = net.layers if kind == "bert" else net.blocks
    return [layer.attn for layer in stack]


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and no_grad for the block; every module's own training flag restored after."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for m, training in modes:
            m.training = training


def _int_tensor(x: Any, name: str, device: Any) -> Tensor:
    if isinstance(x, Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError, RuntimeError) as e:
            raise TypeError(f"{name} must be a (batch, length) tensor or array of ints, got {type(x).__name__}") from e
    if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
        raise TypeError(f"{name} must hold integers, got {t.dtype}")
    return t.to(device=device, dtype=torch.int64)


# --------------------------------------------------------------------------- attention maps


def attention_probs(module: nn.Module, x: Tensor, *, causal: bool = False,
                    key_padding_mask: Optional[Tensor] = None) -> Tensor:
    """The attention probabilities (B, H, T, T) that a SelfAttention ``module`` forms for its
    input x (B, T, C): softmax(q·kᵀ/√D) over the visible keys, 0 elsewhere, in float32 (float64
    for float64 input). ``key_padding_mask`` (B, T) bool, True = padded key."""
    B, T, C = x.shape
    H, D = module.num_heads, module.head_dim
    qkv = module.qkv(x).view(B, T, 3, H, D)
    dtype = torch.promote_types(qkv.dtype, torch.float32)
    q = qkv[:, :, 0].to(dtype).transpose(1, 2)                     # (B, H, T, D)
    k = qkv[:, :, 1].to(dtype).transpose(1, 2)                     # (B, H, T, D)
    s = (q @ k.transpose(-1, -2)) * D ** -0.5                      # (B, H, T, T)
    vis = visible_mask(B, T, T, causal=causal, key_padding_mask=key_padding_mask, device=x.device)  # (B, 1, T, T)
    seen = vis.any(-1, keepdim=True)                               # (B, 1, T, 1): the query sees some key
    s = s.masked_fill(~vis, float("-inf")).masked_fill(~seen, 0.0)  # no NaN from a row without keys
    return torch.softmax(s, dim=-1) * vis                          # masked keys exactly 0, empty rows 0


def attention_maps(model: Any, input_ids: Any, *, token_type_ids: Any = None, attention_mask: Any = None) -> Tensor:
    """The attention probabilities of every layer and head, (L, B, H, T, T), on the model's device.

    ``maps[l, b, h, i, j]`` is how much query position i of sentence b attends to key position j
    in head h of layer l. Rows of real query positions sum to 1; padded keys (``attention_mask``
    0) get exactly 0; for GPT every key after the query gets exactly 0 (upper triangle), and a
    query that sees no key (left padding) gets a row of zeros.

    ``input_ids`` (B, T) ints (torch or numpy); ``token_type_ids`` (B, T), BERT only;
    ``attention_mask`` (B, T), 1 = real token. Runs one forward pass in eval mode under
    ``torch.no_grad()`` (no dropout) and restores the model's modes and hooks.
    """
    net, kind = _unwrap(model, "attention_maps")
    device = next(net.parameters()).device
    ids = _int_tensor(input_ids, "input_ids", device)
    if ids.dim() != 2:
        raise ValueError(f"attention_maps: input_ids must have shape (batch, length), got {tuple(ids.shape)}"
                         + ("; for one sentence pass input_ids[None]" if ids.dim() == 1 else ""))
    if ids.shape[0] == 0 or ids.shape[1] == 0:
        raise ValueError(f"attention_maps: input_ids is empty, shape {tuple(ids.shape)}")
    mask = types = None
    if attention_mask is not None:
        mask = _int_tensor(attention_mask, "attention_mask", device)
        if mask.shape != ids.shape:
            raise ValueError(f"attention_maps: attention_mask has shape {tuple(mask.shape)}; expected "
                             f"{tuple(ids.shape)} like input_ids")
    if token_type_ids is not None:
        if kind == "gpt":
            raise ValueError("attention_maps: token_type_ids is for BERT; GPT has no segments")
        types = _int_tensor(token_type_ids, "token_type_ids", device)
        if types.shape != ids.shape:
            raise ValueError(f"attention_maps: token_type_ids has shape {tuple(types.shape)}; expected "
                             f"{tuple(ids.shape)} like input_ids")

    modules = _attention_modules(net, kind)
    seen: list[Optional[tuple[Tensor, bool, Optional[Tensor]]]] = [None] * len(modules)

    def recorder(i: int) -> Any:
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
            x = args[0] if args else kwargs["x"]
            if kwargs.get("past") is not None:                     # never from the calls below
                raise RuntimeError("attention_maps: unexpected cached keys (past) in the forward pass")
            seen[i] = (x, bool(kwargs.get("causal", False)), kwargs.get("key_padding_mask"))
        return hook

    handles = [m.register_forward_pre_hook(recorder(i), with_kwargs=True) for i, m in enumerate(modules)]
    try:
        with _evaluating(model):
            if kind == "bert":
                net(ids, token_type_ids=types, attention_mask=mask)
            else:
                net(ids, attention_mask=mask, logits_to_keep=1)   # the LM head on one position only
            maps = []
            for i, (m, rec) in enumerate(zip(modules, seen)):
                if rec is None:
                    raise RuntimeError(f"attention_maps: layer {i}'s attention did not run in the forward pass")
                x, causal, kpm = rec
                maps.append(attention_probs(m, x, causal=causal, key_padding_mask=kpm))
    finally:
        for h in handles:
            h.remove()
    return torch.stack(maps)                                       # (L, B, H, T, T)


# --------------------------------------------------------------------------- token vectors


def find_word(sentence: str, word: str) -> Optional[tuple[int, int]]:
    """(start, end) character offsets of the first whole-word, case-insensitive occurrence of
    ``word`` in ``sentence``, or None. Whole word: no letter, digit or underscore touches it.

    >>> find_word("A bank, the banker's Bank", "bank")
    (2, 6)
    >>> find_word("banks", "bank") is None
    True
    """
    m = re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", sentence, flags=re.IGNORECASE)
    return None if m is None else m.span()


def _cls_sep(tokenizer: Tokenizer) -> Optional[tuple[int, int]]:
    """The tokenizer's ([CLS], [SEP]) ids, or None if it has no such tokens."""
    try:
        ids = special_ids(tokenizer, ("cls", "sep"))
    except ValueError:
        return None
    return ids["cls"], ids["sep"]


def token_vectors(model: Any, tokenizer: Tokenizer, sentences: Sequence[str], word: str, *, layer: int = -1,
                  batch_size: int = 32) -> tuple[np.ndarray, list[str]]:
    """The contextual vector of ``word`` in each sentence that contains it: (N, C) float32 and
    the N sentences used, in order.

    Each vector is the mean of ``hidden_states[layer]`` (0 = embeddings, 1..L the layers,
    negative counts from the end; GPT's last entry is after its final LayerNorm) over the tokens
    covering the word's first whole-word, case-insensitive occurrence. Sentences without the
    word, or whose occurrence lies beyond the model's ``max_position`` tokens, are skipped with a
    :class:`SkippedSentencesWarning` saying how many; if none is left, ValueError.
    ``tokenizer``: any fastembed tokenizer (module docstring). For ELMo, C is 2 × embed_size.
    """
    net, kind = _unwrap(model, "token_vectors", elmo=True)
    sentences = check_texts(sentences)
    if not sentences:
        raise ValueError("token_vectors: sentences is empty; give at least one sentence containing the word")
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"token_vectors: word must be a non-empty str, got {word!r}")
    word = word.strip()
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"token_vectors: batch_size must be a positive int, got {batch_size!r}")
    cfg = net.config
    index = layer_indices([layer], cfg.num_layers)[0]             # validates layer with a clear message
    check_tokenizer(tokenizer, "token_vectors")

    # one native call: every sentence's tokens with their character spans (the text as text)
    enc = tokenizer(sentences, add_special_tokens=False, return_offsets=True, split_special_tokens=True)
    limit = cfg.max_position
    frame = _cls_sep(tokenizer) if kind == "bert" else None        # [CLS] body [SEP]
    room = limit - 2 if frame is not None else limit
    rows: list[tuple[np.ndarray, int, int]] = []                   # (ids fed to the model, first, stop)
    used: list[str] = []
    missing = cut = 0
    for s, ids, offsets in zip(sentences, enc["input_ids"], enc["offset_mapping"]):
        where = find_word(s, word)
        hit = np.zeros(0, np.int64) if where is None else \
            np.flatnonzero((offsets[:, 0] < where[1]) & (offsets[:, 1] > where[0]))
        if not len(hit):                                           # absent, or nothing of it is a token
            missing += 1
            continue
        a, b = int(hit[0]), int(hit[-1]) + 1
        if b > room:
            cut += 1
            continue
        body = ids[:room]
        if frame is not None:
            body, a, b = np.concatenate([[frame[0]], body, [frame[1]]]), a + 1, b + 1
        rows.append((body, a, b))
        used.append(s)

    if missing or cut:
        why = []
        if missing:
            why.append(f"{missing} do not contain the word {word!r} as a whole word")
        if cut:
            why.append(f"in {cut} it lies beyond the model's max_position={limit} tokens")
        warnings.warn(f"token_vectors: skipped {missing + cut} of {len(sentences)} sentences: {'; '.join(why)}",
                      SkippedSentencesWarning, stacklevel=2)
    if not rows:
        raise ValueError(f"token_vectors: none of the {len(sentences)} sentences contains the word {word!r} "
                         "(whole word, case-insensitive) within the model's max_position tokens")

    device = next(net.parameters()).device
    out = np.empty((len(rows), getattr(net, "feature_size", cfg.hidden_size)), dtype=np.float32)
    with _evaluating(model):
        for s0 in range(0, len(rows), batch_size):
            chunk = rows[s0:s0 + batch_size]
            x, mask, padded = pad_batch([r[0] for r in chunk], 0)  # padding is masked, so any id does
            x, mask = x.to(device), mask.to(device)
            if kind in ("bert", "elmo"):                            # ELMo: padded on the right, as it needs
                res = net(x, attention_mask=mask if padded else None, output_hidden_states=True)
            else:
                res = net(x, attention_mask=mask if padded else None, output_hidden_states=True, logits_to_keep=1)
            h = res.hidden_states[index]                           # (b, T, C)
            for r, (_, a, b) in enumerate(chunk):
                out[s0 + r] = h[r, a:b].float().mean(0).cpu().numpy()
    return out, used
