"""Which examples make up the batch of optimizer step ``step``: a pure function of (seed, step).

The examples are visited epoch after epoch, each epoch in its own order: the permutation drawn
by ``np.random.default_rng((seed, epoch))``. Position ``p = step * batch_size + i`` of that
endless stream is example ``perm[epoch][p % N]`` with ``epoch = p // N`` (a batch may straddle
two epochs). Nothing depends on earlier steps, so

- resuming at step ``s`` gives exactly the batches an uninterrupted run would have seen, and
- under data parallelism every rank computes the same global batch and keeps its own rows:
  rank ``r`` of ``W`` takes rows ``[r * b, (r + 1) * b)`` with ``b = batch_size // W``, so the
  ranks together see the global batch, whatever ``W`` is.

>>> order = BatchOrder(10, batch_size=4, seed=0)
>>> sorted(order.indices(0).tolist() + order.indices(1).tolist() + order.indices(2).tolist()[:2])
[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
>>> order.rows(rank=1, world_size=2)
slice(2, 4, None)
"""

from __future__ import annotations

import numpy as np


class BatchOrder:
    """The global batch indices of each step, and each rank's rows of it."""

    def __init__(self, n: int, *, batch_size: int, seed: int) -> None:
        if n < 1:
            raise ValueError("there are no examples to make batches of")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.n, self.batch_size, self.seed = int(n), int(batch_size), int(seed)
        self._perms: dict[int, np.ndarray] = {}

    def permutation(self, epoch: int) -> np.ndarray:
        """The order of the examples in ``epoch`` (the last two used are cached)."""
        perm = self._perms.get(epoch)
        if perm is None:
            perm = np.random.default_rng((self.seed, epoch)).permutation(self.n)
            if len(self._perms) >= 2:
                self._perms.pop(min(self._perms))
            self._perms[epoch] = perm
        return perm

    def epoch(self, step: int) -> int:
        """The epoch that the first example of ``step`` belongs to."""
        return step * self.batch_size // self.n

    def indices(self, step: int) -> np.ndarray:
        """(batch_size,) example indices of the global batch of ``step``."""
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"step must be a non-negative int, got {step!r}")
        pos = int(step) * self.batch_size + np.arange(self.batch_size, dtype=np.int64)
        epochs = pos // self.n
        out = np.empty(self.batch_size, dtype=np.int64)
        for e in np.unique(epochs).tolist():
            sel = epochs == e
            out[sel] = self.permutation(e)[pos[sel] % self.n]
        return out

    def rows(self, *, rank: int, world_size: int) -> slice:
        """The rows of the global batch that ``rank`` of ``world_size`` trains on."""
        if world_size < 1 or self.batch_size % world_size:
            raise ValueError(f"batch_size {self.batch_size} is not divisible by world_size {world_size}; "
                             "the global batch must split evenly across ranks")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        b = self.batch_size // world_size
        return slice(rank * b, (rank + 1) * b)


class Ordered:
    """What data served through a :class:`BatchOrder` (``self.order``) says about itself."""

    order: BatchOrder

    @property
    def batch_size(self) -> int:
        return self.order.batch_size

    @property
    def seed(self) -> int:
        return self.order.seed

    @property
    def steps_per_epoch(self) -> float:
        return len(self) / self.batch_size  # type: ignore[arg-type]
