"""Reading tokenizer files so that a broken or hostile file gives a documented error.

Every loader promises: FileNotFoundError / IsADirectoryError (or another OSError) for a path
that cannot be read, ValueError naming the file and what was expected for bad contents. These
helpers turn what Python's readers raise (UnicodeDecodeError, JSONDecodeError, RecursionError
on deeply nested JSON) into that, so each loader only checks its own format.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any


def read_bytes(path: str | os.PathLike, what: str) -> bytes:
    """The file's bytes; ``what`` (e.g. "a tiktoken rank file") completes the messages."""
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise IsADirectoryError(errno.EISDIR, f"is a directory; expected {what}", str(path)) from None
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, f"does not exist; expected {what}", str(path)) from None


def read_text(path: str | os.PathLike, what: str) -> str:
    """The file as UTF-8 text; ValueError naming the first byte that is not UTF-8."""
    data = read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not {what} (not UTF-8 text: byte 0x{data[e.start]:02x} at offset "
                         f"{e.start})") from None


def read_json(path: str | os.PathLike, what: str) -> Any:
    """The file's JSON value; ValueError for text that is not (complete) JSON."""
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not {what} (invalid or truncated JSON: {e})") from None
    except RecursionError:  # "[[[[..." nested deeper than the decoder's recursion limit
        raise ValueError(f"{path} is not {what} (JSON nested too deeply to read)") from None
    except ValueError as e:  # e.g. an integer literal longer than Python's 4300-digit limit
        raise ValueError(f"{path} is not {what} (unreadable JSON: {e})") from None


def check_is_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path if it is a file; FileNotFoundError / IsADirectoryError saying which not."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"is a directory; expected {what}", str(p))
    if not p.is_file():
        raise FileNotFoundError(errno.ENOENT, f"does not exist; expected {what}", str(p))
    return p


def is_int(value: Any) -> bool:
    """An int as JSON or a caller gives it (not a bool, which Python counts as an int)."""
    return isinstance(value, int) and not isinstance(value, bool)
