"""The toy models here are tiny: one intra-op thread is fastest (two threads spin-wait on a
loaded 2-core machine and run ~15x slower), so these tests use one and put the count back."""

from __future__ import annotations

from .._tiny import one_torch_thread  # noqa: F401  (autouse)
