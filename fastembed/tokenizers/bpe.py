"""Byte-level BPE tokenizer: train, encode, decode, save and load, import GPT-2 / tiktoken files.

Text becomes tokens by byte pair encoding (Sennrich et al. 2016) over UTF-8 bytes (GPT-2,
Radford et al. 2019): every byte is a token, so no input is ever out of vocabulary, and training
repeatedly merges the most frequent adjacent pair until the vocabulary budget is spent.

>>> from fastembed.tokenizers import BPETokenizer
>>> tok = BPETokenizer.train(["low lower lowest", "new newer newest"] * 50, vocab_size=270, progress=False)
>>> ids = tok.encode("lower newest")
>>> tok.decode(ids)
'lower newest'
>>> [tok.decode_single_token_bytes(t) for t in ids]
[b'lo', b'wer', b' newest']

The work happens in the native core (csrc/bpe/): pre-tokenization with the GPT-2 split pattern,
multi-threaded word counting, training with incremental pair counts, and encoding with a
whole-word shortcut. The semantics are spelled out in csrc/bpe/train.h and encoder.h, and
``_reference.py`` implements the same in plain Python for the tests.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, Collection, Literal, Union

import numpy as np

from .._native import _C
from .._progress import run_native
from ..io import atomic_write_text
from ._bpe_files import (
    FORMAT,
    FORMAT_VERSION,
    check_special_ids,
    read_gpt2,
    read_tiktoken,
    read_tokenizer_json,
)
from ._files import check_is_file
from .base import BATCH_CHUNK as SIDE_CHUNK, AddedToken, Flat, Template, Tokenizer

PATTERNS = ("gpt2", "cl100k")
_BATCH_BYTES = 8 << 20  # texts are handed to the native counter in batches of about this size
BATCH_CHUNK = 4096     # texts per native call of encode_batch (each call runs on all threads)

SpecialSet = Union[Literal["all"], Collection[str]]


class BPETokenizer(Tokenizer):
    """A byte-level BPE vocabulary with its merge rules and special tokens.

    ``vocab[i]`` is token ``i``'s bytes; ``rules`` is a (R, 4) uint32 array of merge rules
    ``(left, right, rank, id)``: adjacent tokens ``left, right`` become ``id``, lowest rank first.
    Build one with :meth:`train`, :meth:`load`, :meth:`from_gpt2_files` or :meth:`from_tiktoken`.

    ``special_tokens`` (text -> id) are the added tokens; ``template`` (none by default, as for
    GPT-2) places special tokens around texts in :meth:`__call__`; ``special_names`` names them
    (default: ``<|endoftext|>``, when present, is the bos, eos and unk token, as in GPT-2);
    ``trim_offsets`` leaves a token's leading and trailing spaces out of its offsets, and
    ``prefix_space`` keeps the one leading space of a token that starts at the beginning of the
    text (HF's ByteLevel post-processor options ``trim_offsets`` and ``add_prefix_space``).
    """

    def __init__(self, vocab: list[bytes], rules: np.ndarray, *, pattern: str = "gpt2",
                 special_tokens: Mapping[str, int] | None = None, trace: list[dict] | None = None,
                 added_tokens: Iterable[AddedToken] | None = None, template: Template | None = None,
                 special_names: Mapping[str, str] | None = None, model_max_length: int | None = None,
                 trim_offsets: bool = False, prefix_space: bool = True) -> None:
        self._custom = _custom_pattern(pattern)
        rules = np.ascontiguousarray(rules, dtype=np.uint32).reshape(-1, 4)
        self._enc = _C.BpeEncoder(list(vocab), rules, "gpt2" if self._custom else pattern)
        self.pattern = pattern
        self.rules = rules
        added = list(added_tokens or ())
        specials = dict(special_tokens or {})
        for t in added:
            if isinstance(t, AddedToken):
                specials.setdefault(t.content, t.id)
        self.special_tokens = check_special_ids(specials, 0, self._enc.vocab_size)
        for text, i in self.special_tokens.items():
            if self._token_bytes(i) != text.encode("utf-8"):
                raise ValueError(f"special token {text!r} -> {i}: the vocabulary has no such token with those bytes")
        self.trace = trace
        self.trim_offsets = bool(trim_offsets)
        self.prefix_space = bool(prefix_space)
        known = {t.content for t in added if isinstance(t, AddedToken)}
        added += [AddedToken(t, i) for t, i in self.special_tokens.items() if t not in known]
        if special_names is None:
            eot = "<|endoftext|>"
            special_names = {"bos_token": eot, "eos_token": eot, "unk_token": eot} if eot in self.special_tokens else {}
        self._surface(added_tokens=added, template=template, special_names=special_names,
                      model_max_length=model_max_length)
        self._lengths: np.ndarray | None = None  # token byte lengths etc., built on first use

    # ------------------------------------------------------------------ training

    @classmethod
    def train(cls, texts: Iterable[str | bytes] | None = None, *, files: Iterable[str | os.PathLike] = (),
              counts: Mapping[str | bytes, int] | None = None, vocab_size: int, pattern: str = "gpt2",
              min_frequency: int = 2, special_tokens: Iterable[str] = (), trace: bool = False,
              progress: bool | None = None) -> "BPETokenizer":
        """Train on any mix of texts (each pre-tokenized on its own), files (each line on its own)
        and precomputed word counts (piece -> count, e.g. merged from a map-reduce job).

        ``vocab_size`` counts the 256 byte tokens, the merges and the special tokens (which get
        the last ids). Training stops early when no pair occurs ``min_frequency`` times.
        ``trace=True`` keeps every merge (pair, new token, count) in ``tokenizer.trace``.
        ``progress`` draws a bar on stderr (default: when stderr is a terminal); Ctrl-C stops.

        ``pattern`` is "gpt2" or "cl100k" (native scanners), or any other regular expression for
        the `regex` module (the slower path: Python splits, the native core counts and merges).
        """
        _custom_pattern(pattern)
        specials = _check_specials(list(special_tokens), pattern)
        _check_int("vocab_size", vocab_size)
        _check_int("min_frequency", min_frequency)
        num_merges = vocab_size - 256 - len(specials)
        if num_merges < 0:
            raise ValueError(f"vocab_size must be at least 256 (the byte tokens) + {len(specials)} special "
                             f"tokens = {256 + len(specials)}, got {vocab_size}")
        word_counts = count_words(texts, files=files, counts=counts, pattern=pattern, progress=progress)
        if len(word_counts) == 0:
            raise ValueError("no training text: texts, files and counts are all empty")
        merges = run_native(lambda p: _C.bpe_train_counts(word_counts, num_merges, min_frequency, p),
                            desc="BPE merges", unit="merges", show=progress)
        vocab = [bytes([b]) for b in range(256)]
        for left, right, _, _ in merges:
            vocab.append(vocab[left] + vocab[right])
        rules = np.column_stack([merges[:, 0], merges[:, 1], merges[:, 2], merges[:, 2]]).astype(np.uint32)
        special_ids = {}
        for s in specials:
            special_ids[s] = len(vocab)
            vocab.append(s.encode("utf-8"))
        steps = None
        if trace:
            steps = [{"pair": (int(l), int(r)), "token": int(i), "bytes": vocab[i], "count": int(c)}
                     for l, r, i, c in merges.tolist()]
        return cls(vocab, rules, pattern=pattern, special_tokens=special_ids, trace=steps)

    # ------------------------------------------------------------------ encoding

    @property
    def vocab_size(self) -> int:
        """Number of tokens, special tokens included (ids are 0 .. vocab_size - 1)."""
        return self._enc.vocab_size

    @property
    def n_vocab(self) -> int:
        """``vocab_size``, by tiktoken's name."""
        return self._enc.vocab_size

    def token_to_id(self, token: str) -> int | None:
        """The id of ``token`` spelled as HF spells byte-level tokens (GPT-2's byte-to-unicode
        alphabet: ``"Ġworld"`` is b" world"), or of an added token by its text; None if there is
        none. :meth:`token_id` looks up raw bytes."""
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, got {type(token).__name__}")
        i = self.special_tokens.get(token)
        if i is not None:
            return i
        try:
            raw = bytes(_BYTE_DECODER[c] for c in token)
        except KeyError:
            return None
        return self._enc.token_id(raw) if raw else None

    def id_to_token(self, id: int) -> str:
        """Token ``id`` spelled as HF spells byte-level tokens (added tokens as their text)."""
        for text, i in self.special_tokens.items():
            if i == id:
                return text
        return "".join(_BYTE_ENCODER[b] for b in self.decode_single_token_bytes(id))

    def encode_ordinary(self, text: str | bytes) -> np.ndarray:
        """Token ids of ``text`` as a uint32 array; special-token text is encoded as ordinary text."""
        return self._encode_native(text)

    def encode(self, text: str | bytes, pair: str | None = None, *, allowed_special: SpecialSet = (),
               disallowed_special: SpecialSet = "all", add_special_tokens: bool = True,
               max_length: int | None = None, truncation: bool | str = False) -> np.ndarray:
        """Token ids of ``text`` (str or bytes) as a uint32 array.

        As in tiktoken: text matching a special token in ``allowed_special`` becomes that token;
        text matching one in ``disallowed_special`` (default: every special token not allowed)
        raises ValueError, so user input cannot inject control tokens by accident. Pass
        ``disallowed_special=()`` to encode such text as ordinary text.

        With a ``pair``, truncation, or a template (``add_special_tokens``), the result is
        :meth:`__call__`'s row (then ``allowed_special`` must be () or "all").
        """
        if pair is not None or truncation or (self.template is not None and add_special_tokens):
            return self._encode_full([text], None if pair is None else [pair], allowed_special, disallowed_special,
                                     add_special_tokens, max_length, truncation)[0]
        if type(text) is str and not allowed_special and disallowed_special == "all":
            # The default, and one call per record is how many pipelines tokenize: no sets to build,
            # one substring scan per special token (C speed), then the native encoder.
            for special in self.special_tokens:
                if special in text:
                    self._refuse_special(special)
            return self._encode_native(text)
        allowed, disallowed = self._special_sets(allowed_special, disallowed_special)
        s = text.decode("utf-8", "surrogateescape") if isinstance(text, bytes) else text
        if not isinstance(s, str):
            raise TypeError(f"encode: text must be str or bytes, got {type(text).__name__}")
        for special in disallowed:
            if special in s:
                self._refuse_special(special)
        if not allowed:
            return self._encode_native(text)
        parts: list[np.ndarray] = []
        start = 0
        for pos, special in _find_specials(s, allowed):
            if pos > start:
                parts.append(self._encode_native(_slice(text, s, start, pos)))
            parts.append(np.array([self.special_tokens[special]], dtype=np.uint32))
            start = pos + len(special)
        if start < len(s) or not parts:
            parts.append(self._encode_native(_slice(text, s, start, len(s))))
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def encode_batch(self, texts: Iterable[str | bytes], pairs: Iterable[str] | None = None, *,
                     allowed_special: SpecialSet = (), disallowed_special: SpecialSet = "all",
                     add_special_tokens: bool = True, max_length: int | None = None,
                     truncation: bool | str = False) -> list[np.ndarray]:
        """:meth:`encode` of each text, on all native threads (see fastembed.set_num_threads).
        Texts go to the native encoder :data:`BATCH_CHUNK` at a time, so Ctrl-C stops a huge
        batch within a chunk's time instead of at its end."""
        texts = list(texts)
        if pairs is not None or truncation or (self.template is not None and add_special_tokens):
            return self._encode_full(texts, None if pairs is None else list(pairs), allowed_special,
                                     disallowed_special, add_special_tokens, max_length, truncation)
        allowed, disallowed = self._special_sets(allowed_special, disallowed_special)
        disallowed_bytes = [d.encode("utf-8") for d in disallowed]
        if allowed or any(d in t for t in texts if isinstance(t, str) for d in disallowed) or \
                any(d in t for t in texts if isinstance(t, bytes) for d in disallowed_bytes):
            return [self.encode(t, allowed_special=allowed_special, disallowed_special=disallowed_special)
                    for t in texts]
        if self._custom is not None:
            return [self._encode_native(t) for t in texts]
        out: list[np.ndarray] = []
        for i in range(0, len(texts), BATCH_CHUNK):  # between chunks, Ctrl-C gets through
            chunk = texts[i:i + BATCH_CHUNK]
            try:
                out += self._enc.encode_ordinary_batch(chunk)
            except UnicodeEncodeError:
                out += self._enc.encode_ordinary_batch([_utf8(t) for t in chunk])
        return out

    def _encode_full(self, texts: list, pairs: list | None, allowed_special: SpecialSet, disallowed_special: SpecialSet,
                     add_special_tokens: bool, max_length: int | None, truncation: bool | str) -> list[np.ndarray]:
        """encode_batch through the shared pipeline (template, pairs, truncation), with tiktoken's
        rules for special-token text checked first."""
        allowed, disallowed = self._special_sets(allowed_special, disallowed_special)
        if allowed and allowed != set(self.special_tokens):
            raise ValueError("with a pair, truncation or a template, allowed_special must be () or 'all'")
        everything = texts + (pairs or [])
        for t in everything:
            if not isinstance(t, str):
                raise TypeError(f"with a pair, truncation or a template, texts must be str, got {type(t).__name__}")
            for special in disallowed:
                if special in t:
                    self._refuse_special(special)
        return Tokenizer.encode_batch(self, texts, pairs, add_special_tokens=add_special_tokens, max_length=max_length,
                                      truncation=truncation, split_special_tokens=not allowed)

    def pre_tokenize(self, text: str | bytes) -> list[bytes]:
        """``text`` split into the pieces that BPE merges within (special tokens are not split
        out: this is ordinary text), by the tokenizer's pattern, exactly as encoding splits it.

        >>> BPETokenizer.train(["hi there"], vocab_size=256, progress=False).pre_tokenize("Hello, world!")
        [b'Hello', b',', b' world', b'!']
        """
        return pre_tokenize(text, self.pattern)

    def _encode_flat(self, texts: list[str], *, offsets: bool = False, words: bool = False) -> Flat:
        if self._custom is not None:
            flat = self._encode_flat_custom(texts, offsets=offsets, words=words)
        else:
            try:
                flat = Flat(*self._enc.encode_flat(texts, offsets, words))
            except UnicodeEncodeError:  # lone surrogates: their surrogatepass bytes, 3 per character
                flat = Flat(*self._enc.encode_flat([_utf8(t) for t in texts], offsets, words))
        if offsets and self.trim_offsets and len(flat.ids):
            lead, trail = self._space_counts()
            o = flat.offsets
            lead, trail = lead[flat.ids], trail[flat.ids]
            if self.prefix_space:  # HF: a first token (offset 0) keeps a single leading space
                lead = np.where((o[:, 0] == 0) & (lead == 1), 0, lead)
            start = np.minimum(o[:, 0] + lead, o[:, 1])
            end = np.where(o[:, 1] >= trail, np.maximum(o[:, 1] - trail, start), o[:, 1])
            flat = flat._replace(offsets=np.column_stack([start, end]))
        return flat

    def _encode_flat_custom(self, texts: list[str], *, offsets: bool, words: bool) -> Flat:
        """``_encode_flat`` for a custom split pattern: the pieces come from Python's regex."""
        ids: list[np.ndarray] = []
        offs: list[np.ndarray] = []
        wds: list[np.ndarray] = []
        rows = []
        lengths = self._token_lengths()
        for text in texts:
            raw = _utf8(text)
            char_of = np.cumsum((np.frombuffer(raw, np.uint8) & 0xC0) != 0x80) - 1  # byte -> its character
            pos = row = 0
            for w, piece in enumerate(_split_custom(self._custom, text)):
                t = self._enc.encode_piece(piece).astype(np.int64)
                ends = pos + np.cumsum(lengths[t])
                ids.append(t)
                wds.append(np.full(len(t), w, np.int32))
                offs.append(np.column_stack([char_of[ends - lengths[t]], char_of[ends - 1] + 1]))
                pos += len(piece)
                row += len(t)
            rows.append(row)
        starts = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(rows, out=starts[1:])
        return Flat(np.concatenate(ids).astype(np.uint32) if ids else np.zeros(0, np.uint32), starts,
                    (np.concatenate(offs) if offs else np.zeros((0, 2), np.int64)) if offsets else None,
                    (np.concatenate(wds) if wds else np.zeros(0, np.int32)) if words else None)

    def _token_lengths(self) -> np.ndarray:
        if self._lengths is None:
            self._lengths = np.array([len(self._token_bytes(i)) for i in range(self.n_vocab)], np.int64)
        return self._lengths

    def _encode_side(self, texts: list[str], *, split_special_tokens: bool, offsets: bool, words: bool) -> Flat:
        flat = super()._encode_side(texts, split_special_tokens=split_special_tokens, offsets=offsets, words=words)
        if offsets and self.trim_offsets and not split_special_tokens and self.added_tokens and len(flat.ids) \
                and len(texts) <= SIDE_CHUNK:  # (a longer list comes back here a chunk at a time)
            flat = self._trim_around_added(texts, flat)
        return flat

    def _trim_around_added(self, texts: list[str], flat: Flat) -> Flat:
        """trim_offsets where texts hold added tokens, as HF's ByteLevel post-processor: white space
        at either end of an added token's match (an lstrip / rstrip token takes it in) leaves its
        offsets; prefix_space keeps one leading space only at the start of the text, not at the
        start of the text after an added token (which _encode_flat sees as a text of its own)."""
        is_added = np.isin(flat.ids, np.fromiter(self._added_ids.values(), np.int64))
        at = np.flatnonzero(is_added)
        if not len(at):
            return flat
        offs = flat.offsets.copy()  # type: ignore[union-attr]
        rows = np.searchsorted(flat.starts, at, side="right") - 1
        lead_of, trail_of = self._space_counts()
        lengths = self._token_lengths()
        for k, r in zip(at.tolist(), rows.tolist()):
            s, e = offs[k].tolist()
            piece = texts[r][s:e]
            lead = len(piece) - len(piece.lstrip(_HF_SPACE))
            trail = len(piece) - len(piece.rstrip(_HF_SPACE))
            if self.prefix_space and s == 0 and lead == 1:
                lead = 0
            s = min(s + lead, e)
            offs[k] = (s, max(e - trail, s))
            nxt = k + 1  # the first token of the text that follows, if it kept its one leading space
            if not self.prefix_space or nxt >= flat.starts[r + 1] or is_added[nxt] or lead_of[flat.ids[nxt]] != 1:
                continue
            t = int(flat.ids[nxt])
            s, e = offs[nxt].tolist()
            if texts[r][s:s + 1] != " ":
                continue
            o1 = s + int(lengths[t]) if lengths[t] == lead_of[t] else e + int(trail_of[t])  # its untrimmed end
            s = min(s + 1, o1)
            offs[nxt] = (s, max(o1 - int(trail_of[t]), s))
        return flat._replace(offsets=offs)

    def _space_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Leading and trailing space bytes of every token (for trim_offsets)."""
        if getattr(self, "_spaces", None) is None:
            tokens = [self._token_bytes(i) for i in range(self.n_vocab)]
            lead = np.array([len(t) - len(t.lstrip(b" ")) for t in tokens], np.int64)
            trail = np.array([len(t) - len(t.rstrip(b" ")) for t in tokens], np.int64)
            self._spaces = (lead, trail)
        return self._spaces

    def _encode_native(self, text: str | bytes) -> np.ndarray:
        if self._custom is not None:
            return self._enc.encode_pieces(_split_custom(self._custom, text))
        try:
            return self._enc.encode_ordinary(text)
        except UnicodeEncodeError:  # lone surrogates: keep their bytes (decode(errors="surrogatepass") gives them back)
            return self._enc.encode_ordinary(_utf8(text))

    @staticmethod
    def _refuse_special(special: str) -> None:
        raise ValueError(f"encode: the text contains the special token {special!r}, which is disallowed; "
                         f"pass allowed_special={{{special!r}}} to encode it as the special token, or "
                         f"disallowed_special=() to encode it as ordinary text")

    def _special_sets(self, allowed: SpecialSet, disallowed: SpecialSet) -> tuple[set[str], set[str]]:
        names = set(self.special_tokens)
        allowed_set = names if allowed == "all" else set(allowed)
        unknown = allowed_set - names
        if unknown:
            raise ValueError(f"allowed_special names tokens this tokenizer does not have: {sorted(unknown)}")
        disallowed_set = names - allowed_set if disallowed == "all" else set(disallowed)
        return allowed_set, disallowed_set

    # ------------------------------------------------------------------ decoding

    def decode_bytes(self, ids: Iterable[int] | np.ndarray) -> bytes:
        """The bytes of a sequence of token ids; ValueError for an id outside the vocabulary."""
        return self._enc.decode(_as_ids(ids))

    def decode(self, ids: Iterable[int] | np.ndarray, errors: str = "replace", *,
               skip_special_tokens: bool = False) -> str:
        """The text of a sequence of token ids; bytes that are not UTF-8 become U+FFFD (or as
        ``errors`` says: "strict", "surrogateescape", ...). ``skip_special_tokens`` leaves the
        added tokens out."""
        ids = _as_ids(ids)
        if skip_special_tokens and self.special_tokens:
            ids = ids[~np.isin(ids, np.fromiter(self.special_tokens.values(), np.uint32))]
        return self.decode_bytes(ids).decode("utf-8", errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        return self._enc.token_bytes(token)

    def _token_bytes(self, token: int) -> bytes:
        """The token's bytes; b"" for an id with no token (tiktoken vocabularies leave some
        before their special tokens)."""
        try:
            return self._enc.token_bytes(token)
        except ValueError:
            return b""

    def _is_gap(self, token: int) -> bool:
        return self._token_bytes(token) == b""

    def token_id(self, piece: str | bytes) -> int | None:
        """The id of the token whose bytes are exactly ``piece``, or None."""
        return self._enc.token_id(piece)

    def explain(self, word: str | bytes) -> list[dict[str, Any]]:
        """How BPE encodes one pre-token: the byte tokens, then each merge in the order applied.

        Each step is ``{"merge": (left_bytes, right_bytes), "rank": r, "token": id, "parts": [...]}``
        where ``parts`` is the piece's tokens (as bytes) after the merge.
        """
        piece = word.encode("utf-8", "surrogatepass") if isinstance(word, str) else bytes(word)
        rules = {(int(l), int(r)): (int(k), int(i)) for l, r, k, i in self.rules}
        parts = [self._enc.token_id(bytes([b])) for b in piece]
        tb = self.decode_single_token_bytes
        steps: list[dict[str, Any]] = [{"merge": None, "rank": None, "token": None, "parts": [tb(t) for t in parts]}]
        while len(parts) > 1:
            found = [(rules[p][0], i) for i, p in enumerate(zip(parts, parts[1:])) if p in rules]
            if not found:
                break
            rank, i = min(found)
            new = rules[(parts[i], parts[i + 1])][1]
            steps.append({"merge": (tb(parts[i]), tb(parts[i + 1])), "rank": rank, "token": new,
                          "parts": None})
            parts[i:i + 2] = [new]
            steps[-1]["parts"] = [tb(t) for t in parts]
        return steps

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as versioned JSON (atomically: a crash never leaves half a file)."""
        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "pattern": self.pattern,
            "tokens": [base64.b64encode(self._token_bytes(i)).decode("ascii") for i in range(self.n_vocab)],
            "rules": self.rules.tolist(),
            "special_tokens": self.special_tokens,
        }
        atomic_write_text(path, json.dumps(data, separators=(",", ":")))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BPETokenizer":
        """Read a file written by :meth:`save`; ValueError naming the problem if it is not one
        (FileNotFoundError / IsADirectoryError for a path that is not a file)."""
        f = read_tokenizer_json(path)
        rules = np.array(f["rules"], dtype=np.int64).reshape(-1, 4)
        try:
            return cls(f["vocab"], rules.astype(np.uint32), pattern=f["pattern"], special_tokens=f["special_tokens"])
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    @classmethod
    def from_gpt2_files(cls, encoder_json: str | os.PathLike, vocab_bpe: str | os.PathLike) -> "BPETokenizer":
        """GPT-2's own files: ``encoder.json`` (token -> id, bytes spelled with GPT-2's byte-to-
        unicode table) and ``vocab.bpe`` (the merges in rank order, after an optional
        ``#version`` line). <|endoftext|> is special. ValueError naming the file for bad contents."""
        byte_decoder = {c: b for b, c in _gpt2_bytes_to_unicode().items()}
        vocab, rules, specials = read_gpt2(encoder_json, vocab_bpe, byte_decoder)
        try:
            return cls(vocab, np.array(rules, dtype=np.uint32).reshape(-1, 4), pattern="gpt2", special_tokens=specials)
        except ValueError as e:
            raise ValueError(f"{encoder_json} with {vocab_bpe}: {e}") from None

    @classmethod
    def from_tiktoken(cls, path: str | os.PathLike, *, pattern: str = "gpt2",
                      special_tokens: Mapping[str, int] | None = None) -> "BPETokenizer":
        """A tiktoken ``.tiktoken`` rank file (``base64(token) rank`` per line, ranks 0..n-1).

        tiktoken merges any adjacent pair whose concatenation is a token, by that token's rank;
        here every such split becomes a merge rule at that rank, which encodes identically.
        Special tokens (e.g. ``{"<|endoftext|>": 50256}``) get ids from n on; ids left unused
        between them (cl100k has some; at most 65536) cannot be decoded. ValueError naming the
        file and line for bad contents, or the special token for a bad id.
        """
        vocab, rules, specials = read_tiktoken(path, special_tokens)
        try:
            return cls(vocab, np.array(rules, dtype=np.uint32).reshape(-1, 4), pattern=pattern, special_tokens=specials)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def to_tiktoken(self, path: str | os.PathLike) -> None:
        """Write a tiktoken ``.tiktoken`` rank file (``base64(token) id`` per line; special tokens
        and unused ids are left out: pass the specials to ``tiktoken.Encoding`` yourself).

        tiktoken merges any adjacent pair whose concatenation is a token, by that token's rank,
        where this tokenizer follows its merge rules. For vocabularies trained by BPE the two give
        the same ids in practice (checked on 8 MB of text at 1k, 8k and 32k tokens: no line
        differed), but contrived rule sets can differ; GPT-2 and tiktoken imports are exact.
        """
        specials = set(self.special_tokens.values())
        lines = [f"{base64.b64encode(self._enc.token_bytes(i)).decode('ascii')} {i}\n"
                 for i in range(self.n_vocab) if i not in specials and not self._is_gap(i)]
        atomic_write_text(path, "".join(lines))

    def to_hf_json(self, path: str | os.PathLike) -> None:
        """Write a HuggingFace ``tokenizer.json`` that ``tokenizers.Tokenizer.from_file`` loads and
        that encodes like this tokenizer: a Split pre-tokenizer with the same pattern, GPT-2's
        byte-to-unicode alphabet, the merges in rank order, special tokens as added tokens, the
        template as a post-processor (:func:`fastembed.tokenizers.hf.write_tokenizer_json`;
        :meth:`save_pretrained` writes the whole directory)."""
        from .hf import write_tokenizer_json

        write_tokenizer_json(self, path)

    # ------------------------------------------------------------------ pickling and copying

    def __getstate__(self) -> dict[str, Any]:
        # The native encoder cannot be pickled; what it was built from can, and builds it again
        # (a worker process of a multiprocessing pool gets its tokenizer this way).
        return {"vocab": [self._token_bytes(i) for i in range(self.n_vocab)], "rules": self.rules,
                "pattern": self.pattern, "special_tokens": self.special_tokens, "trace": self.trace,
                "trim_offsets": self.trim_offsets, "prefix_space": self.prefix_space, **self._surface_state()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        self.__init__(state.pop("vocab"), state.pop("rules"), **state)  # type: ignore[misc]

    def __copy__(self) -> BPETokenizer:
        # The native encoder never changes after construction, so a shallow copy shares it.
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    def __repr__(self) -> str:
        return f"BPETokenizer(n_vocab={self.n_vocab}, pattern={self.pattern!r}, special_tokens={len(self.special_tokens)})"


# ---------------------------------------------------------------------- helpers


def count_words(texts: Iterable[str | bytes] | None = None, *, files: Iterable[str | os.PathLike] = (),
                counts: Mapping[str | bytes, int] | None = None, pattern: str = "gpt2",
                progress: bool | None = None) -> Any:
    """Pre-tokenize and count pieces (a ``_C.WordCounts``), on all native threads.

    Counts from several calls or machines merge with ``WordCounts.merge``. A custom pattern
    (see BPETokenizer.train) is split in Python and only counted natively."""
    custom = _custom_pattern(pattern)
    if custom is not None:
        return _count_custom(custom, texts, files, counts)
    wc = _C.WordCounts(pattern)
    if counts is not None:
        if not isinstance(counts, Mapping):
            raise TypeError(f"counts must be a mapping of piece -> count, got {type(counts).__name__}")
        for piece, n in counts.items():
            wc.add(piece, n)
    for f in files:
        p = check_is_file(f, "a text file to train on")
        run_native(lambda pr: wc.add_file(str(p), pr), desc=f"counting {p.name}", unit="lines", show=progress)
    if texts is not None:
        if isinstance(texts, (str, bytes)):
            raise TypeError("texts must be an iterable of str or bytes (got a single string; wrap it in a list)")
        batch: list[str | bytes] = []
        size = 0

        def flush() -> None:
            def count(pr: Any) -> None:
                try:
                    wc.add_texts(batch, pr)
                except UnicodeEncodeError:  # lone surrogates: count their surrogatepass bytes
                    wc.add_texts([_utf8(t) for t in batch], pr)

            run_native(count, desc="counting", unit="texts", show=False)

        for t in texts:
            if not isinstance(t, (str, bytes)):
                raise TypeError(f"texts must hold str or bytes, got {type(t).__name__}")
            batch.append(t)
            size += len(t)
            if size >= _BATCH_BYTES:
                flush()
                batch, size = [], 0
        if batch:
            flush()
    return wc


def _custom_pattern(pattern: str) -> Any:
    """None for a native pattern; a compiled `regex` pattern otherwise."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(f"pattern must be 'gpt2', 'cl100k' or a regular expression, got {pattern!r}"[:300])
    if pattern in PATTERNS:
        return None
    try:
        import regex
    except ImportError:
        raise ImportError("custom split patterns need the `regex` module: pip install regex") from None
    shown = repr(pattern) if len(pattern) <= 100 else repr(pattern[:100] + "...")  # it may come from a file
    try:
        return regex.compile(pattern)
    except regex.error as e:
        raise ValueError(f"pattern {shown} is not a valid regular expression: {e}") from None
    except RecursionError:  # the parser recurses once per nested group
        raise ValueError(f"pattern {shown} is not a valid regular expression: nested too deeply") from None


def _split_custom(custom: Any, text: str | bytes) -> list[bytes]:
    """The pattern's matches as UTF-8 pieces; text between matches is a piece too, so no byte is lost."""
    s = text.decode("utf-8", "surrogateescape") if isinstance(text, bytes) else text
    if not isinstance(s, str):
        raise TypeError(f"text must be str or bytes, got {type(text).__name__}")
    pieces, pos = [], 0
    for m in custom.finditer(s):
        if m.start() > pos:
            pieces.append(s[pos:m.start()])
        if m.end() > m.start():
            pieces.append(m.group())
        pos = m.end()
    if pos < len(s):
        pieces.append(s[pos:])
    return [p.encode("utf-8", "surrogateescape" if isinstance(text, bytes) else "surrogatepass") for p in pieces]


def _count_custom(custom: Any, texts, files, counts) -> Any:
    from collections import Counter

    counter: Counter = Counter()
    if counts is not None:
        if not isinstance(counts, Mapping):
            raise TypeError(f"counts must be a mapping of piece -> count, got {type(counts).__name__}")
        counter.update({(p.encode("utf-8") if isinstance(p, str) else p): n for p, n in counts.items()})
    for f in files:
        p = check_is_file(f, "a text file to train on")
        with open(p, "rb") as fh:
            for line in fh:
                counter.update(_split_custom(custom, line))
    if texts is not None:
        if isinstance(texts, (str, bytes)):
            raise TypeError("texts must be an iterable of str or bytes (got a single string; wrap it in a list)")
        for t in texts:
            if not isinstance(t, (str, bytes)):
                raise TypeError(f"texts must hold str or bytes, got {type(t).__name__}")
            counter.update(_split_custom(custom, t))
    wc = _C.WordCounts("gpt2")  # pieces are added as they are; the native pattern is not used
    for piece, n in counter.items():
        wc.add(piece, n)
    return wc


def _check_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def pre_tokenize(text: str | bytes, pattern: str) -> list[bytes]:
    """``text`` split by ``pattern`` ("gpt2", "cl100k": the native scanners; else a regex)."""
    raw = _utf8(text) if isinstance(text, str) else bytes(text)
    if pattern not in PATTERNS:
        return _split_custom(_custom_pattern(pattern), raw)
    bounds = _C.bpe_pretokenize(raw, pattern)
    return [raw[bounds[i]:bounds[i + 1]] for i in range(0, len(bounds), 2)]


def _check_specials(specials: list[str], pattern: str) -> list[str]:
    seen = set()
    for s in specials:
        if not isinstance(s, str) or not s:
            raise ValueError(f"special tokens must be non-empty strings, got {s!r}")
        if s in seen:
            raise ValueError(f"special token {s!r} is given twice")
        seen.add(s)
        if len(pre_tokenize(s, pattern)) == 1:
            raise ValueError(f"special token {s!r} is a single piece of ordinary text under the {pattern!r} pattern, "
                             "so it could not be told apart from it; use a marked form such as '<|...|>' or '[...]'")
    return specials


def _find_specials(s: str, allowed: set[str]) -> list[tuple[int, str]]:
    """Non-overlapping occurrences, left to right, in one pass; the longest special wins where
    several start at one position (alternatives are tried longest first)."""
    import re

    pattern = re.compile("|".join(re.escape(t) for t in sorted(allowed, key=len, reverse=True)))
    return [(m.start(), m.group()) for m in pattern.finditer(s)]


def _slice(original: str | bytes, s: str, start: int, end: int) -> str | bytes:
    part = s[start:end]
    return part.encode("utf-8", "surrogateescape") if isinstance(original, bytes) else part


def _utf8(t: str | bytes) -> bytes:
    return t if isinstance(t, bytes) else t.encode("utf-8", "surrogatepass")


def _as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    """Token ids as a uint32 array (no copy when they already are one)."""
    if isinstance(ids, np.ndarray) and ids.dtype == np.uint32:
        return ids.reshape(-1)
    arr = np.asarray(ids if isinstance(ids, (np.ndarray, list, tuple)) else list(ids))
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint32)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"token ids must be integers, got {arr.dtype} values")
    arr = arr.reshape(-1)
    if arr.min() < 0 or arr.max() >= 2**32:
        bad = int(arr[(arr < 0) | (arr >= 2**32)][0])
        raise ValueError(f"decode: token id {bad} is not in the vocabulary")
    return arr.astype(np.uint32)


def _gpt2_bytes_to_unicode() -> dict[int, str]:  # noqa: D401
    """GPT-2's reversible byte -> printable character table (encoder.py in openai/gpt-2)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


# What HF's offset trimming takes for white space: GPT-2's space "Ġ" and Rust's char::is_whitespace
# (the White_Space property: Python's isspace without U+001C..U+001F).
_HF_SPACE = "\u0120\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
    "\u2028\u2029\u202f\u205f\u3000"
_BYTE_ENCODER = _gpt2_bytes_to_unicode()
_BYTE_DECODER = {c: b for b, c in _BYTE_ENCODER.items()}
