"""MLM masking: 15% chosen, 80/10/10 among the chosen, specials never touched (over many draws)."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed.data import IGNORE_INDEX, mask_tokens

V, MASK, PAD, CLS, SEP = 1000, 4, 0, 2, 3
SPECIAL_IDS = [PAD, 1, CLS, SEP, MASK]


def batch(rng, b=64, t=128):
    """[CLS] tokens [SEP] [PAD]..., ordinary ids in [5, V), random lengths."""
    ids = rng.integers(5, V, size=(b, t))
    lengths = rng.integers(8, t + 1, size=b)
    pos = np.arange(t)[None, :]
    ids[:, 0] = CLS
    ids[np.arange(b), lengths - 1] = SEP
    ids[pos >= lengths[:, None]] = PAD
    return ids, np.isin(ids, SPECIAL_IDS)


@pytest.fixture(scope="module")
def draws():
    """(ids, special, masked, labels) over 40 batches of 64 × 128."""
    rng = np.random.default_rng(1234)
    out = []
    for _ in range(40):
        ids, special = batch(rng)
        masked, labels = mask_tokens(ids, special_mask=special, vocab_size=V, mask_id=MASK, rng=rng,
                                     random_ids=np.arange(5, V))
        out.append((ids, special, masked, labels))
    return [np.concatenate(x) for x in zip(*out)]


def test_fifteen_percent_of_maskable_tokens_are_chosen(draws):
    ids, special, masked, labels = draws
    chosen = labels != IGNORE_INDEX
    frac = chosen[~special].mean()
    assert abs(frac - 0.15) < 0.005, frac  # ~230k maskable positions: std 0.0007


def test_eighty_ten_ten(draws):
    ids, special, masked, labels = draws
    chosen = labels != IGNORE_INDEX
    n = chosen.sum()
    to_mask = (masked == MASK) & chosen
    kept = (masked == ids) & chosen
    to_random = chosen & ~to_mask & ~kept
    assert abs(to_mask.sum() / n - 0.8) < 0.01
    assert abs(to_random.sum() / n - 0.1) < 0.01
    assert abs(kept.sum() / n - 0.1) < 0.01  # includes the rare random draw of the same id (0.1% of 10%)
    assert not np.isin(masked[to_random], SPECIAL_IDS).any()  # random tokens are never special
    assert (masked[~chosen] == ids[~chosen]).all()  # nothing else changes


def test_specials_and_padding_are_never_chosen_and_labels_are_exact(draws):
    ids, special, masked, labels = draws
    assert (labels[special] == IGNORE_INDEX).all()
    assert (masked[special] == ids[special]).all()
    chosen = labels != IGNORE_INDEX
    assert (labels[chosen] == ids[chosen]).all()
    assert labels.dtype == np.int64 and masked.dtype == np.int64


def test_every_row_with_a_maskable_token_gets_a_target():
    rng = np.random.default_rng(0)
    ids = np.array([[CLS, 7, SEP, PAD, PAD]] * 500 + [[CLS, SEP, PAD, PAD, PAD]] * 3)
    special = np.isin(ids, SPECIAL_IDS)
    _, labels = mask_tokens(ids, special_mask=special, vocab_size=V, mask_id=MASK, rng=rng)
    assert ((labels[:500] != IGNORE_INDEX).sum(axis=1) == 1).all()
    assert (labels[500:] == IGNORE_INDEX).all()  # nothing maskable: nothing chosen


def test_default_random_ids_skip_specials_and_mask():
    rng = np.random.default_rng(0)
    ids = np.tile(np.array([[CLS, 5, 6, 7, 8, 9, SEP, PAD]]), (2000, 1))
    special = np.isin(ids, SPECIAL_IDS)
    masked, labels = mask_tokens(ids, special_mask=special, vocab_size=12, mask_id=MASK, rng=rng,
                                 mask_frac=0.0, random_frac=1.0, probability=1.0)
    assert set(np.unique(masked[labels != IGNORE_INDEX]).tolist()) <= {1, 5, 6, 7, 8, 9, 10, 11}


def test_same_generator_state_same_masks():
    ids, special = batch(np.random.default_rng(5))
    a = mask_tokens(ids, special_mask=special, vocab_size=V, mask_id=MASK, rng=np.random.default_rng(9))
    b = mask_tokens(ids, special_mask=special, vocab_size=V, mask_id=MASK, rng=np.random.default_rng(9))
    assert all((x == y).all() for x, y in zip(a, b))


@pytest.mark.parametrize("kwargs, match", [
    (dict(probability=0.0), "probability"),
    (dict(mask_frac=0.8, random_frac=0.3), "sum"),
    (dict(random_ids=[]), "empty"),
])
def test_bad_arguments(kwargs, match):
    ids = np.array([[CLS, 5, SEP]])
    with pytest.raises(ValueError, match=match):
        mask_tokens(ids, special_mask=np.isin(ids, SPECIAL_IDS), vocab_size=V, mask_id=MASK,
                    rng=np.random.default_rng(0), **kwargs)
    with pytest.raises(ValueError, match="same shape"):
        mask_tokens(ids, special_mask=np.zeros((1, 2), bool), vocab_size=V, mask_id=MASK, rng=np.random.default_rng(0))
