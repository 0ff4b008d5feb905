"""GPT pretraining batches: the token stream cut into fixed windows, next-token labels.

Documents follow one another in one token stream, each ended by ``<|endoftext|>``, and the
stream is cut into non-overlapping blocks: block i is the window of ``max_length + 1`` tokens
starting at ``i * max_length``. Its first ``max_length`` tokens are the inputs and its last
``max_length`` the labels, the same tokens shifted by one (position t predicts token t + 1).
Consecutive windows share one token (the last label of a block is the first input of the
next), so every token but the first is a label exactly once per epoch. Blocks cross document
boundaries: the model learns from the separator that what follows is unrelated (GPT-2's and
nanoGPT's packing; attention is not reset at the separator). The few tokens after the last
whole block are not used.

Batch ``step`` is a pure function of (seed, step) and ranks take their rows of it, as for BERT
(see :mod:`fastembed.data.order`).

>>> blocks = GPTBlocks(np.arange(10), max_length=3, batch_size=2, seed=0)
>>> len(blocks), blocks.window(1).tolist()
(3, [3, 4, 5, 6])
>>> b = blocks.numpy_batch(0)
>>> bool((b["input_ids"][:, 1:] == b["labels"][:, :-1]).all())
True
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require_torch
from ..tokenizers.base import Tokenizer
from .._renamed import UNSET, renamed_arg, renamed_attribute
from .order import BatchOrder, Ordered
from .shards import TokenShards, encode_documents


class GPTBlocks(Ordered):
    """Blocks of a token stream (1-D array, ``np.memmap`` or :class:`TokenShards`) and their batches.

    ``starts`` (normally left out) picks which blocks this object serves, by their first token's
    position; :meth:`split` uses it to make disjoint train and dev sets over one stream.
    ``max_length`` is the tokens per block (GPT-2's and nanoGPT's block size; ``block_size=``,
    its old name, still works for one release with a DeprecationWarning).
    """

    def __init__(self, tokens: np.ndarray | TokenShards, *, max_length: int | None = None, batch_size: int,
                 seed: int = 0, starts: np.ndarray | None = None, block_size: Any = UNSET) -> None:
        max_length = renamed_arg("GPTBlocks", "block_size", block_size, "max_length", max_length, required=True)
        if not isinstance(tokens, TokenShards):
            tokens = np.asarray(tokens)
            if tokens.ndim != 1 or not np.issubdtype(tokens.dtype, np.integer):
                raise ValueError(f"tokens must be a 1-D integer array, got shape {tokens.shape} of {tokens.dtype}")
        if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) or max_length < 1:
            raise ValueError(f"max_length must be a positive int, got {max_length!r}")
        n, need = len(tokens), max_length + 1
        if n < need:
            raise ValueError(f"the corpus has {n} tokens; one block of max_length={max_length} needs {need} "
                             f"(max_length inputs plus the label of the last one)")
        self.tokens = tokens
        self.max_length = int(max_length)
        if starts is None:
            starts = np.arange((n - 1) // max_length, dtype=np.int64) * max_length
        self.starts = np.asarray(starts, dtype=np.int64)
        self.order = BatchOrder(len(self.starts), batch_size=batch_size, seed=seed)

    @classmethod
    def from_text(cls, texts: str | Iterable[str], tokenizer: Tokenizer, *, max_length: int | None = None,
                  batch_size: int, seed: int = 0, separator: str | int | None = "eot",
                  block_size: Any = UNSET) -> "GPTBlocks":
        """Tokenize documents (each string is one document) with a separator after each."""
        max_length = renamed_arg("GPTBlocks.from_text", "block_size", block_size, "max_length", max_length,
                                 required=True)
        texts = [texts] if isinstance(texts, str) else list(texts)
        return cls(encode_documents(texts, tokenizer, separator=separator), max_length=max_length,
                   batch_size=batch_size, seed=seed)

    @classmethod
    def from_files(cls, paths: str | os.PathLike | Iterable[str | os.PathLike], tokenizer: Tokenizer, *,
                   max_length: int | None = None, batch_size: int, seed: int = 0,
                   separator: str | int | None = "eot", block_size: Any = UNSET) -> "GPTBlocks":
        """Tokenize UTF-8 text files (blank lines separate documents) with a separator after each
        document; for corpora larger than memory, use :func:`write_shards` and pass the shards."""
        max_length = renamed_arg("GPTBlocks.from_files", "block_size", block_size, "max_length", max_length,
                                 required=True)
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        return cls(encode_documents([Path(p) for p in paths], tokenizer, separator=separator),
                   max_length=max_length, batch_size=batch_size, seed=seed)

    # ------------------------------------------------------------------ sizes

    def __len__(self) -> int:
        return len(self.starts)

    block_size = renamed_attribute("GPTBlocks", "block_size", "max_length")

    @property
    def tokens_per_step(self) -> int:
        """batch_size × max_length: the tokens predicted in one optimizer step."""
        return self.batch_size * self.max_length

    # ------------------------------------------------------------------ batches

    def window(self, i: int) -> np.ndarray:
        """Block ``i``'s ``max_length + 1`` tokens (int64)."""
        return self._windows(self.starts[[i]])[0]

    def get_batch(self, step: int, *, rank: int = 0, world_size: int = 1) -> dict[str, Any]:
        """This rank's rows of the global batch of ``step``: {"input_ids", "labels"}, int64 torch
        tensors of shape (batch_size // world_size, max_length)."""
        torch = require_torch("GPTBlocks.get_batch")
        return {k: torch.from_numpy(v) for k, v in self.numpy_batch(step, rank=rank, world_size=world_size).items()}

    def numpy_batch(self, step: int, *, rank: int = 0, world_size: int = 1) -> dict[str, np.ndarray]:
        """:meth:`get_batch` as numpy arrays (only this rank's windows are read)."""
        rows = self.order.rows(rank=rank, world_size=world_size)
        return self._batch(self.starts[self.order.indices(step)[rows]])

    def eval_batches(self, n_batches: int | None = None, *, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Batches over the blocks in stream order (the last one may be short); ``n_batches``
        limits how many (default: all)."""
        torch = require_torch("GPTBlocks.eval_batches")
        b = batch_size or self.batch_size
        total = -(-len(self) // b)
        for i in range(total if n_batches is None else min(n_batches, total)):
            batch = self._batch(self.starts[i * b:(i + 1) * b])
            yield {k: torch.from_numpy(v) for k, v in batch.items()}

    def _batch(self, starts: np.ndarray) -> dict[str, np.ndarray]:
        w = self._windows(starts)  # (B, max_length + 1)
        return {"input_ids": np.ascontiguousarray(w[:, :-1]), "labels": np.ascontiguousarray(w[:, 1:])}

    def _windows(self, starts: np.ndarray) -> np.ndarray:
        span = self.max_length + 1
        if isinstance(self.tokens, TokenShards):
            rows = [self.tokens.slice(int(s), int(s) + span) for s in starts]
            return np.stack(rows).astype(np.int64) if rows else np.zeros((0, span), np.int64)
        return self.tokens[starts[:, None] + np.arange(span)].astype(np.int64)

    # ------------------------------------------------------------------ held-out data

    def split(self, dev_fraction: float) -> tuple["GPTBlocks", "GPTBlocks"]:
        """(train, dev): the last ``dev_fraction`` of the blocks (at least one) is dev, the rest
        train, as nanoGPT holds out the end of the stream. No window is in both (the block at the
        border shares its last label with dev's first input)."""
        if not 0.0 < dev_fraction < 1.0:
            raise ValueError(f"dev_fraction must be in (0, 1), got {dev_fraction}")
        n_dev = max(1, int(round(len(self) * dev_fraction)))
        if n_dev >= len(self):
            raise ValueError(f"{len(self)} blocks are too few to hold out {dev_fraction:.0%} and keep some for training")
        cut = len(self) - n_dev
        return self._subset(self.starts[:cut]), self._subset(self.starts[cut:])

    def _subset(self, starts: np.ndarray) -> "GPTBlocks":
        return GPTBlocks(self.tokens, max_length=self.max_length, batch_size=self.batch_size, seed=self.seed,
                         starts=starts)

    def __repr__(self) -> str:
        return (f"GPTBlocks(blocks={len(self)}, max_length={self.max_length}, batch_size={self.batch_size}, "
                f"tokens={len(self.tokens)})")
