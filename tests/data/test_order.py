"""BatchOrder: epochs as permutations, batches straddling epochs, rank rows."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed.data import BatchOrder


def test_each_epoch_is_a_permutation_and_batches_straddle_epochs():
    order = BatchOrder(10, batch_size=4, seed=7)
    stream = np.concatenate([order.indices(s) for s in range(5)])  # 20 positions = 2 epochs
    assert sorted(stream[:10].tolist()) == list(range(10)) == sorted(stream[10:].tolist())
    assert stream[:10].tolist() != stream[10:].tolist()
    assert (stream[:10] == np.random.default_rng((7, 0)).permutation(10)).all()
    assert order.epoch(2) == 0 and order.epoch(3) == 1


def test_batches_larger_than_the_data():
    order = BatchOrder(3, batch_size=7, seed=0)
    assert sorted(order.indices(0)[:6].tolist()) == [0, 0, 1, 1, 2, 2]


def test_pure_function_of_seed_and_step():
    a, b = BatchOrder(100, batch_size=8, seed=1), BatchOrder(100, batch_size=8, seed=1)
    assert (a.indices(40) == b.indices(40)).all()  # b never saw steps 0..39
    assert not (a.indices(40) == BatchOrder(100, batch_size=8, seed=2).indices(40)).all()


@pytest.mark.parametrize("kwargs", [dict(batch_size=0, seed=0), dict(batch_size=2, seed=-1)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        BatchOrder(5, **kwargs)
    with pytest.raises(ValueError, match="no examples"):
        BatchOrder(0, batch_size=1, seed=0)
