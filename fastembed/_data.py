"""Where the shared public data lives (corpora, GPT-2 ranks, BERT vocab, GLUE, CoNLL, ...).

One setting: the environment variable ``FASTEMBED_DATA``; without it, ``../shared/data`` next to
the source tree (then next to the working directory). Tests and benchmarks that need the data
skip cleanly when it is absent; fastembed never downloads it.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "FASTEMBED_DATA"


def data_dir() -> Path | None:
    """The shared data directory, or None when it does not exist."""
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    for base in (Path(__file__).resolve().parents[1], Path.cwd()):
        p = base.parent / "shared" / "data"
        if p.is_dir():
            return p
    return None


def data_path(*parts: str) -> Path:
    """A file or folder inside the data directory; FileNotFoundError says how to provide it."""
    root = data_dir()
    if root is None:
        raise FileNotFoundError(f"the shared data directory was not found: set {ENV_VAR} to it "
                                "(default ../shared/data beside the source tree)")
    p = root.joinpath(*parts)
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist in the shared data directory {root}")
    return p
