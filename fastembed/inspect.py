"""Look inside a trained transformer: its attention maps, and the contextual vector of a word.

    attention_maps(model, input_ids)              (L, B, H, T, T)   every layer's and head's
                                                                    softmax(q·kᵀ/√D + masks)
    token_vectors(model, tokenizer, sentences, word)   (N, C), [sentences used]
                                                                    the word's hidden state in
                                                                    each sentence

Models: :class:`fastembed.models.BertModel`, :class:`~fastembed.models.BertForPreTraining` (its
encoder is used; the heads are not run) and :class:`~fastembed.models.GPT` (causal). Both
functions run the model in eval mode under ``torch.no_grad()`` and put every module back in the
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
first whole-word, case-insensitive occurrence in each sentence. With the byte-level
:class:`~fastembed.tokenizers.BPETokenizer` the word is found in the text and the tokens are
located by their byte spans (a token that straddles the word's edge, e.g. ``" o"`` of ``"of"``,
is included); with :class:`~fastembed.tokenizers.WordPieceTokenizer` the word is matched against
the normalized words and the pieces of those words are taken. For a BERT model, [CLS] and [SEP]
are added when the tokenizer has them (as :func:`fastembed.features.encode_texts` does).
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

from .features import check_texts, encode_texts, layer_indices, pad_batch  # noqa: E402
from .ops._reference import visible_mask  # noqa: E402

SUPPORTED = "fastembed.models.BertModel, fastembed.models.BertForPreTraining or fastembed.models.GPT"


class SkippedSentencesWarning(UserWarning):
    """Some sentences did not contain the word (or lost it to truncation) and were left out."""


# --------------------------------------------------------------------------- models


def _unwrap(model: Any, where: str) -> tuple[nn.Module, str]:
    """(the network to run, "bert" or "gpt"); TypeError for any other model."""
    from .models import GPT, BertForPreTraining, BertModel

    if isinstance(model, BertForPreTraining):
        return model.bert, "bert"
    if isinstance(model, BertModel):
        return model, "bert"
    if isinstance(model, GPT):
        return model, "gpt"
    raise TypeError(f"{where}: model must be a {SUPPORTED}, got {type(model).__name__}")


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


def _is_bpe(tokenizer: Any) -> bool:
    return hasattr(tokenizer, "decode_single_token_bytes") and hasattr(tokenizer, "encode_ordinary")


def _is_wordpiece(tokenizer: Any) -> bool:
    return hasattr(tokenizer, "pre_tokenize") and hasattr(tokenizer, "encode_words")


def _span_bpe(tokenizer: Any, sentence: str, word: str) -> Optional[tuple[np.ndarray, int, int]]:
    """(token ids of the sentence, first, stop): tokens first..stop-1 overlap the word's bytes."""
    where = find_word(sentence, word)
    if where is None:
        return None
    start = len(sentence[:where[0]].encode("utf-8", "surrogatepass"))
    stop = start + len(sentence[where[0]:where[1]].encode("utf-8", "surrogatepass"))
    ids = np.asarray(tokenizer.encode_ordinary(sentence), dtype=np.int64)
    ends = np.cumsum([len(tokenizer.decode_single_token_bytes(int(t))) for t in ids])
    starts = ends - np.asarray([len(tokenizer.decode_single_token_bytes(int(t))) for t in ids])
    if not len(ids) or ends[-1] != len(sentence.encode("utf-8", "surrogatepass")):
        raise RuntimeError(f"token_vectors: the tokens of {sentence!r} do not spell out its bytes")
    hit = np.flatnonzero((starts < stop) & (ends > start))
    return ids, int(hit[0]), int(hit[-1]) + 1


def _span_wordpiece(tokenizer: Any, sentence: str, word: str) -> Optional[tuple[np.ndarray, int, int]]:
    """(piece ids of the sentence, first, stop): the pieces of the first run of normalized words
    equal (lower-cased) to the word's."""
    target = [w.lower() for w in tokenizer.pre_tokenize(word)]
    words = tokenizer.pre_tokenize(sentence)
    lower = [w.lower() for w in words]
    n = len(target)
    for i in range(len(words) - n + 1):
        if lower[i:i + n] == target:
            ids, owner = tokenizer.encode_words(words)
            owner = np.asarray(owner, dtype=np.int64)
            hit = np.flatnonzero((owner >= i) & (owner < i + n))
            return np.asarray(ids, dtype=np.int64), int(hit[0]), int(hit[-1]) + 1
    return None


