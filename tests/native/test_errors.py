"""Native exceptions become the Python exception of the same name, in one place, and an
exception inside a parallel region reaches Python instead of terminating the process."""

from __future__ import annotations

import pytest

from fastembed import _native

testing = _native._C._testing


@pytest.mark.parametrize("kind,exc", [
    ("ValueError", ValueError),
    ("TypeError", TypeError),
    ("IndexError", IndexError),
    ("RuntimeError", RuntimeError),
    ("Error", RuntimeError),
])
def test_each_native_kind_maps_to_its_python_exception(kind, exc):
    with pytest.raises(exc) as info:
        testing.raise_error(kind, f"a {kind} from C++")
    assert type(info.value) is exc
    assert str(info.value) == f"a {kind} from C++"


def test_allocation_failure_is_memory_error():
    with pytest.raises(MemoryError):
        testing.raise_error("bad_alloc", "")


@pytest.mark.parametrize("fail_at", [0, 500_000, 999_999])
def test_exception_inside_parallel_region_reaches_python(fail_at, restore_threads):
    _native.set_num_threads(max(2, restore_threads))
    with pytest.raises(IndexError, match=f"item {fail_at} failed on purpose"):
        testing.parallel_raise(1_000_000, fail_at)
    # The thread pool is still usable afterwards.
    total, _ = testing.parallel_sum(1_000_000)
    assert total == 999_999 * 1_000_000 // 2


def test_huge_allocation_request_is_an_exception_not_a_crash():
    with pytest.raises((MemoryError, ValueError)):
        _native.philox_u32(0, 2**62)
