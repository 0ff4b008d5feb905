"""A tokenized corpus on disk: raw token shards plus an index, read back through ``np.memmap``.

Tokenize once, train many times (nanoGPT's ``prepare.py`` does the same with one ``.bin``
file). ``write_shards`` turns text files or strings into ``out_dir/shard_00000.bin``, ... and
``out_dir/index.json``:

- each shard is the raw token ids, little-endian ``uint16`` when the vocabulary fits (≤ 65536
  ids, GPT-2's 50257 does) else ``uint32``, at most ``shard_tokens`` ids per shard;
- documents follow one another, each followed by the separator id (``<|endoftext|>`` by
  default), so a reader sees one token stream with document boundaries marked in it;
- every file is written atomically (temporary file, then rename) and the index is written last:
  a directory with an ``index.json`` is complete, one without it is not a shard set.

Input: a ``pathlib.Path`` (or other ``os.PathLike``) is a UTF-8 text file whose blank lines
separate documents; a ``str`` is the text of one document (not a file name: wrap file names in
``Path``). Empty documents are skipped.

>>> import tempfile
>>> from fastembed.tokenizers import BPETokenizer
>>> tok = BPETokenizer.train(["a cat sat"] * 10, vocab_size=260, special_tokens=["<|endoftext|>"], progress=False)
>>> with tempfile.TemporaryDirectory() as d:
...     shards = write_shards(["a cat", "sat"], tok, d, progress=False)
...     print(len(shards), shards.dtype, tok.decode(shards.tokens()))
7 uint16 a cat<|endoftext|>sat<|endoftext|>
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Union

import numpy as np

from .._progress import ProgressBar
from ..io import atomic_write_bytes, atomic_write_text
from ..tokenizers.base import Tokenizer
from .specials import eot_id

FORMAT = "fastembed-token-shards"
FORMAT_VERSION = 1
INDEX = "index.json"
_SHARD = re.compile(r"^shard_\d{5,}\.bin$")
_CHUNK_BYTES = 4 << 20  # text handed to encode_flat at a time (native threads share it out)

Source = Union[str, "os.PathLike[str]"]


def write_shards(files_or_texts: Iterable[Source], tokenizer: Tokenizer, out_dir: str | os.PathLike, *,
                 shard_tokens: int = 2**24, separator: str | int | None = "eot",
                 progress: bool | None = None) -> "TokenShards":
    """Tokenize documents into ``out_dir`` (created if needed) and return the :class:`TokenShards`.

    ``separator`` follows every document: "eot" (the tokenizer's ``<|endoftext|>``), an id, or
    None. An earlier shard set in ``out_dir`` is replaced (its index is removed first, so a crash
    never leaves an index that describes other shards); other files there are left alone.
    ``progress`` draws a bar over the input bytes (default: when stderr is a terminal).
    """
    if isinstance(shard_tokens, bool) or not isinstance(shard_tokens, int) or shard_tokens < 1:
        raise ValueError(f"shard_tokens must be a positive int, got {shard_tokens!r}")
    items = _sources(files_or_texts)
    vocab_size = tokenizer.vocab_size
    sep = separator_id(tokenizer, separator)
    dtype = np.dtype("<u2") if vocab_size <= 2**16 else np.dtype("<u4")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_shard_set(out)
    counts: list[int] = []
    buf = np.empty(shard_tokens, dtype=dtype)
    fill = 0
    n_docs = 0

    def flush() -> None:
        atomic_write_bytes(out / _shard_name(len(counts)), buf[:fill].tobytes())
        counts.append(fill)

    total = sum(os.path.getsize(s) if isinstance(s, os.PathLike) else len(s.encode("utf-8")) for s in items)
    with ProgressBar(total, desc="tokenizing", unit="B", show=progress) as bar:
        for tokens, nbytes, ndocs in token_chunks(items, tokenizer, sep):
            if len(tokens) and int(tokens.max()) >= vocab_size:
                raise ValueError(f"token id {int(tokens.max())} is outside the vocabulary (size {vocab_size})")
            n_docs += ndocs
            pos = 0
            while pos < len(tokens):
                take = min(len(tokens) - pos, shard_tokens - fill)
                buf[fill:fill + take] = tokens[pos:pos + take]
                fill, pos = fill + take, pos + take
                if fill == shard_tokens:
                    flush()
                    fill = 0
            bar.update(nbytes)
    if fill:
        flush()
    index = {"format": FORMAT, "version": FORMAT_VERSION, "dtype": dtype.name, "vocab_size": vocab_size,
             "separator": sep, "documents": n_docs, "tokens": int(sum(counts)),
             "shards": [{"file": _shard_name(k), "tokens": n} for k, n in enumerate(counts)]}
    atomic_write_text(out / INDEX, json.dumps(index, indent=1))
    return TokenShards(out)


def encode_documents(files_or_texts: Iterable[Source], tokenizer: Tokenizer, *,
                     separator: str | int | None = "eot") -> np.ndarray:
    """The token stream :func:`write_shards` would write, in memory (uint32)."""
    sep = separator_id(tokenizer, separator)
    parts = [tokens for tokens, _, _ in token_chunks(_sources(files_or_texts), tokenizer, sep)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)


def separator_id(tokenizer: Tokenizer, separator: str | int | None) -> int | None:
    """The separator's id: "eot" is the tokenizer's <|endoftext|>; an int is checked against the vocabulary."""
    if separator is None:
        return None
    if separator == "eot":
        return eot_id(tokenizer)
    if isinstance(separator, bool) or not isinstance(separator, (int, np.integer)):
        raise ValueError(f"separator must be 'eot', a token id or None, got {separator!r}")
    if not 0 <= separator < tokenizer.vocab_size:
        raise ValueError(f"separator id {separator} is outside the vocabulary (size {tokenizer.vocab_size})")
    return int(separator)


def token_chunks(items: list[Source], tokenizer: Tokenizer, sep: int | None) -> Iterator[tuple[np.ndarray, int, int]]:
    """(tokens of a few MB of documents with separators, input bytes they came from, documents).
    Documents are data: special-token text in them is encoded as text."""
    for docs, nbytes in _document_chunks(items):
        docs = [d for d in docs if d.strip()]
        flat = tokenizer.encode_flat(docs, split_special_tokens=True)
        tokens = flat.ids
        if sep is not None:                                     # the separator after each document
            tokens = np.insert(tokens, flat.starts[1:], np.uint32(sep))
        yield tokens, nbytes, len(docs)


def _document_chunks(items: list[Source]) -> Iterator[tuple[list[str], int]]:
    docs: list[str] = []
    nbytes = size = 0
    for item in items:
        pieces = _file_documents(item) if isinstance(item, os.PathLike) else [(item, len(item.encode("utf-8")))]
        for doc, n in pieces:
            docs.append(doc)
            nbytes += n
            size += len(doc)
            if size >= _CHUNK_BYTES:
                yield docs, nbytes
                docs, nbytes, size = [], 0, 0
    if docs or nbytes:
        yield docs, nbytes


def _file_documents(path: os.PathLike) -> Iterator[tuple[str, int]]:
    """(document, bytes read for it) for each blank-line separated part of a UTF-8 file."""
    lines: list[bytes] = []
    nbytes = 0
    with open(path, "rb") as f:
        for line in f:
            nbytes += len(line)
            if line.strip():
                lines.append(line)
            elif lines or nbytes:
                yield _decode(b"".join(lines), path), nbytes
                lines, nbytes = [], 0
    if lines or nbytes:
        yield _decode(b"".join(lines), path), nbytes


def _decode(data: bytes, path: os.PathLike) -> str:
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError as e:
        raise ValueError(f"{os.fspath(path)} is not UTF-8 text ({e}); convert it first, "
                         "e.g. iconv -f cp1252 -t utf-8") from None


def _sources(files_or_texts: Iterable[Source]) -> list[Source]:
    if isinstance(files_or_texts, (str, os.PathLike)):
        files_or_texts = [files_or_texts]
    items = list(files_or_texts)
    for item in items:
        if isinstance(item, os.PathLike):
            if not os.path.isfile(item):
                raise FileNotFoundError(f"input file {os.fspath(item)!r} does not exist")
        elif not isinstance(item, str):
            raise TypeError(f"inputs must be str (a document's text) or pathlib.Path (a file), "
                            f"got {type(item).__name__}")
    return items


def _shard_name(k: int) -> str:
    return f"shard_{k:05d}.bin"


def _remove_shard_set(out: Path) -> None:
    """Remove an earlier index (first) and its shards, so no index describes files being rewritten."""
    (out / INDEX).unlink(missing_ok=True)
    for p in out.iterdir():
        if _SHARD.match(p.name):
            p.unlink()


class TokenShards:
    """A shard set written by :func:`write_shards`, opened read-only and checked.

    ``len(shards)`` is the number of tokens; ``shard(k)`` is shard k as a read-only ``np.memmap``;
    ``slice(start, stop)`` reads any range of the whole stream (across shard boundaries) without
    reading the rest; ``tokens()`` is the whole stream as one array.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        index = _read_index(self.path)
        self.dtype = np.dtype(index["dtype"]).newbyteorder("<")
        self.vocab_size: int = index["vocab_size"]
        self.separator: int | None = index["separator"]
        self.documents: int = index.get("documents", 0)
        self.files = [self.path / s["file"] for s in index["shards"]]
        self.counts = np.array([s["tokens"] for s in index["shards"]], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)  # shard k holds [o_k, o_k+1)
        for f, n in zip(self.files, self.counts):
            if not f.is_file():
                raise ValueError(f"{f} is missing (listed in {self.path / INDEX})")
            want, have = int(n) * self.dtype.itemsize, f.stat().st_size
            if have != want:
                raise ValueError(f"{f} has {have} bytes; the index says {int(n)} {self.dtype.name} tokens = "
                                 f"{want} bytes (truncated or overwritten: write the shards again)")
        self._maps: list[np.ndarray | None] = [None] * len(self.files)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def num_shards(self) -> int:
        return len(self.files)

    def shard(self, k: int) -> np.ndarray:
        """Shard ``k`` as a read-only memory map (opened on first use)."""
        if self._maps[k] is None:
            self._maps[k] = (np.memmap(self.files[k], dtype=self.dtype, mode="r") if self.counts[k]
                             else np.zeros(0, dtype=self.dtype))
        return self._maps[k]

    def slice(self, start: int, stop: int) -> np.ndarray:
        """Tokens ``[start, stop)`` of the whole stream (a new array; only those bytes are read)."""
        n = len(self)
        if not 0 <= start <= stop <= n:
            raise IndexError(f"slice [{start}, {stop}) is outside the {n} tokens")
        if start == stop:
            return np.zeros(0, dtype=self.dtype)
        k = int(np.searchsorted(self.offsets, start, side="right")) - 1
        parts = []
        while start < stop:
            lo, hi = int(self.offsets[k]), int(self.offsets[k + 1])
            end = min(stop, hi)
            if end > start:
                parts.append(self.shard(k)[start - lo:end - lo])
            start = max(start, end)
            k += 1
        return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])

    def tokens(self) -> np.ndarray:
        """The whole stream: the memory map itself for one shard, else a concatenated copy."""
        if self.num_shards == 1:
            return self.shard(0)
        return self.slice(0, len(self))

    def __repr__(self) -> str:
        return f"TokenShards({str(self.path)!r}, tokens={len(self)}, shards={self.num_shards}, dtype={self.dtype.name})"


