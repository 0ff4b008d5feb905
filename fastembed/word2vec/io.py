"""Word-vector files: word2vec's text and binary formats (word2vec.c, gensim), and fastembed's
own JSON + ``.npy`` pair that loads with mmap. Every writer is atomic (temp file, then rename)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_bytes

NATIVE_FORMAT = "fastembed-keyedvectors"
NATIVE_VERSION = 1


# Words are split on ASCII whitespace by the corpus reader, word2vec.c and gensim's loaders, so only
# those bytes break the format (U+00A0 or \x1c in a word are fine, though str.isspace() says space).
_FORMAT_SPACE = frozenset(" \t\n\r\v\f")


def _key_text(key: Any) -> str:
    s = str(key)
    if not s or not _FORMAT_SPACE.isdisjoint(s):
        raise ValueError(f"word2vec format: word {_short(s)} is empty or contains whitespace (space, tab, newline), "
                         "which the format cannot hold")
    return s


def _short(value: Any, n: int = 60) -> str:
    """repr() cut to about n characters: a message must not carry a whole corrupt row."""
    r = repr(value)
    return r if len(r) <= n else r[: n - 5] + "...'"


def save_word2vec_format(kv: Any, path: str | os.PathLike, *, binary: bool = False) -> None:
    vectors = np.ascontiguousarray(kv.vectors, dtype=np.float32)
    V, D = vectors.shape
    buf = io.BytesIO()
    buf.write(f"{V} {D}\n".encode())
    if binary:
        little = vectors.astype("<f4", copy=False)
        for key, row in zip(kv.index_to_key, little):
            buf.write(_key_text(key).encode("utf-8", "surrogateescape") + b" " + row.tobytes() + b"\n")
    else:
        for key, row in zip(kv.index_to_key, vectors):
            buf.write((_key_text(key) + " " + " ".join(f"{x:.9g}" for x in row.tolist()) + "\n")
                      .encode("utf-8", "surrogateescape"))
    atomic_write_bytes(path, buf.getvalue())


def _header(line: bytes, path: Any) -> tuple[int, int]:
    parts = line.split()
    try:
        V, D = int(parts[0]), int(parts[1])
        if len(parts) != 2 or V < 0 or D < 1:
            raise ValueError
    except (ValueError, IndexError):
        raise ValueError(f"{path}:1: expected a header 'vocab_size vector_size', got {line[:80]!r}") from None
    return V, D


def load_word2vec_format(cls: Any, path: str | os.PathLike, *, binary: bool = False, limit: int | None = None,
                         encoding: str = "utf-8", unicode_errors: str = "strict") -> Any:
    data = Path(path).read_bytes()
    nl = data.find(b"\n")
    if nl < 0:
        raise ValueError(f"{path}: no header line (empty or truncated file)")
    V, D = _header(data[:nl], path)
    n = V if limit is None else min(V, int(limit))
    keys: list[str] = []
    vectors = np.empty((n, D), dtype=np.float32)
    pos = nl + 1
    if binary:
        width = 4 * D
        for i in range(n):
            while pos < len(data) and data[pos:pos + 1] in (b"\n", b"\r"):
                pos += 1  # word2vec.c ends each vector with '\n', gensim does not
            sp = data.find(b" ", pos)
            if sp < 0 or sp + 1 + width > len(data):
                raise ValueError(f"{path}: truncated at word {i + 1} of {V} (byte {pos})")
            keys.append(data[pos:sp].decode(encoding, unicode_errors))
            vectors[i] = np.frombuffer(data, dtype="<f4", count=D, offset=sp + 1)
            pos = sp + 1 + width
    else:
        lines = data[pos:].splitlines()
        if len(lines) < n:
            raise ValueError(f"{path}: the header says {V} words but the file has {len(lines)} lines after it")
        for i in range(n):
            parts = lines[i].rstrip().split(b" ")
            if len(parts) != D + 1:
                raise ValueError(f"{path}:{i + 2}: expected a word and {D} numbers, got {len(parts) - 1} values")
            keys.append(parts[0].decode(encoding, unicode_errors))
            try:
                vectors[i] = np.array(parts[1:], dtype=np.float32)
            except ValueError:
                raise ValueError(f"{path}:{i + 2}: a value is not a number: {lines[i][:80]!r}") from None
    return cls(keys, vectors)


def save_native(kv: Any, path: str | os.PathLike) -> None:
    path = Path(path)
    vec_path = path.with_name(path.name + ".vectors.npy")
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(kv.vectors, dtype=np.float32), allow_pickle=False)
    keys = kv.index_to_key
    header = {"format": NATIVE_FORMAT, "version": NATIVE_VERSION, "vector_size": kv.vector_size,
              "key_type": "int" if keys and all(isinstance(k, (int, np.integer)) for k in keys) else "str",
              "index_to_key": [int(k) if isinstance(k, np.integer) else k for k in keys],
              "counts": None if kv.counts is None else kv.counts.tolist(), "vectors": vec_path.name}
    atomic_write_bytes(vec_path, buf.getvalue())
    atomic_write_bytes(path, json.dumps(header).encode("utf-8"))


def load_native(cls: Any, path: str | os.PathLike, *, mmap: str | None = None) -> Any:
    path = Path(path)
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a fastembed KeyedVectors file ({e})") from None
    if not isinstance(header, dict) or header.get("format") != NATIVE_FORMAT:
        raise ValueError(f"{path}: not a fastembed KeyedVectors file (format {header.get('format')!r})"
                         if isinstance(header, dict) else f"{path}: not a fastembed KeyedVectors file")
    if header.get("version") != NATIVE_VERSION:
        raise ValueError(f"{path}: unsupported version {header.get('version')!r} (this fastembed reads {NATIVE_VERSION})")
    vec_path = path.with_name(header["vectors"])
    try:
        vectors = np.load(vec_path, mmap_mode=mmap, allow_pickle=False)
    except (ValueError, EOFError, OSError) as e:
        raise ValueError(f"{vec_path}: unreadable vectors ({e})") from None
    keys = header["index_to_key"]
    if vectors.ndim != 2 or vectors.shape != (len(keys), header["vector_size"]):
        raise ValueError(f"{vec_path}: vectors have shape {vectors.shape}, the header says "
                         f"({len(keys)}, {header['vector_size']})")
    return cls(keys, vectors, counts=header.get("counts"))
