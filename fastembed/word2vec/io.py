"""Word-vector files: word2vec's text and binary formats (word2vec.c, gensim), and fastembed's
own JSON + ``.npy`` pair that loads with mmap. Every writer is atomic (temp file, then rename)."""

from __future__ import annotations

import io
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .._memory import check_allocation
from ..io import atomic_write_bytes

NATIVE_FORMAT = "fastembed-keyedvectors"
NATIVE_VERSION = 1


# Words are split on ASCII whitespace by the corpus reader, word2vec.c and gensim's loaders, so only
# those bytes break the format (U+00A0 or \x1c in a word are fine, though str.isspace() says space).
_FORMAT_SPACE = frozenset(" \t\n\r\v\f")
_HEADER = re.compile(rb"\s*(\d{1,19})\s+(\d{1,19})\s*")
MAX_VECTOR_SIZE = 2**31 - 1  # no real model comes near; bounds a header of "0 words" too


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


def check_output_path(path: str | os.PathLike) -> None:
    """Name what is wrong with a path to write before the temp file beside it makes the error
    read 'No such file or directory: .../.name.x1y2.tmp'."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; give a file name to write")
    parent = path.parent
    if not parent.exists():
        raise FileNotFoundError(f"cannot write {path}: the folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {parent} is not a folder")


def _check_finite(kv: Any, vectors: np.ndarray, what: str) -> None:
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"{what}: the vector of word {_short(kv.index_to_key[i])} (index {i}) holds NaN or "
                         f"infinity ({len(bad)} such words); a file written with it could not be loaded")


def save_word2vec_format(kv: Any, path: str | os.PathLike, *, binary: bool = False) -> None:
    vectors = np.ascontiguousarray(kv.vectors, dtype=np.float32)
    check_output_path(path)
    _check_finite(kv, vectors, "save_word2vec_format")
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


def _read_whole(path: str | os.PathLike) -> bytes:
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{path} is a directory, expected a word2vec vectors file")
    check_allocation(p.stat().st_size, f"reading {path}")
    return p.read_bytes()


def _header(line: bytes, path: Any) -> tuple[int, int]:
    m = _HEADER.fullmatch(line)
    if m is None:
        raise ValueError(f"{path}:1: expected a header 'vocab_size vector_size' (two non-negative integers), "
                         f"got {line[:80]!r}")
    V, D = int(m.group(1)), int(m.group(2))
    if not 1 <= D <= MAX_VECTOR_SIZE:
        raise ValueError(f"{path}:1: the header gives vector_size {D:,}, expected 1 to {MAX_VECTOR_SIZE:,}")
    return V, D


def _check_claim(path: Any, V: int, D: int, n: int, body: int) -> None:
    # Text, before allocating n x D floats: a row takes at least a 1-byte word and a space and a
    # digit per value, so a header claiming more than the file can hold is caught here, not by an
    # allocation of its claimed size.
    need = n * (2 * D + 1) - 1
    if need > body:
        raise ValueError(f"{path}: the header claims {V:,} words of {D:,} dimensions, which need at least "
                         f"{need:,} bytes; the file has {body:,} after the header (truncated, or not a text "
                         "word2vec file?)")


def _decode_word(raw: bytes, encoding: str, errors: str, where: str) -> str:
    try:
        return raw.decode(encoding, errors)
    except UnicodeDecodeError as e:
        raise ValueError(f"{where}: the word {_short(raw)} is not {encoding} ({e.reason} at byte {e.start}); "
                         "pass unicode_errors='replace' to load it anyway") from None


def load_word2vec_format(cls: Any, path: str | os.PathLike, *, binary: bool = False, limit: int | None = None,
                         encoding: str = "utf-8", unicode_errors: str = "strict") -> Any:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ValueError(f"load_word2vec_format: limit must be None or an integer >= 0, got {limit!r}")
    data = _read_whole(path)
    nl = data.find(b"\n")
    if nl < 0:
        raise ValueError(f"{path}: no header line (empty or truncated file)")
    V, D = _header(data[:nl], path)
    n = V if limit is None else min(V, int(limit))
    read = _read_binary if binary else _read_text
    keys, vectors = read(data, nl + 1, path, V, n, D, encoding, unicode_errors)
    return cls(keys, vectors)


def _looks_like_text(data: bytes, pos: int, D: int) -> bool:
    # Read as binary, a text file gives garbage that is mostly finite (ASCII bytes make floats
    # like 1e-10 or 3e21). Its first row, a word and D numbers, cannot be 4 * D raw float bytes.
    end = data.find(b"\n", pos, pos + 64 + 64 * D)
    parts = data[pos:end].split() if end > 0 else []
    if len(parts) != D + 1:
        return False
    try:
        [float(x) for x in parts[1:]]
    except ValueError:
        return False
    return True


def _read_binary(data: bytes, pos: int, path: Any, V: int, n: int, D: int, encoding: str,
                 errors: str) -> tuple[list[str], np.ndarray]:
    # A row is a word of one byte or more, a space and 4 * D bytes: the file holds at most `fits`
    # rows, so a header claiming more allocates no more than that and fails in the loop below.
    width = 4 * D
    if _looks_like_text(data, pos, D):
        raise ValueError(f"{path}: line 2 is a word and {D} numbers in text: this is the text word2vec format, "
                         "not binary (load it with binary=False)")
    fits = (len(data) - pos) // (width + 2)
    keys: list[str] = []
    vectors = np.empty((min(n, fits), D), dtype=np.float32)
    check_allocation(vectors.nbytes, f"{path}: {len(vectors):,} words x {D:,} dimensions")
    for i in range(n):
        while pos < len(data) and data[pos:pos + 1] in (b"\n", b"\r"):
            pos += 1  # word2vec.c ends each vector with '\n', gensim does not
        sp = data.find(b" ", pos)
        if sp < 0 or sp + 1 + width > len(data) or i >= len(vectors):
            raise ValueError(f"{path}: the header claims {V:,} words of {D:,} dimensions, the file holds {i:,} "
                             f"(truncated: word {i + 1} is cut off at byte {pos:,})")
        if sp == pos:
            raise ValueError(f"{path}: word {i + 1} of {V:,} is empty (byte {pos:,} is a space); damaged file?")
        keys.append(_decode_word(data[pos:sp], encoding, errors, f"{path}: word {i + 1} of {V:,}"))
        vectors[i] = np.frombuffer(data, dtype="<f4", count=D, offset=sp + 1)
        pos = sp + 1 + width
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad):
        i = int(bad[0])
        j = int(np.flatnonzero(~np.isfinite(vectors[i]))[0])
        raise ValueError(f"{path}: word {i + 1} of {V:,} ({_short(keys[i])}) has {vectors[i, j]} at dimension {j}; "
                         "word vectors must be finite")
    return keys, vectors


def _read_text(data: bytes, pos: int, path: Any, V: int, n: int, D: int, encoding: str,
               errors: str) -> tuple[list[str], np.ndarray]:
    lines = data[pos:].splitlines()
    if len(lines) < n:
        raise ValueError(f"{path}: the header claims {V:,} words, the file has {len(lines):,} lines after it")
    _check_claim(path, V, D, n, len(data) - pos)
    keys: list[str] = []
    vectors = np.empty((n, D), dtype=np.float32)
    check_allocation(vectors.nbytes, f"{path}: {n:,} words x {D:,} dimensions")
    with np.errstate(over="ignore"):  # 1e39 parses to inf, reported below with its line
        for i in range(n):
            parts = lines[i].rstrip().split(b" ")
            if len(parts) != D + 1:
                raise ValueError(f"{path}:{i + 2}: expected a word and {D} numbers, got {len(parts) - 1} values")
            if not parts[0]:
                raise ValueError(f"{path}:{i + 2}: the line starts with a space, expected a word first")
            keys.append(_decode_word(parts[0], encoding, errors, f"{path}:{i + 2}"))
            try:
                vectors[i] = np.array(parts[1:], dtype=np.float32)
            except ValueError:
                raise ValueError(f"{path}:{i + 2}: a value is not a number: {lines[i][:80]!r}") from None
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad):
        i = int(bad[0])
        j = int(np.flatnonzero(~np.isfinite(vectors[i]))[0])
        text = lines[i].rstrip().split(b" ")[j + 1].decode("ascii", "replace")
        try:
            overflow = math.isfinite(float(text))
        except ValueError:
            overflow = False
        why = "beyond float32's range (3.4e38)" if overflow else "not a finite number"
        raise ValueError(f"{path}:{i + 2}: word {_short(keys[i])} has the value {text[:40]} at dimension {j}, "
                         f"{why}; word vectors must be finite")
    return keys, vectors


def save_native(kv: Any, path: str | os.PathLike) -> None:
    path = Path(path)
    check_output_path(path)
    _check_finite(kv, np.asarray(kv.vectors), "KeyedVectors.save")
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
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, expected a fastembed KeyedVectors file")
    try:
        header = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a fastembed KeyedVectors file ({e})") from None
    if not isinstance(header, dict) or header.get("format") != NATIVE_FORMAT:
        raise ValueError(f"{path}: not a fastembed KeyedVectors file (format {header.get('format')!r})"
                         if isinstance(header, dict) else f"{path}: not a fastembed KeyedVectors file")
    if header.get("version") != NATIVE_VERSION:
        raise ValueError(f"{path}: unsupported version {header.get('version')!r} (this fastembed reads {NATIVE_VERSION})")
    keys, dim, vec_name = header.get("index_to_key"), header.get("vector_size"), header.get("vectors")
    if not (isinstance(keys, list) and isinstance(dim, int) and isinstance(vec_name, str)
            and vec_name and "/" not in vec_name and "\\" not in vec_name):
        raise ValueError(f"{path}: damaged header: expected index_to_key (a list), vector_size (an integer) and "
                         "vectors (a file name beside it)")
    vec_path = path.with_name(vec_name)
    try:
        vectors = np.load(vec_path, mmap_mode=mmap, allow_pickle=False)
    except (ValueError, EOFError, OSError) as e:
        raise ValueError(f"{vec_path}: unreadable vectors ({e})") from None
    if vectors.dtype.kind not in "fiu":
        raise ValueError(f"{vec_path}: vectors have dtype {vectors.dtype}, expected numbers (float32)")
    if vectors.ndim != 2 or vectors.shape != (len(keys), dim):
        raise ValueError(f"{vec_path}: vectors have shape {vectors.shape}, the header says ({len(keys)}, {dim})")
    if mmap is None:  # a mapped file is not read here, so it is not checked either
        bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
        if len(bad):
            raise ValueError(f"{vec_path}: the vector of word {_short(keys[int(bad[0])])} (index {int(bad[0])}) "
                             f"holds NaN or infinity ({len(bad)} such words); word vectors must be finite")
    return cls(keys, vectors, counts=header.get("counts"))
