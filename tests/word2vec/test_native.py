"""The native word2vec core against the numpy reference: single updates, the negative sampler,
subsampling, corpus reading."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed._native import _C
from fastembed.word2vec import _reference as ref


def weights(V=12, D=24, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((V, D)).astype(np.float32) * 0.3,
            rng.standard_normal((V, D)).astype(np.float32) * 0.3)


@pytest.mark.parametrize("negatives", [[0, 9, 2, 11, 9], [0, 9, 2, 11, 4]], ids=["repeated", "distinct"])
@pytest.mark.parametrize("mode", ["sg", "cbow", "cbow_sum"])
def test_one_update_matches_reference(mode, negatives):
    """A repeated negative takes the sequential path (its second score sees its first update)."""
    centre, contexts, alpha = 3, [1, 5, 7, 5], 0.05
    syn0, syn1 = weights()
    r0, r1 = syn0.copy(), syn1.copy()
    native_mode = "cbow" if mode.startswith("cbow") else mode
    loss = _C.w2v_step_for_testing(syn0, syn1, native_mode, centre, np.array(contexts, np.int32),
                                   np.array(negatives, np.int32), alpha, mode != "cbow_sum")
    if mode == "sg":
        want = ref.sg_step(r0, r1, centre, contexts, negatives, alpha)
    else:
        want = ref.cbow_step(r0, r1, centre, contexts, negatives, alpha, cbow_mean=mode == "cbow")
    np.testing.assert_allclose(syn0, r0, atol=1e-6, rtol=0)
    np.testing.assert_allclose(syn1, r1, atol=1e-6, rtol=0)
    assert loss == pytest.approx(want, rel=1e-5)
    assert not np.array_equal(syn0, weights()[0])  # something was updated


def test_sampler_matches_unigram_power():
    counts = np.array([1000, 500, 200, 50, 10, 5, 1, 0, 3000], dtype=np.int64)
    probs, draws = _C.w2v_sampler(counts, 0.75, 400_000, 7)
    want = counts.astype(np.float64) ** 0.75
    want /= want.sum()
    np.testing.assert_allclose(probs, want, atol=1e-8)
    observed = np.bincount(draws, minlength=len(counts))
    assert observed[7] == 0  # a zero count is never drawn
    expected = want * len(draws)
    nz = expected > 0
    chi2 = float((((observed - expected) ** 2)[nz] / expected[nz]).sum())
    dof = int(nz.sum()) - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), f"chi-square {chi2:.1f} with {dof} degrees of freedom"


def test_sampler_is_small_and_uniform_over_many_words():
    counts = np.random.default_rng(0).integers(1, 1000, 50_000).astype(np.int64)
    probs, _ = _C.w2v_sampler(counts, 0.75, 0, 1)
    want = counts ** 0.75 / (counts ** 0.75).sum()
    assert np.max(np.abs(probs - want) / want) < 1e-6


def test_subsampling_keep_rates_match_formula():
    counts = np.array([100_000, 20_000, 3000, 500, 40, 1], dtype=np.int64)
    got = _C.w2v_keep_thresholds(counts, 1e-3).astype(np.float64) / 2**32
    np.testing.assert_allclose(got, ref.keep_probability(counts, 1e-3), atol=1e-9)
    assert np.all(_C.w2v_keep_thresholds(counts, 0.0) == 2**32 - 1)


def test_subsampling_rate_in_training():
    """Trained words per epoch equal the expected kept count of the formula."""
    rng = np.random.default_rng(0)
    V, N = 50, 200_000
    p = 1.0 / np.arange(1, V + 1)
    ids = rng.choice(V, size=N, p=p / p.sum()).astype(np.int32)
    counts = np.bincount(ids, minlength=V).astype(np.int64)
    syn0, syn1 = np.zeros((V, 8), np.float32), np.zeros((V, 8), np.float32)
    offsets = np.arange(0, N + 1, 1000, dtype=np.int64)
    res = _C.w2v_train_epoch(syn0, syn1, ids, offsets, counts, True, True, False, 2, 2, 1, 0, 1e-3, 0.025, 1e-4,
                             0.75, 3, 1)
    expected = float((counts * ref.keep_probability(counts, 1e-3)).sum())
    assert abs(res["trained_words"] - expected) < 5 * np.sqrt(expected)


def test_count_and_encode_file(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"b a  c\tb\n\n a b\r\n" + " ".join(["zz"] * 30_000).encode() + b"\nlast a")
    words, counts, total, lines = _C.w2v_count_file(str(path))
    assert dict(zip(words, counts.tolist())) == {"zz": 30000, "a": 3, "b": 3, "c": 1, "last": 1}
    assert words[:3] == ["zz", "a", "b"]  # count descending, ties by bytes
    assert total == 30008 and lines == 5
    ids, offsets = _C.w2v_encode_file(str(path), [b"zz", b"a", b"b"])
    assert ids.tolist()[:5] == [2, 1, 2, 1, 2]
    assert np.diff(offsets).tolist() == [3, 2, 30000, 1]  # the long line is whole; empty lines dropped


def test_train_epoch_rejects_bad_arrays():
    syn0 = np.zeros((4, 8), np.float32)
    ids, offsets, counts = np.array([0, 1, 9], np.int32), np.array([0, 3], np.int64), np.ones(4, np.int64)
    args = (True, True, False, 5, 5, 1, 0, 1e-3, 0.025, 1e-4, 0.75, 1, 1)
    with pytest.raises(IndexError, match="token id 9"):
        _C.w2v_train_epoch(syn0, np.zeros_like(syn0), ids, offsets, counts, *args)
    with pytest.raises(TypeError, match="dtype float32"):
        _C.w2v_train_epoch(syn0.astype(np.float64), np.zeros_like(syn0), ids, offsets, counts, *args)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.w2v_train_epoch(np.zeros((8, 4), np.float32).T, np.zeros_like(syn0), ids, offsets, counts, *args)
