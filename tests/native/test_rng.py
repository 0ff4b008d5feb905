"""The Philox and SplitMix64 generators against known answers and the Python reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed import _native

from ._rng_reference import philox4x32_10, philox_stream, splitmix64, to_uniform

_C = _native._C

# Random123 kat_vectors, philox4x32 with 10 rounds: (counter, key, expected output).
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", PHILOX_KAT)
def test_reference_matches_random123_known_answers(counter, key, expected):
    assert philox4x32_10(counter, key) == expected


def test_native_matches_known_answer_for_zero_seed():
    assert [int(v) for v in _native.philox_u32(0, 4)] == list(PHILOX_KAT[0][2])


@pytest.mark.parametrize("counter,key,expected", PHILOX_KAT)
def test_native_bijection_matches_random123_known_answers(counter, key, expected):
    assert _C._testing.philox4x32_10(*counter, *key) == expected


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), sub=st.integers(0, 2**64 - 1),
       offset=st.integers(0, 2**62), n=st.integers(0, 37))
def test_native_matches_reference(seed, sub, offset, n):
    got = _native.philox_u32(seed, n, subsequence=sub, offset=offset)
    assert got.dtype == np.uint32 and got.shape == (n,)
    assert [int(v) for v in got] == philox_stream(seed, sub, offset, n)


def test_uniform_is_the_documented_mapping_of_the_bits():
    bits = _native.philox_u32(7, 1001, offset=3)
    u = _native.philox_uniform(7, 1001, offset=3)
    assert u.dtype == np.float32
    np.testing.assert_array_equal(u, np.array([to_uniform(int(b)) for b in bits], dtype=np.float32))
    assert u.min() >= 0.0 and u.max() < 1.0


def test_slices_of_a_stream_agree_with_the_whole(restore_threads):
    whole = _native.philox_u32(99, 100_003, subsequence=5)
    for offset, n in [(0, 1), (1, 3), (2, 4), (3, 70_001), (65_537, 34_466)]:
        np.testing.assert_array_equal(_native.philox_u32(99, n, subsequence=5, offset=offset), whole[offset:offset + n])


def test_bits_do_not_depend_on_the_thread_count(restore_threads):
    _native.set_num_threads(max(2, restore_threads))
    many = _native.philox_uniform(123, 1_000_003, offset=1)
    _native.set_num_threads(1)
    one = _native.philox_uniform(123, 1_000_003, offset=1)
    np.testing.assert_array_equal(many, one)


def test_uniforms_look_uniform():
    u = _native.philox_uniform(2024, 1_000_000).astype(np.float64)
    assert abs(u.mean() - 0.5) < 5 * (1 / 12) ** 0.5 / 1000  # 5 standard errors
    counts, _ = np.histogram(u, bins=100, range=(0, 1))
    chi2 = float(((counts - 10_000) ** 2 / 10_000).sum())
    assert chi2 < 170  # 99.99th percentile of chi-square with 99 degrees of freedom is about 160


def test_streams_differ_across_seeds_and_subsequences():
    a = _native.philox_u32(1, 1000)
    assert not np.array_equal(a, _native.philox_u32(2, 1000))
    assert not np.array_equal(a, _native.philox_u32(1, 1000, subsequence=1))


def test_splitmix64_matches_reference():
    for seed in (0, 1, 2**64 - 1, 0x123456789ABCDEF):
        assert [int(v) for v in _C._testing.splitmix64(seed, 20)] == splitmix64(seed, 20)
    # The published first outputs for seed 0.
    assert [int(v) for v in _C._testing.splitmix64(0, 2)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]


def test_splitmix64_below_stays_in_range():
    v = _C._testing.splitmix64(5, 10_000, 7)
    assert v.min() == 0 and v.max() == 6
    assert np.all(np.bincount(v.astype(np.int64)) > 1300)  # about 1429 each


@pytest.mark.parametrize("kwargs,exc,words", [
    (dict(seed=-1, n=3), ValueError, "'seed'"),
    (dict(seed=2**64, n=3), ValueError, "'seed'"),
    (dict(seed=1.5, n=3), TypeError, "'seed'"),
    (dict(seed=1, n=-1), ValueError, "'n'"),
    (dict(seed=1, n=3.0), TypeError, "'n'"),
    (dict(seed=1, n=3, offset=-2), ValueError, "'offset'"),
    (dict(seed=1, n=3, subsequence="a"), TypeError, "'subsequence'"),
])
def test_bad_arguments_name_the_argument(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        _native.philox_u32(**kwargs)