def _read_index(path: Path) -> dict[str, Any]:
    f = path / INDEX
    if not f.is_file():
        raise FileNotFoundError(f"no {INDEX} in {path}: not a token shard directory, or write_shards did not "
                                "finish (the index is written last)")
    try:
        index = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{f} is corrupt (not JSON: {e}); write the shards again") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise ValueError(f"{f} is not a fastembed token shard index (no \"format\": \"{FORMAT}\")")
    if index.get("version") != FORMAT_VERSION:
        raise ValueError(f"{f} has format version {index.get('version')!r}; this fastembed reads {FORMAT_VERSION}")
    if index.get("dtype") not in ("uint16", "uint32"):
        raise ValueError(f"{f}: dtype must be 'uint16' or 'uint32', got {index.get('dtype')!r}")
    shards = index.get("shards")
    if not isinstance(shards, list) or not all(
            isinstance(s, dict) and isinstance(s.get("file"), str) and _SHARD.match(s["file"])
            and isinstance(s.get("tokens"), int) and s["tokens"] >= 0 for s in shards):
        raise ValueError(f"{f}: 'shards' must be a list of {{\"file\": \"shard_NNNNN.bin\", \"tokens\": n}}")
    if not isinstance(index.get("vocab_size"), int):
        raise ValueError(f"{f}: 'vocab_size' is missing or not an int")
    return index
