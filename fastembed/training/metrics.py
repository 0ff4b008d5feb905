"""``metrics.jsonl``: one JSON object per line, one line per log step or evaluation.

Training rows look like ``{"step": 100, "split": "train", "lr": ..., "loss": ..., "mlm_loss":
..., "tokens_per_s": ..., "elapsed": ...}``; evaluation rows carry ``"split": "dev"``. ``step``
counts optimizer steps done. Each line is flushed as it is written, so ``tail -f`` follows a run
and a crash loses at most the line being written.

When a run resumes from a checkpoint at step k, lines with ``step > k`` were written after that
checkpoint by the run that crashed; they are dropped (the file is rewritten atomically) so the
log reads like one uninterrupted run. A torn last line is dropped too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from ..io import atomic_write_text


def read_metrics(path: str | os.PathLike) -> list[dict]:
    """The rows of a metrics file (none if it is missing); a torn (unparseable) line is skipped."""
    rows = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return rows
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


class MetricsLog:
    """Append rows to ``path``. ``resume_step=None`` starts an empty file; ``resume_step=k``
    keeps the rows with ``step <= k`` (also in ``rows``) and appends after them."""

    def __init__(self, path: str | os.PathLike, *, resume_step: Optional[int] = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [] if resume_step is None else [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in kept))
        self.rows: list[dict] = kept  # what the file held before this run appended
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, row: dict) -> None:
        self._f.write(json.dumps(row) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "MetricsLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
