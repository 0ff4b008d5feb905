"""Running a fine-tuned model over many encoded rows: batches cut by token count, on worker threads.

Rows (finetune's features: ``input_ids``, ``token_type_ids``) are sorted by length, longest
first, and cut into batches whose padded size, rows x the longest row, stays within
``batch_tokens``: a batch of short sentences holds many rows, one of long contexts few, and
every batch pads only to its own longest row. A row longer than the budget is a batch alone.

On the CPU the batches run side by side on worker threads, one core each, as
:class:`fastembed.Embedder`'s do (:mod:`fastembed._workers` says why that beats splitting each
operator across the cores); on a GPU one after another. Each row's logits come back unpadded
and in the order of the rows, so the result does not depend on the batching (beyond float32
rounding in the matrix products).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from .._optional import require_torch
from .._workers import plan_workers, run_in_workers
from ..features import _positive_int
from ..finetune.loop import collate

torch = require_torch("fastembed.predict")

DEFAULT_BATCH_TOKENS = 4096     # padded tokens per batch: 128 rows of 32 tokens, 10 windows of 384


def token_batches(lengths: Sequence[int], batch_tokens: int) -> list[np.ndarray]:
    """Row indices in batches of similar length, longest first (stable among equals), each
    batch's rows x its longest row at most ``batch_tokens`` (a longer row makes a batch alone);
    every index appears once.

    >>> [b.tolist() for b in token_batches([3, 9, 4, 9, 2], 18)]
    [[1, 3], [2, 0, 4]]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    out, a = [], 0
    while a < len(order):
        width = max(int(lengths[order[a]]), 1)         # the batch's first row is its longest
        n = max(1, batch_tokens // width)
        out.append(order[a:a + n])
        a += n
    return out


class Runner:
    """A model in eval mode and how to run it: ``device``, ``batch_tokens``, ``workers``
    (CPU worker threads; default one per torch thread, at most 8) and ``threads`` (when given,
    torch's and fastembed's thread counts, process-wide, as :class:`fastembed.Embedder` sets them).

    ``model(input_ids, token_type_ids, attention_mask)`` must return an object with ``logits``
    of shape (B, L) or (B, T, ...): a :class:`fastembed.finetune.FineTuneModel`.
    """

    def __init__(self, model: Any, *, threads: Optional[int] = None, workers: Optional[int] = None,
                 batch_tokens: int = DEFAULT_BATCH_TOKENS, device: Any = None) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch module (a fastembed FineTuneModel), got {type(model).__name__}")
        self.batch_tokens = _positive_int(batch_tokens, "batch_tokens")
        self.workers = None if workers is None else _positive_int(workers, "workers")
        threads = None if threads is None else _positive_int(threads, "threads")
        if device is None:
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if threads is not None:                          # last: nothing changes when the arguments are wrong
            from .._native import set_num_threads

            torch.set_num_threads(threads)
            set_num_threads(threads)

    def logits(self, features: Sequence[dict]) -> list[np.ndarray]:
        """float32 logits of every row, unpadded ((L,) per sequence, (T, ...) per token), in the
        order of ``features``."""
        out: list[Any] = [None] * len(features)
        if not features:
            return out
        lengths = [len(f["input_ids"]) for f in features]
        batches = token_batches(lengths, self.batch_tokens)

        def run(idx: np.ndarray) -> None:
            with torch.inference_mode():
                b = collate(features, idx, self.device, targets=False)      # finetune's padding
                y = self.model(b["input_ids"], b["token_type_ids"], b["attention_mask"]).logits.float().cpu().numpy()
            for r, i in enumerate(idx):
                out[i] = y[r] if y.ndim == 2 else y[r, :lengths[i]]

        workers, threads_each = (1, 1) if self.device.type != "cpu" else \
            plan_workers(torch.get_num_threads(), len(batches), self.workers)
        if workers == 1:
            for idx in batches:
                run(idx)
        else:
            run_in_workers(batches, run, workers=workers, threads_each=threads_each)
        return out


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64 (scores are reported as Python floats)."""
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
