"""The toy models here are tiny: one intra-op thread is fastest (two threads spin-wait on a
loaded 2-core machine and run ~15x slower), so these tests use one and put the count back."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