def _cls_sep(tokenizer: Any) -> Optional[tuple[int, int]]:
    """The tokenizer's ([CLS], [SEP]) ids, or None if it has no such tokens."""
    if hasattr(tokenizer, "cls_id") and hasattr(tokenizer, "sep_id"):
        return int(tokenizer.cls_id), int(tokenizer.sep_id)
    specials = getattr(tokenizer, "special_tokens", None) or {}
    if "[CLS]" in specials and "[SEP]" in specials:
        return int(specials["[CLS]"]), int(specials["[SEP]"])
    return None


class _Framed:
    """A BPE tokenizer seen by :func:`fastembed.features.encode_texts`: [CLS] text [SEP]."""

    def __init__(self, tokenizer: Any, cls_id: int, sep_id: int) -> None:
        self.tokenizer, self.cls_id, self.sep_id = tokenizer, cls_id, sep_id

    def encode(self, text: str) -> np.ndarray:
        body = np.asarray(self.tokenizer.encode_ordinary(text), dtype=np.int64)
        return np.concatenate([[self.cls_id], body, [self.sep_id]]).astype(np.int64)


def token_vectors(model: Any, tokenizer: Any, sentences: Sequence[str], word: str, *, layer: int = -1,
                  batch_size: int = 32) -> tuple[np.ndarray, list[str]]:
    """The contextual vector of ``word`` in each sentence that contains it: (N, C) float32 and
    the N sentences used, in order.

    Each vector is the mean of ``hidden_states[layer]`` (0 = embeddings, 1..L the layers,
    negative counts from the end; GPT's last entry is after its final LayerNorm) over the tokens
    covering the word's first whole-word, case-insensitive occurrence. Sentences without the
    word, or whose occurrence lies beyond the model's ``max_position`` tokens, are skipped with a
    :class:`SkippedSentencesWarning` saying how many; if none is left, ValueError.
    ``tokenizer``: a BPETokenizer or a WordPieceTokenizer (module docstring).
    """
    net, kind = _unwrap(model, "token_vectors")
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
    if _is_bpe(tokenizer):
        locate = _span_bpe
    elif _is_wordpiece(tokenizer):
        if not tokenizer.pre_tokenize(word):
            raise ValueError(f"token_vectors: word {word!r} normalizes to nothing for this WordPiece tokenizer")
        locate = _span_wordpiece
    else:
        raise TypeError("token_vectors: tokenizer must be a fastembed BPETokenizer or WordPieceTokenizer, got "
                        f"{type(tokenizer).__name__}")

    found = [(s, locate(tokenizer, s, word)) for s in sentences]
    missing = sum(hit is None for _, hit in found)
    found = [(s, hit) for s, hit in found if hit is not None]
    limit = cfg.max_position
    frame = _cls_sep(tokenizer) if kind == "bert" else None
    rows: list[tuple[np.ndarray, int, int]] = []                   # (ids fed to the model, first, stop)
    used: list[str] = []
    cut = 0
    if frame is not None:                                          # [CLS] body [SEP], as features does it
        framer = tokenizer if _is_wordpiece(tokenizer) else _Framed(tokenizer, *frame)
        ids, counts = encode_texts(framer, [s for s, _ in found], limit)
        for (s, (body, a, b)), x, n in zip(found, ids, counts):
            x = np.asarray(x, dtype=np.int64)
            if n <= limit and not np.array_equal(x[1:-1], body):
                raise RuntimeError(f"token_vectors: the tokenizer's encoding of {s!r} does not match the pieces "
                                   "the word was located in")
            if b > min(len(body), limit - 2):
                cut += 1
                continue
            rows.append((x, a + 1, b + 1))
            used.append(s)
    else:
        for s, (body, a, b) in found:
            if b > limit:
                cut += 1
                continue
            rows.append((body[:limit], a, b))
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
    out = np.empty((len(rows), cfg.hidden_size), dtype=np.float32)
    with _evaluating(model):
        for s0 in range(0, len(rows), batch_size):
            chunk = rows[s0:s0 + batch_size]
            x, mask, padded = pad_batch([r[0] for r in chunk], 0)  # padding is masked, so any id does
            x, mask = x.to(device), mask.to(device)
            if kind == "bert":
                res = net(x, attention_mask=mask if padded else None, output_hidden_states=True)
            else:
                res = net(x, attention_mask=mask if padded else None, output_hidden_states=True, logits_to_keep=1)
            h = res.hidden_states[index]                           # (b, T, C)
            for r, (_, a, b) in enumerate(chunk):
                out[s0 + r] = h[r, a:b].float().mean(0).cpu().numpy()
    return out, used
