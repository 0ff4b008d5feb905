"""Reading JSON settings files with errors that name them, and file writing that never leaves half a file: write a temporary file beside the target, flush
it to disk, then rename it over the target (atomic on POSIX and Windows).

The file ends with the permissions a plain ``open(path, "w")`` would give it (0o666 less the
umask; an existing file keeps its mode), not the owner-only 0o600 of a temporary file. A
missing folder or a directory where the file should go is reported by the target's name, not
the hidden temporary file's.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    try:  # Linux: read it without changing it (setting it, even for an instant, races other threads)
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _target_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)   # replacing a file: keep what its owner chose
    except OSError:
        return 0o666 & ~_umask()


def check_writable_target(path: str | os.PathLike) -> Path:
    """``path`` as a Path, once it is known that a file can be created there: its folder exists
    and is a folder, and ``path`` is not itself a directory. Raises FileNotFoundError,
    NotADirectoryError or IsADirectoryError naming ``path``."""
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"cannot write {path}: it is a directory, expected a file path")
    if not parent.exists():
        raise FileNotFoundError(errno.ENOENT, f"cannot write {path}: the folder {parent} does not exist "
                                f"(create it first, e.g. mkdir -p {parent})")
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"cannot write {path}: {parent} is not a folder")
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = check_writable_target(path)
    mode = _target_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.errno is not None and not isinstance(e, (FileNotFoundError, IsADirectoryError)):
            raise OSError(e.errno, f"cannot write {path}: {os.strerror(e.errno)}") from e
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def read_json_object(path: str | os.PathLike, what: str = "a JSON object") -> dict[str, Any]:
    """The JSON object in the UTF-8 file ``path``; ValueError naming the file when it is not valid
    JSON or holds something other than an object (``what`` says what it should hold)."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} must hold {what}, not {type(value).__name__}")
    return value
