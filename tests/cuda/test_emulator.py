"""The CUDA emulator's own semantics (csrc/cuda_emu), through small kernels compiled into
fastembed._C_cuda_emu (csrc/cuda_emu/selftest.cu): what the kernel tests rely on to find bugs.

Warp barriers are scoped to the warp, returned lanes leave them, a divergent barrier is a reported
deadlock, shared memory starts as junk, the dynamic shared-memory limits are a GPU's, atomics are
atomic, shuffles follow PTX's segment rules, and fp16 / bf16 conversions round as CUDA's _rn
intrinsics (round to nearest even, which numpy and torch use too)."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed import _native

pytestmark = pytest.mark.cuda_emu


@pytest.fixture(scope="module")
def emu():
    return _native._C_cuda_emu


def test_every_check_is_tested(emu):
    tested = {"warp_barrier", "divergent_barrier", "junk", "shuffle", "returned_lanes", "read_returned_lane",
              "bad_mask", "partial_warp", "too_many_threads", "smem_48k", "smem_over_default", "smem_opt_in",
              "smem_over_opt_in", "atomics"}
    assert set(emu._selftest_names()) == tested


def test_warp_barrier_waits_for_its_warp_only(emu):
    # Warp 0 meets at __syncwarp while warp 1 waits at __syncthreads: a block-wide warp barrier
    # would deadlock.
    assert emu._selftest("warp_barrier") == [1] * 64


def test_divergent_barrier_is_a_reported_deadlock(emu):
    with pytest.raises(RuntimeError, match=r"cudaErrorLaunchFailure.*deadlock.*threads 1-63 wait at __syncthreads"
                                           r".*threads 0 wait in __syncwarp"):
        emu._selftest("divergent_barrier")


def test_shared_memory_starts_as_junk(emu):
    assert emu._selftest("junk") == [0xFFFFFFFF] * 32


def shuffle_model(lanes=32):
    """What shuffle_kernel writes, from PTX's shfl.sync rules (segments of `width` lanes; a source
    outside the lane's segment reads the lane itself)."""
    out = []
    for lane in range(lanes):
        def seg(width):
            lo = lane & (32 - width)
            return lo, lo + width - 1
        lo16, hi16 = seg(16)
        lo8, hi8 = seg(8)
        xor8 = lane ^ 8
        up3 = lane - 3
        down3 = lane + 3
        ballot = sum(1 << i for i in range(lanes) if i % 3 == 0)
        out += [lane ^ 5,
                xor8 if xor8 <= hi16 else lane,
                up3 if up3 >= lo16 else lane,
                down3 if down3 <= hi8 else lane,
                lo16 + 33 % 16,
                ballot,
                1 + 2 * int(lanes <= 31),
                int(1000.5 + (lane ^ 1))]
    return out


def test_shuffles_and_votes_follow_ptx(emu):
    assert emu._selftest("shuffle") == shuffle_model()


def test_a_shuffle_reading_a_missing_lane_is_an_error(emu):
    # 20 threads: lanes 20..31 of the only warp do not exist, and lane ^ 5 can name one of them.
    with pytest.raises(RuntimeError, match=r"__shfl_xor_sync: lane 16 of warp 0 reads lane 21, which has returned"):
        emu._selftest("partial_warp")


def test_returned_lanes_leave_warp_barriers(emu):
    out = emu._selftest("returned_lanes")
    assert out[:16] == [lane ^ 1 for lane in range(16)] and out[16:] == [-7] * 16


def test_reading_a_returned_lane_is_an_error(emu):
    with pytest.raises(RuntimeError, match="reads lane 16, which has returned"):
        emu._selftest("read_returned_lane")


def test_a_mask_must_include_the_caller(emu):
    with pytest.raises(RuntimeError, match=r"__ballot_sync: lane 0 of warp 0 \(thread 0\) passes mask 0xfffffffe"):
        emu._selftest("bad_mask")


def test_block_size_limit(emu):
    with pytest.raises(RuntimeError, match="cudaErrorInvalidConfiguration.*at most 1024 threads"):
        emu._selftest("too_many_threads")


def test_dynamic_shared_memory_limits_are_a_gpus(emu):
    assert emu._selftest("smem_48k") == [48 * 1024 // 4 - 1]
    with pytest.raises(RuntimeError, match=r"cudaErrorInvalidValue.*49156 bytes of dynamic shared memory exceed "
                                           r"the kernel's limit of 49152"):
        emu._selftest("smem_over_default")
    assert emu._selftest("smem_opt_in") == [200 * 1024 // 4 - 1]
    with pytest.raises(RuntimeError, match="cudaFuncSetAttribute.*outside \\[0, 232448\\]"):
        emu._selftest("smem_over_opt_in")


def test_atomics_are_atomic(emu):
    # 64 blocks of 256 threads on the pool's CPU threads, all adding to the same three words.
    assert emu._selftest("atomics") == [64 * 256, 64 * 256, 64 * 256]


def test_unknown_check(emu):
    with pytest.raises(ValueError, match="unknown check 'nope'"):
        emu._selftest("nope")


# --------------------------------------------------------------------------------------------
# fp16 / bf16 conversions


def interesting_floats():
    rng = np.random.default_rng(0)
    f16 = np.finfo(np.float16)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, 65504.0, 65519.99, 65520.0, 1e6, -1e6, float(f16.tiny),
                         float(f16.smallest_subnormal), float(f16.smallest_subnormal) / 2,
                         float(f16.smallest_subnormal) * 0.50001, 3.0e38, -3.4e38, 1.0 + 2**-11, 1.0 + 3 * 2**-11,
                         1.0 + 2**-8, 1.0 + 3 * 2**-8], dtype=np.float32)
    # Every half as a float, and its midpoints to the next half (the ties).
    halves = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float32)
    mids = (halves[:-1].astype(np.float64) + halves[1:].astype(np.float64)) / 2
    random_bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = np.concatenate([specials, halves, mids.astype(np.float32), random_bits, rng.standard_normal(10_000)
                        .astype(np.float32)])
    x = np.concatenate([x, -x])
    return x[~np.isnan(x)].astype(np.float32)


def test_float_to_half_rounds_like_cuda(emu):
    x = interesting_floats()
    with np.errstate(over="ignore"):
        want = x.astype(np.float16).view(np.uint16)  # IEEE round to nearest even, like __float2half_rn
    np.testing.assert_array_equal(emu._float_to_half_bits(x), want)


def test_float_to_bfloat16_rounds_like_cuda(emu):
    torch = pytest.importorskip("torch")
    x = interesting_floats()
    want = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(emu._float_to_bfloat16_bits(x), want)


def test_nan_converts_to_cudas_canonical_nan(emu):
    nan = np.array([np.nan, -np.nan, np.float32(np.nan) * 0], dtype=np.float32)
    assert (emu._float_to_half_bits(nan) == 0x7FFF).all()
    assert (emu._float_to_bfloat16_bits(nan) == 0x7FFF).all()
