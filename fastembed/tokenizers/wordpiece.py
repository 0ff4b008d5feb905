"""WordPiece tokenizer for BERT checkpoints: ``vocab.txt`` in, the ids BERT was trained on out.

Basic tokenization follows BERT's (and HF tokenizers' BertNormalizer + BertPreTokenizer):
remove control characters and map white space to spaces, put spaces around CJK ideographs,
strip accents (NFD, drop non-spacing marks) and lower-case (uncased models), then split on
white space and make every punctuation character its own word. Each word is then split into
sub-words by greedy longest-match-first in the native core (csrc/bpe/wordpiece.h).

>>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!"])
>>> tok.tokenize("Unaffable!")
['un', '##aff', '##able', '!']
>>> tok.encode("Unaffable!").tolist()
[2, 5, 6, 7, 8, 3]
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

from .._native import _C
from ..io import atomic_write_text
from ._files import read_text
from .base import AddedToken, Flat, Template, Tokenizer

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
VOCAB_TXT = "a BERT vocab.txt"
MAX_CHARS_PER_WORD = 100  # longer words become [UNK] (BERT's max_input_chars_per_word)

# CJK Unified Ideographs blocks that BERT splits into single characters.
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_whitespace(c: str) -> bool:
    # The White_Space property (Python's isspace adds U+001C..U+001F, which BERT treats as controls).
    return c in " \t\n\r" or (c.isspace() and not "\x1c" <= c <= "\x1f")


def _is_control(c: str) -> bool:
    # Not Cn: HF tokenizers keeps unassigned code points (csrc/bpe/gen_bert_tables.py).
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def _lower(text: str) -> str:
    # Each character on its own, as HF tokenizers (Rust's char::to_lowercase): str.lower's only
    # context rule, a final sigma, does not apply.
    return text.lower() if "\u03a3" not in text else "".join(c.lower() for c in text)


def _is_punctuation(c: str) -> bool:
    o = ord(c)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(c: str) -> bool:
    o = ord(c)
    return any(lo <= o <= hi for lo, hi in _CJK)


# What normalize + pre_tokenize do with a character, decided once per distinct character.
_DROP, _SPACE, _ALONE, _WORD = range(4)
_KIND: dict[str, int] = {}


def _kind(c: str) -> int:
    k = _KIND.get(c)
    if k is None:
        if c in ("\0", "\ufffd") or _is_control(c):
            k = _DROP                                   # removed by normalize: joins its neighbours
        elif _is_whitespace(c):
            k = _SPACE
        elif _is_punctuation(c) or _is_cjk(c):
            k = _ALONE                                  # a word of its own
        else:
            k = _WORD
        _KIND[c] = k
    return k


# ASCII text, the common case, in two C-level passes with the same result: normalize deletes the
# control characters (keeping tab, newline and carriage return as white space), then a word is a
# run of letters and digits and every other printable non-space character (all of them are BERT
# punctuation) is a word of its own.
_ASCII_CONTROLS = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 127])
_ASCII_WORDS = re.compile(r"[A-Za-z0-9]+|[!-/:-@\[-`{-~]")
# The White_Space property, which splits words when clean_text has not made all of it ' '.
_WHITE_SPACE = re.compile("[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


class WordPieceTokenizer(Tokenizer):
    """BERT's tokenizer. ``vocab`` is the list of entries (line i of vocab.txt is id i).

    The normalizer options are HF ``BertNormalizer``'s: ``clean_text`` (drop control characters,
    white space to spaces), ``handle_chinese_chars`` (CJK ideographs become words of their own),
    ``strip_accents`` (default: as ``lowercase``) and ``lowercase``. The five special tokens must
    be in the vocabulary; they are matched in text as HF does (see :meth:`__call__`), and
    ``template`` (default ``[CLS] $A [SEP]`` / ``[CLS] $A [SEP] $B:1 [SEP]:1``) places them.
    """

    def __init__(self, vocab: Sequence[str], *, lowercase: bool = True, strip_accents: bool | None = None,
                 unk_token: str = "[UNK]", cls_token: str = "[CLS]", sep_token: str = "[SEP]",
                 pad_token: str = "[PAD]", mask_token: str = "[MASK]", max_chars_per_word: int = MAX_CHARS_PER_WORD,
                 clean_text: bool = True, handle_chinese_chars: bool = True, prefix: str = "##",
                 added_tokens: Iterable[AddedToken] | None = None, template: Template | None = None,
                 model_max_length: int | None = None) -> None:
        self.vocab = list(vocab)
        self._ids: dict[str, int] = {}
        for i, t in enumerate(self.vocab):
            self._ids.setdefault(t, i)
        names = {"unk_token": unk_token, "cls_token": cls_token, "sep_token": sep_token,
                 "pad_token": pad_token, "mask_token": mask_token}
        for name, tok in names.items():
            if tok not in self._ids:
                raise ValueError(f"{name} {tok!r} is not in the vocabulary")
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"prefix (the continuing-subword prefix) must be a non-empty string, got {prefix!r}")
        self.lowercase = bool(lowercase)
        self.strip_accents = self.lowercase if strip_accents is None else bool(strip_accents)
        self.clean_text = bool(clean_text)
        self.handle_chinese_chars = bool(handle_chinese_chars)
        self.prefix = prefix
        self.unk_id, self.cls_id, self.sep_id = (self._ids[t] for t in (unk_token, cls_token, sep_token))
        self.pad_id, self.mask_id = self._ids[pad_token], self._ids[mask_token]
        self.special_tokens = {t: self._ids[t] for t in names.values()}
        self.max_chars_per_word = max_chars_per_word
        self._token_names = names
        self._wp = _C.WordPiece([t.encode("utf-8") for t in self.vocab], self.unk_id, prefix, max_chars_per_word)
        if added_tokens is None:
            added_tokens = [AddedToken(t, i) for t, i in self.special_tokens.items()]
        if template is None:
            template = Template.parse(f"{cls_token} $A {sep_token}", f"{cls_token} $A {sep_token} $B:1 {sep_token}:1")
        self._surface(added_tokens=added_tokens, template=template, special_names=names,
                      model_max_length=model_max_length)

    @classmethod
    def from_vocab(cls, path: str | os.PathLike, **kwargs) -> "WordPieceTokenizer":
        """Read a BERT ``vocab.txt`` (one entry per line, line i is id i). ValueError naming the
        file when it is not UTF-8 or lacks a special token; FileNotFoundError / IsADirectoryError
        for a path that is not a file."""
        lines = read_text(path, VOCAB_TXT).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            raise ValueError(f"{path} is empty; expected one vocabulary entry per line")
        try:
            return cls([ln.rstrip("\r") for ln in lines], **kwargs)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def train(cls, texts: Iterable[str] | None = None, *, files: Iterable[str | os.PathLike] = (), vocab_size: int,
              min_frequency: int = 2, lowercase: bool = True, strip_accents: bool | None = None,
              special_tokens: Sequence[str] = SPECIALS, max_chars_per_word: int = MAX_CHARS_PER_WORD,
              progress: bool | None = None, unk_token: str = "[UNK]", cls_token: str = "[CLS]",
              sep_token: str = "[SEP]", pad_token: str = "[PAD]", mask_token: str = "[MASK]") -> "WordPieceTokenizer":
        """Learn a BERT vocabulary of at most ``vocab_size`` entries from texts and/or files (each
        line on its own), e.g. to pretrain a BERT from scratch; :meth:`save` writes its vocab.txt.

        1. Every text and line goes through this tokenizer's own basic tokenization
           (:meth:`pre_tokenize` with ``lowercase`` / ``strip_accents``: clean-up, lower-casing,
           accent stripping, punctuation and CJK splitting) and the words are counted (streamed;
           words longer than ``max_chars_per_word``, which are [UNK] anyway, are left out).
        2. The counts go to the native byte-level BPE trainer as precomputed pieces, each word
           prefixed by one space (taken as they are, never re-split), so the merged tokens that
           start with a space are exactly the word-initial pieces. Training stops when no pair
           occurs ``min_frequency`` times.
        3. The vocabulary is, in this order: ``special_tokens`` (ids 0, 1, ... as given); the
           alphabet, every character occurring at least ``min_frequency`` times, sorted, as word
           starts ``c`` and then as continuations ``##c`` (except punctuation and CJK characters,
           which the basic tokenizer always makes words of their own); then the BPE tokens in merge
           order: a token starting with the space byte becomes the rest (a word-initial piece), any
           other ``"##"`` + its text; tokens that are part of a multi-byte character, and entries
           already present, are skipped. It stops at ``vocab_size`` entries; if the corpus has too
           few frequent pairs to get there, the vocabulary is smaller and a UserWarning says so.
           Rarer characters are not in the vocabulary, so words with them encode as [UNK], as in BERT.

        Inference is WordPiece's greedy longest-match-first, as for any BERT vocabulary; the result
        is deterministic. ``special_tokens`` must be distinct and include ``unk_token``,
        ``cls_token``, ``sep_token``, ``pad_token`` and ``mask_token``. ValueError when there is no
        text, or when ``vocab_size`` cannot hold the special tokens and the alphabet (the message
        gives the minimum). ``progress`` draws a bar for the merges (default: when stderr is a terminal).

        >>> tok = WordPieceTokenizer.train(["Unaffable, unbelievable!"] * 10, vocab_size=40)
        >>> tok.tokenize("unaffable")
        ['unaffable']
        """
        from .wordpiece_train import train_wordpiece

        names = {"unk_token": unk_token, "cls_token": cls_token, "sep_token": sep_token, "pad_token": pad_token,
                 "mask_token": mask_token}
        return train_wordpiece(cls, texts, files=files, vocab_size=vocab_size, min_frequency=min_frequency,
                               lowercase=lowercase, strip_accents=strip_accents, special_tokens=special_tokens,
                               max_chars_per_word=max_chars_per_word, progress=progress, token_names=names)

    def save(self, path: str | os.PathLike) -> None:
        """Write a BERT ``vocab.txt`` (entry i on line i), atomically; :meth:`from_vocab` and HF's
        BertTokenizer(Fast) read it back."""
        for t in self.vocab:
            if "\n" in t or "\r" in t:
                raise ValueError(f"vocabulary entry {t!r} holds a line break; vocab.txt cannot store it")
        atomic_write_text(path, "".join(t + "\n" for t in self.vocab))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def token_to_id(self, token: str) -> int | None:
        """The id of vocabulary entry ``token`` (the first, if vocab.txt repeats it), or None."""
        i = self._ids.get(token)
        return i if i is not None else self._added_ids.get(token)

    def id_to_token(self, id: int) -> str:
        return self.convert_ids_to_tokens([id])[0]

    # ------------------------------------------------------------------ basic tokenization

    def normalize(self, text: str) -> str:
        """Clean, space CJK, strip accents, lower-case (in BERT's order)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        if not text.isascii():
            out = []
            for c in text:
                if self.clean_text and (c in ("\0", "\ufffd") or _is_control(c)):
                    continue
                if self.clean_text and _is_whitespace(c):
                    out.append(" ")
                elif self.handle_chinese_chars and _is_cjk(c):
                    out.append(f" {c} ")
                else:
                    out.append(c)
            text = "".join(out)
            if self.strip_accents:
                text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        elif self.clean_text:
            text = "".join(" " if c in "\t\n\r" else c for c in text if c in "\t\n\r" or " " <= c < "\x7f")
        return _lower(text) if self.lowercase else text

    def pre_tokenize(self, text: str) -> list[str]:
        """Normalized words: split on white space, each punctuation character a word of its own."""
        if isinstance(text, str) and text.isascii() and self.clean_text:
            text = text.translate(_ASCII_CONTROLS)
            return _ASCII_WORDS.findall(text.lower() if self.lowercase else text)
        return self._pre_tokenize_any(text)

    def _pre_tokenize_any(self, text: str) -> list[str]:
        """:meth:`pre_tokenize` character by character, for any text (the tests hold the ASCII
        shortcut to it)."""
        words: list[str] = []
        text = self.normalize(text)
        for chunk in text.split() if self.clean_text else filter(None, _WHITE_SPACE.split(text)):
            start = 0
            for i, c in enumerate(chunk):
                if _is_punctuation(c):
                    if i > start:
                        words.append(chunk[start:i])
                    words.append(c)
                    start = i + 1
            if start < len(chunk):
                words.append(chunk[start:])
        return words

    def word_spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` character spans, in the *original* ``text``, of the words
        :meth:`pre_tokenize` gives: white space separates words, every punctuation mark and CJK
        ideograph is a word of its own, and control characters vanish without separating
        anything. The normalized ``text[start:end]`` of each span is its word (a test checks
        this on random text); extractive QA maps answers back to the context with it.

        >>> WordPieceTokenizer(list(SPECIALS)).word_spans("Don't stop!")
        [(0, 3), (3, 4), (4, 5), (6, 10), (10, 11)]
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be str, got {type(text).__name__}")
        spans: list[tuple[int, int]] = []
        start = end = -1                                    # the word being built, -1: none
        for i, c in enumerate(text):
            k = _kind(c)
            if k == _WORD:
                if start < 0:
                    start = i
                end = i + 1
            elif k != _DROP:
                if start >= 0:
                    spans.append((start, end))
                    start = -1
                if k == _ALONE:
                    spans.append((i, i + 1))
        if start >= 0:
            spans.append((start, end))
        return spans

    # ------------------------------------------------------------------ encoding

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text`` as strings (no [CLS]/[SEP])."""
        ids, _ = self._wp.encode_words(self.pre_tokenize(text))
        return [self.vocab[i] for i in ids.tolist()]

    def encode_words(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(ids, word index of each id) for already pre-tokenized words, e.g. CoNLL tokens; the
        first piece of each word is where a word-level label goes."""
        pieces: list[str] = []
        owner: list[int] = []
        for w, word in enumerate(words):
            parts = self.pre_tokenize(word)
            pieces += parts
            owner += [w] * len(parts)
        ids, piece_of = self._wp.encode_words(pieces)
        owner_arr = np.asarray(owner, dtype=np.uint32)
        return ids, owner_arr[piece_of] if len(ids) else piece_of

    def encode_with_types(self, text: str, pair: str | None = None, *,
                          add_special_tokens: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(ids, type ids): type 0 for [CLS] A [SEP], 1 for B [SEP] (uint32, uint8)."""
        rows = self._rows([text], None if pair is None else [pair], add_special_tokens=add_special_tokens,
                          truncation=False, max_length=None, stride=0, overflow=False, split_special_tokens=False,
                          offsets=False, words=False)
        return rows.ids.astype(np.uint32), rows.type_ids.astype(np.uint8)

    # ------------------------------------------------------------------ decoding

    def convert_ids_to_tokens(self, ids: Iterable[int]) -> list[str]:
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.vocab):
                raise ValueError(f"token id {i} is not in the vocabulary (size {len(self.vocab)})")
            out.append(self.vocab[i])
        return out

    def decode(self, ids: Iterable[int], *, skip_special_tokens: bool = True) -> str:
        """Pieces joined back into (normalized) text: '##' pieces attach to the previous one."""
        ids = list(ids)
        specials = set(self.special_tokens.values()) if skip_special_tokens else set()
        text = ""
        for i, tok in zip(ids, self.convert_ids_to_tokens(ids)):
            if int(i) in specials:
                continue
            text += tok[2:] if tok.startswith("##") else (" " + tok if text else tok)
        return text

    # ------------------------------------------------------------------ pickling and copying

    def __getstate__(self) -> dict:
        # The native WordPiece cannot be pickled; the constructor's arguments can, and build it again.
        return {"vocab": self.vocab, "lowercase": self.lowercase, "strip_accents": self.strip_accents,
                "max_chars_per_word": self.max_chars_per_word, "clean_text": self.clean_text,
                "handle_chinese_chars": self.handle_chinese_chars, "prefix": self.prefix, **self._token_names,
                **{k: v for k, v in self._surface_state().items() if k != "special_names"}}

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        self.__init__(state.pop("vocab"), **state)  # type: ignore[misc]

    def __copy__(self) -> WordPieceTokenizer:
        # The native table never changes after construction, so a shallow copy shares it.
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def __repr__(self) -> str:
        return f"WordPieceTokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase})"

    def _encode_flat(self, texts: list[str], *, offsets: bool = False, words: bool = False) -> Flat:
        """The whole pipeline (normalize, pre-tokenize, WordPiece) of a list of str in the native
        core (csrc/bpe/bert_text.h), GIL released, on all threads: ``(ids, starts, offsets,
        words)``, text i's ids being ``ids[starts[i]:starts[i + 1]]`` (no [CLS]/[SEP]); with
        ``offsets`` an int64 (N, 2) array of each token's [start, end) character span in its
        text, with ``words`` the int32 index of its word in the text, both as HF tokenizers'
        Encoding.offsets / word_ids. A lone surrogate is a control character (category Cs):
        clean_text removes it; without clean_text its word is [UNK]."""
        return Flat(*self._wp.encode_flat(texts, self.lowercase, self.strip_accents, self.clean_text,
                                          self.handle_chinese_chars, offsets, words))
