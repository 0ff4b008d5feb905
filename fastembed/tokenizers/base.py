"""What every fastembed tokenizer offers: ids and tokens, named special tokens, and the HF-style
``__call__`` that turns a batch of texts (or text pairs) into model inputs.

A tokenizer (:class:`~fastembed.tokenizers.BPETokenizer`, :class:`~fastembed.tokenizers.WordPieceTokenizer`)
implements a few primitives: ``vocab_size``, ``token_to_id``/``id_to_token``, ``decode`` and
``_encode_flat`` (plain text to ids, natively, for a whole batch at once, optionally with
character offsets and word indices). Everything else is written here, once, for both:

- **Added tokens** (special tokens such as ``[SEP]`` or ``<|endoftext|>``) found in the text are
  split out first and become their ids, as HF ``tokenizers`` does (``split_special_tokens=True``
  encodes such text as ordinary text instead).
- **The template** (HF's post-processor), e.g. ``[CLS] $A [SEP]`` and ``[CLS] $A [SEP] $B:1 [SEP]:1``,
  adds the special tokens and gives each token its type id (segment).
- **Truncation** of single texts and pairs (``longest_first``, ``only_first``, ``only_second``),
  with **overflow**: the rest of a truncated text in further rows that overlap by ``stride`` tokens
  (extractive QA over long contexts).
- **Padding** to the longest row or to ``max_length``, right or left, and arrays or tensors.

The whole batch is assembled with array operations over the concatenated ids (no Python loop
per text), so the cost per text is the native encoder's.

>>> from fastembed.tokenizers import WordPieceTokenizer
>>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!"])
>>> batch = tok(["hello world!", "hello"], padding="longest")
>>> batch["input_ids"].tolist()
[[2, 5, 6, 7, 3], [2, 5, 3, 0, 0]]
>>> batch["attention_mask"].tolist()
[[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from ._batch import Rows, assemble, concat_flats, parse_strategy, truncate, windows
from .encoding import BatchEncoding, Encoding, Flat

__all__ = ["Tokenizer", "AddedToken", "Template", "BatchEncoding", "Encoding", "Flat", "check_tokenizer"]

SPECIAL_NAMES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
PADDING = ("longest", "max_length")
TENSORS = ("np", "pt")
BATCH_CHUNK = 4096  # texts per native call: Ctrl-C stops a huge batch within a chunk's time


@dataclass(frozen=True)
class AddedToken:
    """A token matched in the raw text before anything else (HF's ``added_tokens`` entries).

    ``lstrip``/``rstrip``: white space on that side is part of the match (RoBERTa's ``<mask>``).
    """

    content: str
    id: int
    special: bool = True
    lstrip: bool = False
    rstrip: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.content, str) or not self.content:
            raise ValueError(f"an added token must be a non-empty string, got {self.content!r}")
        if not isinstance(self.id, (int, np.integer)) or isinstance(self.id, bool) or self.id < 0:
            raise ValueError(f"added token {self.content!r} has id {self.id!r}; expected an integer >= 0")


@dataclass(frozen=True)
class Template:
    """Where the special tokens go around one text (``single``) or a pair (``pair``), and each
    part's type id, in HF ``TemplateProcessing``'s notation: ``$A``/``$B`` are the texts, any
    other word a special token, ``:N`` a type id (default 0).

    >>> t = Template.parse("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1")
    >>> t.pair
    (('[CLS]', 0), ('$A', 0), ('[SEP]', 0), ('$B', 1), ('[SEP]', 1))
    """

    single: tuple[tuple[str, int], ...]
    pair: tuple[tuple[str, int], ...]

    @classmethod
    def parse(cls, single: str, pair: str) -> "Template":
        return cls(_parse_template(single, "single"), _parse_template(pair, "pair"))

    def __post_init__(self) -> None:
        for name, items, seqs in (("single", self.single, ["$A"]), ("pair", self.pair, ["$A", "$B"])):
            got = [t for t, _ in items if t in ("$A", "$B")]
            if got != seqs:
                raise ValueError(f"the {name} template must hold {' then '.join(seqs)} once each, got {got}")
            for t, type_id in items:
                if not isinstance(t, str) or not t or not isinstance(type_id, int) or type_id < 0:
                    raise ValueError(f"template item {(t, type_id)!r}: expected (token or $A/$B, type id >= 0)")

    def to_str(self) -> tuple[str, str]:
        return tuple(" ".join(t if k == 0 else f"{t}:{k}" for t, k in items)  # type: ignore[return-value]
                     for items in (self.single, self.pair))


def _parse_template(spec: str, name: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(spec, str):
        raise TypeError(f"the {name} template must be a string such as '[CLS] $A [SEP]', got {type(spec).__name__}")
    items = []
    for word in spec.split():
        token, _, kind = word.rpartition(":") if re.search(r":\d+$", word) else (word, "", "0")
        items.append(("$A" if token == "$" else token, int(kind)))
    return tuple(items)


TextBatch = Union[str, Sequence[str]]


class Tokenizer:
    """The interface both tokenizers implement (see the module docstring).

    Subclasses set ``self._surface(...)`` in their constructor and implement ``vocab_size``,
    ``token_to_id``, ``id_to_token``, ``decode`` and ``_encode_flat``.
    """

    # ------------------------------------------------------------------ what subclasses provide

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def token_to_id(self, token: str) -> Optional[int]:
        """The id of ``token`` (its text as in the vocabulary), or None."""
        raise NotImplementedError

    def id_to_token(self, id: int) -> str:
        """The vocabulary entry of ``id``; ValueError for an id outside the vocabulary."""
        raise NotImplementedError

    def decode(self, ids: Iterable[int], *, skip_special_tokens: bool = False) -> str:
        raise NotImplementedError

    def _encode_flat(self, texts: list[str], *, offsets: bool = False, words: bool = False) -> Flat:
        """Plain text (no added-token matching, no template) to ids, the whole list at once."""
        raise NotImplementedError

    def explain(self, word: Union[str, bytes]) -> list[dict[str, Any]]:
        """The merges that encode one pre-token, step by step; only tokenizers built from merges
        have them (:meth:`BPETokenizer.explain <fastembed.tokenizers.BPETokenizer.explain>`)."""
        raise TypeError(f"{type(self).__name__} has no merges to explain; explain() traces the merges of a "
                        "BPETokenizer")

    # ------------------------------------------------------------------ shared state

    def _surface(self, *, added_tokens: Iterable[AddedToken] = (), template: Optional[Template] = None,
                 special_names: Optional[Mapping[str, str]] = None, model_max_length: Optional[int] = None) -> None:
        """Check and store what ``__call__`` needs: added tokens (their ids must be in the
        vocabulary and distinct), the template (its special tokens must be tokens), the named
        special tokens and the longest input the model takes."""
        added = list(added_tokens)
        by_id: dict[int, str] = {}
        by_text: dict[str, int] = {}
        for t in added:
            if not isinstance(t, AddedToken):
                raise TypeError(f"added_tokens must hold AddedToken, got {type(t).__name__}")
            if not 0 <= t.id < self.vocab_size:
                raise ValueError(f"added token {t.content!r} has id {t.id}, outside the vocabulary (size {self.vocab_size})")
            if by_id.get(t.id, t.content) != t.content:
                raise ValueError(f"added tokens {by_id[t.id]!r} and {t.content!r} both have id {t.id}")
            if by_text.get(t.content, t.id) != t.id:
                raise ValueError(f"added token {t.content!r} is given twice, with ids {by_text[t.content]} and {t.id}")
            by_id[t.id] = t.content
            by_text[t.content] = t.id
        self.added_tokens: list[AddedToken] = sorted({t.content: t for t in added}.values(), key=lambda t: t.id)
        self._added_ids = {t.content: int(t.id) for t in self.added_tokens}
        self._added_re = _added_pattern(self.added_tokens)
        names = dict(special_names or {})
        for key, text in names.items():
            if key not in SPECIAL_NAMES:
                raise ValueError(f"unknown special token name {key!r}; expected one of {', '.join(SPECIAL_NAMES)}")
            if text is not None and self._id_of(text) is None:
                raise ValueError(f"{key} {text!r} is not a token of this tokenizer")
        self.special_names: dict[str, str] = {k: v for k, v in names.items() if v is not None}
        self.template = template
        self._single = self._pair = None
        self._edges = None  # the single template as (ids before $A, ids after), for encode's fast path
        if template is not None:
            self._single = self._resolve(template.single)
            self._pair = self._resolve(template.pair)
            at = [i for i, _ in self._single].index(-1)
            self._edges = (np.array([i for i, _ in self._single[:at]], np.uint32),
                           np.array([i for i, _ in self._single[at + 1:]], np.uint32))
        if model_max_length is not None and (not isinstance(model_max_length, int) or model_max_length < 1):
            raise ValueError(f"model_max_length must be a positive int or None, got {model_max_length!r}")
        self.model_max_length = model_max_length

    def _surface_state(self) -> dict[str, Any]:
        """What ``_surface`` was given, as constructor keywords (for pickling)."""
        return {"added_tokens": list(self.added_tokens), "template": self.template,
                "special_names": dict(self.special_names), "model_max_length": self.model_max_length}

    def _id_of(self, text: str) -> Optional[int]:
        i = getattr(self, "_added_ids", {}).get(text)
        return i if i is not None else self.token_to_id(text)

    def _resolve(self, items: Sequence[tuple[str, int]]) -> list[tuple[int, int]]:
        """Template items as (id, type id); id -1 is $A, -2 is $B."""
        out = []
        for text, type_id in items:
            if text in ("$A", "$B"):
                out.append((-1 if text == "$A" else -2, type_id))
                continue
            i = self._id_of(text)
            if i is None:
                raise ValueError(f"the template's special token {text!r} is not a token of this tokenizer")
            out.append((i, type_id))
        return out

    # ------------------------------------------------------------------ named special tokens

    def _named(self, key: str) -> Optional[int]:
        text = self.special_names.get(key)
        return None if text is None else self._id_of(text)

    bos_token_id = property(lambda self: self._named("bos_token"), doc="Id of the beginning-of-text token, or None.")
    eos_token_id = property(lambda self: self._named("eos_token"), doc="Id of the end-of-text token, or None.")
    unk_token_id = property(lambda self: self._named("unk_token"), doc="Id of the unknown token, or None.")
    sep_token_id = property(lambda self: self._named("sep_token"), doc="Id of the separator token, or None.")
    pad_token_id = property(lambda self: self._named("pad_token"), doc="Id of the padding token, or None.")
    cls_token_id = property(lambda self: self._named("cls_token"), doc="Id of the classifier token, or None.")
    mask_token_id = property(lambda self: self._named("mask_token"), doc="Id of the mask token, or None.")

    @property
    def all_special_ids(self) -> list[int]:
        """Ids of every special token: added tokens marked special and the named ones, sorted."""
        ids = {t.id for t in self.added_tokens if t.special}
        ids.update(i for i in (self._named(k) for k in self.special_names) if i is not None)
        return sorted(ids)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """How many tokens the template adds around one text (or a pair)."""
        items = self._pair if pair else self._single
        return 0 if items is None else sum(1 for i, _ in items if i >= 0)

    # ------------------------------------------------------------------ encoding

    def encode(self, text: str, pair: Optional[str] = None, *, add_special_tokens: bool = True,
               max_length: Optional[int] = None, truncation: Union[bool, str] = False,
               split_special_tokens: bool = False) -> np.ndarray:
        """Token ids of ``text`` (and ``pair``) with the template's special tokens, as uint32."""
        _check_text(text, "text")
        if pair is None and parse_strategy(truncation) is None:  # one text as it is: no batch machinery
            ids = self._encode_side([text], split_special_tokens=split_special_tokens, offsets=False, words=False).ids
            if add_special_tokens and self._edges is not None:
                ids = np.concatenate((self._edges[0], ids, self._edges[1]))
            return ids
        if pair is not None:
            _check_text(pair, "pair")
        rows = self._rows([text], None if pair is None else [pair], add_special_tokens=add_special_tokens,
                          truncation=truncation, max_length=max_length, stride=0, overflow=False,
                          split_special_tokens=split_special_tokens, offsets=False, words=False)
        return rows.ids.astype(np.uint32)

    def encode_batch(self, texts: Iterable[str], pairs: Optional[Iterable[str]] = None, *,
                     add_special_tokens: bool = True, max_length: Optional[int] = None,
                     truncation: Union[bool, str] = False, split_special_tokens: bool = False) -> list[np.ndarray]:
        """:meth:`encode` of each text (or pair), on all native threads (see
        ``fastembed.set_num_threads``): a list of uint32 arrays."""
        texts, pairs = _check_batch(texts, pairs)
        rows = self._rows(texts, pairs, add_special_tokens=add_special_tokens, truncation=truncation,
                          max_length=max_length, stride=0, overflow=False, split_special_tokens=split_special_tokens,
                          offsets=False, words=False)
        ids = rows.ids.astype(np.uint32)
        return np.split(ids, rows.starts[1:-1]) if len(texts) else []

    def encode_flat(self, texts: Iterable[str], *, split_special_tokens: bool = False) -> Flat:
        """The ids of many texts, without the template, concatenated into one array: text i is
        ``ids[starts[i]:starts[i + 1]]`` (uint32 ids, int64 starts; ``offsets``/``words`` are None).
        The fastest way to turn a corpus into a token stream, with no per-text arrays; corpus
        text is data, so its callers pass ``split_special_tokens=True`` (``[SEP]`` or
        ``<|endoftext|>`` written in the text is encoded as text)."""
        texts, _ = _check_batch(texts, None)
        flat = self._encode_side(texts, split_special_tokens=split_special_tokens, offsets=False, words=False)
        return Flat(flat.ids.astype(np.uint32, copy=False), flat.starts.astype(np.int64, copy=False), None, None)

    def __call__(self, texts: TextBatch, pairs: Optional[TextBatch] = None, *, add_special_tokens: bool = True,
                 padding: Union[bool, str] = False, truncation: Union[bool, str] = False,
                 max_length: Optional[int] = None, stride: int = 0, pad_to_multiple_of: Optional[int] = None,
                 padding_side: str = "right", return_offsets: bool = False, return_overflowing: bool = False,
                 return_special_tokens_mask: bool = False, return_tensors: Optional[str] = None,
                 split_special_tokens: bool = False) -> BatchEncoding:
        """Model inputs for a batch of texts, or of text pairs (``pairs[i]`` goes with ``texts[i]``).

        - ``padding``: False (rows keep their lengths), ``"longest"`` (or True: to the longest row),
          ``"max_length"`` (to ``max_length``); ``pad_to_multiple_of`` rounds the width up;
          ``padding_side`` "right" or "left". Padding uses ``pad_token_id``.
        - ``truncation``: False, ``"longest_first"`` (or True), ``"only_first"``, ``"only_second"``:
          rows longer than ``max_length`` (default ``model_max_length``) lose tokens from the
          texts, never the template's special tokens. ValueError when ``max_length`` cannot hold
          the special tokens, or the strategy cannot shorten enough (``only_second`` with a
          short second text and a long first one).
        - ``return_overflowing``: a truncated text's remaining tokens go into further rows that
          repeat the last ``stride`` tokens of the previous one (for a pair, the truncated text
          moves and the other repeats; ``overflow_to_sample_mapping`` says which input each row
          is). Pairs need ``only_first`` or ``only_second`` here: ``longest_first`` would have to
          split both texts at once.
        - ``return_offsets``: ``offset_mapping``, (start, end) code-point spans of each token in
          its own text (``text[start:end]``), (0, 0) for special tokens and padding.
        - ``return_tensors``: None (numpy int64), ``"np"`` (numpy, the rows must have one length),
          ``"pt"`` (torch tensors, likewise).
        - Added tokens in the text (``[SEP]``, ``<|endoftext|>``) become those tokens, as in HF;
          ``split_special_tokens=True`` encodes them as ordinary text.

        A single string (and pair string) gives a batch of one row (more with overflow).
        """
        single = isinstance(texts, str)
        if single:
            if pairs is not None and not isinstance(pairs, str):
                raise TypeError("a single text takes a single pair string, got a "
                                f"{type(pairs).__name__}")
            texts = [texts]  # type: ignore[list-item]
            pairs = None if pairs is None else [pairs]  # type: ignore[list-item]
        texts_l, pairs_l = _check_batch(texts, pairs)
        if padding is True:
            padding = "longest"
        if padding not in (False, None, *PADDING):
            raise ValueError(f"padding must be False, True, 'longest' or 'max_length', got {padding!r}")
        if padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
        if return_tensors not in (None, *TENSORS):
            raise ValueError(f"return_tensors must be None, 'np' or 'pt', got {return_tensors!r}")
        if padding == "max_length" and max_length is None:
            max_length = self.model_max_length
            if max_length is None:
                raise ValueError("padding='max_length' needs max_length=... (this tokenizer has no model_max_length)")
        if pad_to_multiple_of is not None and (not _is_int(pad_to_multiple_of) or pad_to_multiple_of < 1):
            raise ValueError(f"pad_to_multiple_of must be a positive int, got {pad_to_multiple_of!r}")
        rows = self._rows(texts_l, pairs_l, add_special_tokens=add_special_tokens, truncation=truncation,
                          max_length=max_length, stride=stride, overflow=return_overflowing,
                          split_special_tokens=split_special_tokens, offsets=return_offsets, words=True)
        return self._batch(rows, padding=padding or None, max_length=max_length, multiple=pad_to_multiple_of,
                           left=padding_side == "left", tensors=return_tensors, offsets=return_offsets,
                           special_mask=return_special_tokens_mask, overflow=return_overflowing)

    # ------------------------------------------------------------------ the pipeline, written once

    def _encode_side(self, texts: list[str], *, split_special_tokens: bool, offsets: bool, words: bool) -> Flat:
        """``_encode_flat`` with added tokens in the text matched first (HF's added vocabulary),
        :data:`BATCH_CHUNK` texts per native call so that Ctrl-C gets through between chunks."""
        if len(texts) > BATCH_CHUNK:
            parts = [self._encode_side(texts[i:i + BATCH_CHUNK], split_special_tokens=split_special_tokens,
                                       offsets=offsets, words=words) for i in range(0, len(texts), BATCH_CHUNK)]
            return concat_flats(parts)
        pattern = None if split_special_tokens else self._added_re
        if pattern is None:
            return self._encode_flat(texts, offsets=offsets, words=words)
        search = pattern.search
        marked = [i for i, t in enumerate(texts) if search(t)]
        if not marked:
            return self._encode_flat(texts, offsets=offsets, words=words)
        # Texts with added tokens: encode their ordinary segments in one native call, then put each
        # text back together with its added tokens in between.
        segments: list[str] = []
        plan: list[list[tuple[int, int, int]]] = []  # per marked text: (segment index or -1 - token id, start, end)
        for i in marked:
            text, parts, pos = texts[i], [], 0
            for m in pattern.finditer(text):
                start, end = m.span()
                if start > pos:
                    parts.append((len(segments), pos, start))
                    segments.append(text[pos:start])
                group = m.lastgroup
                token = int(group[1:]) if group != "plain" else self._added_ids[m.group("plain")]
                parts.append((-1 - token, start, end))
                pos = end
            if pos < len(text):
                parts.append((len(segments), pos, len(text)))
                segments.append(text[pos:])
            plan.append(parts)
        seg = self._encode_flat(segments, offsets=offsets, words=words)
        is_marked = set(marked)
        plain = [i for i in range(len(texts)) if i not in is_marked]
        base = self._encode_flat([texts[i] for i in plain], offsets=offsets, words=words)
        per_text: list[tuple] = [None] * len(texts)  # type: ignore[list-item]
        for j, i in enumerate(plain):
            a, b = base.starts[j], base.starts[j + 1]
            per_text[i] = (base.ids[a:b], None if base.offsets is None else base.offsets[a:b],
                           None if base.words is None else base.words[a:b])
        for i, parts in zip(marked, plan):
            ids, offs, wds, next_word = [], [], [], 0
            for s, start, end in parts:
                if s < 0:
                    ids.append(np.array([-1 - s], np.uint32))
                    offs.append(np.array([[start, end]], np.int64))
                    wds.append(np.array([next_word], np.int32))
                    next_word += 1
                    continue
                a, b = seg.starts[s], seg.starts[s + 1]
                ids.append(seg.ids[a:b])
                if offsets:
                    offs.append(seg.offsets[a:b] + start)  # type: ignore[index]
                if words:
                    w = seg.words[a:b] + next_word  # type: ignore[index]
                    wds.append(w)
                    next_word = int(w.max()) + 1 if len(w) else next_word
            per_text[i] = (np.concatenate(ids), np.concatenate(offs) if offsets else None,
                           np.concatenate(wds).astype(np.int32) if words else None)
        lengths = np.array([len(p[0]) for p in per_text], np.int64)
        starts = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(lengths, out=starts[1:])
        return Flat(np.concatenate([p[0] for p in per_text]).astype(np.uint32, copy=False), starts,
                    np.concatenate([p[1] for p in per_text]).reshape(-1, 2) if offsets else None,
                    np.concatenate([p[2] for p in per_text]) if words else None)

    def _rows(self, texts: list[str], pairs: Optional[list[str]], *, add_special_tokens: bool,
              truncation: Union[bool, str], max_length: Optional[int], stride: int, overflow: bool,
              split_special_tokens: bool, offsets: bool, words: bool) -> "Rows":
        strategy = parse_strategy(truncation)
        template = (self._pair if pairs is not None else self._single) if add_special_tokens else None
        if template is None:
            template = [(-1, 0)] if pairs is None else [(-1, 0), (-2, 1)]
        n_special = sum(1 for i, _ in template if i >= 0)
        if strategy is not None and max_length is None:
            max_length = self.model_max_length
            if max_length is None:
                raise ValueError("truncation needs max_length=... (this tokenizer has no model_max_length)")
        if max_length is not None and (not _is_int(max_length) or max_length < 1):
            raise ValueError(f"max_length must be a positive int, got {max_length!r}")
        if not _is_int(stride) or stride < 0:
            raise ValueError(f"stride must be an int >= 0, got {stride!r}")
        if overflow and strategy is None:
            raise ValueError("return_overflowing needs truncation (e.g. truncation='only_second', max_length=384)")
        if overflow and pairs is not None and strategy == "longest_first":
            raise ValueError("return_overflowing with text pairs needs truncation='only_first' or 'only_second' "
                             "(which text to split into overlapping rows); 'longest_first' would shorten both")
        a = self._encode_side(texts, split_special_tokens=split_special_tokens, offsets=offsets, words=words)
        b = None if pairs is None else self._encode_side(pairs, split_special_tokens=split_special_tokens,
                                                         offsets=offsets, words=words)
        la = np.diff(a.starts)
        lb = np.zeros_like(la) if b is None else np.diff(b.starts)
        sample = np.arange(len(texts), dtype=np.int64)
        a0, a1, b0, b1 = a.starts[:-1].copy(), a.starts[1:].copy(), None, None
        if b is not None:
            b0, b1 = b.starts[:-1].copy(), b.starts[1:].copy()
        if strategy is not None:
            budget = max_length - n_special  # type: ignore[operator]
            if budget < 0:
                raise ValueError(f"max_length={max_length} cannot hold the {n_special} special tokens the template "
                                 f"adds around {'a pair' if pairs is not None else 'a text'}")
            ka, kb = truncate(la, lb, budget, strategy, pairs is not None)
            if overflow:
                which = "b" if strategy == "only_second" else "a"
                keep = kb if which == "b" else ka
                length = lb if which == "b" else la
                sample, start = windows(keep, length, stride)
                if which == "a":
                    a0 = a.starts[sample] + start
                    a1 = np.minimum(a0 + keep[sample], a.starts[sample + 1])
                    if b is not None:
                        b0, b1 = b.starts[sample], b.starts[sample] + kb[sample]
                else:
                    b0 = b.starts[sample] + start  # type: ignore[union-attr]
                    b1 = np.minimum(b0 + keep[sample], b.starts[sample + 1])  # type: ignore[union-attr]
                    a0, a1 = a.starts[sample], a.starts[sample] + ka[sample]
            else:
                a1 = a0 + ka
                if b is not None:
                    b1 = b0 + kb  # type: ignore[operator]
        return assemble(template, a, b, sample, a0, a1, b0, b1, offsets=offsets, words=words)

    def _batch(self, rows: "Rows", *, padding: Optional[str], max_length: Optional[int], multiple: Optional[int],
               left: bool, tensors: Optional[str], offsets: bool, special_mask: bool, overflow: bool) -> BatchEncoding:
        lengths = np.diff(rows.starts)
        n = len(lengths)
        fields = {"input_ids": rows.ids, "token_type_ids": rows.type_ids,
                  "attention_mask": np.ones(len(rows.ids), np.int64)}
        if special_mask:
            fields["special_tokens_mask"] = rows.special
        if offsets:
            fields["offset_mapping"] = rows.offsets
        extra = {"words": rows.words, "sequences": rows.sequences}
        if padding is not None:
            width = int(lengths.max()) if n else 0
            if padding == "max_length":
                width = max(width, int(max_length))  # type: ignore[arg-type]
            if multiple:
                width = -(-width // multiple) * multiple
            pad = self.pad_token_id
            if pad is None and (lengths < width).any():
                raise ValueError(f"padding needs a pad token, and {type(self).__name__} has none; pass "
                                 "special_names={'pad_token': ...} when building it, or padding=False")
            row = np.repeat(np.arange(n), lengths)
            col = np.arange(len(rows.ids)) - np.repeat(rows.starts[:-1], lengths)
            if left:
                col += np.repeat(width - lengths, lengths)
            fills = {"input_ids": pad or 0, "token_type_ids": 0, "attention_mask": 0, "special_tokens_mask": 1,
                     "offset_mapping": 0, "words": -1, "sequences": -1}
            out = {}
            for name, flat in {**fields, **extra}.items():
                shape = (n, width) + flat.shape[1:]
                m = np.full(shape, fills[name], dtype=np.int64)
                m[row, col] = flat
                out[name] = m
            data = {k: out[k] for k in fields}
            words, sequences = out["words"], out["sequences"]
        else:
            cuts = rows.starts[1:-1]
            if tensors is not None and n and (lengths != lengths[0]).any():
                raise ValueError(f"return_tensors={tensors!r} needs rows of one length: pass padding='longest' "
                                 "(or padding='max_length')")
            if tensors is not None:
                data = {k: v.reshape((n, -1) + v.shape[1:]) for k, v in fields.items()}
            else:
                data = {k: np.split(v, cuts) for k, v in fields.items()}
            words, sequences = np.split(rows.words, cuts), np.split(rows.sequences, cuts)
        if overflow:
            data["overflow_to_sample_mapping"] = rows.sample
        if tensors == "pt":
            import torch

            data = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in data.items()}
        return BatchEncoding(data, words, sequences)

    # ------------------------------------------------------------------ files (fastembed.tokenizers.hf)

    @classmethod
    def from_pretrained(cls, path: Union[str, os.PathLike], **kwargs: Any) -> "Tokenizer":
        """The tokenizer in a HF tokenizer directory or file (``tokenizer.json``, ``vocab.txt``,
        ``vocab.json`` + ``merges.txt``, ...): see :func:`fastembed.tokenizers.hf.from_pretrained`.
        ValueError when ``path`` holds a tokenizer of another class."""
        from .hf import from_pretrained

        return from_pretrained(path, expect=cls, **kwargs)

    def save_pretrained(self, directory: Union[str, os.PathLike]) -> tuple:
        """Write a HF tokenizer directory that transformers' ``AutoTokenizer`` and HF ``tokenizers``
        load with equal ids: see :func:`fastembed.tokenizers.hf.save_pretrained`."""
        from .hf import save_pretrained

        return save_pretrained(self, directory)


def _added_pattern(tokens: Sequence[AddedToken]) -> Optional[re.Pattern]:
    """One regex for all added tokens, longest first (so the longest wins where several start at
    one place). Tokens with lstrip/rstrip take the white space on that side into the match and
    have a group ``t<id>`` each; all others share the group ``plain``."""
    if not tokens:
        return None
    plain = [t for t in tokens if not (t.lstrip or t.rstrip)]
    stripped = [t for t in tokens if t.lstrip or t.rstrip]
    parts = []
    for t in sorted(stripped, key=lambda t: len(t.content), reverse=True):
        parts.append((r"\s*" if t.lstrip else "") + f"(?P<t{t.id}>{re.escape(t.content)})" + (r"\s*" if t.rstrip else ""))
    if plain:
        parts.append("(?P<plain>" + "|".join(re.escape(t.content) for t in
                                             sorted(plain, key=lambda t: len(t.content), reverse=True)) + ")")
    return re.compile("|".join(parts))


def check_tokenizer(tokenizer: Any, where: str) -> Tokenizer:
    """``tokenizer`` itself when it implements this interface, else a TypeError saying what
    ``where`` (the caller's name) takes. Code outside this package asks the interface what a
    tokenizer provides (``cls_token_id``, ``template``, ...) instead of probing its class."""
    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"{where}: tokenizer must be a fastembed tokenizer (BPETokenizer or WordPieceTokenizer), "
                        f"got {type(tokenizer).__name__}")
    return tokenizer


def _check_text(text: Any, name: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be str, got {type(text).__name__}")


def _check_batch(texts: Any, pairs: Any) -> tuple[list[str], Optional[list[str]]]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be a list of str (got a single string; wrap it in a list, or call the "
                        "tokenizer on the string itself)")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] must be str, got {type(t).__name__}")
    if pairs is None:
        return texts, None
    if isinstance(pairs, (str, bytes)):
        raise TypeError("pairs must be a list of str, one per text (got a single string)")
    pairs = list(pairs)
    if len(pairs) != len(texts):
        raise ValueError(f"pairs must have one entry per text: {len(texts)} texts, {len(pairs)} pairs")
    for i, t in enumerate(pairs):
        if not isinstance(t, str):
            raise TypeError(f"pairs[{i}] must be str, got {type(t).__name__}")
    return texts, pairs


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)
