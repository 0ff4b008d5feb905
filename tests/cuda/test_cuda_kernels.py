"""CUDA twins against their CPU kernels (needs a GPU; skipped without one)."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed import _native

pytestmark = pytest.mark.cuda


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def stream(torch) -> int:
    return torch.cuda.current_stream().cuda_stream


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 1000, 3_000_017])
def test_axpy_matches_cpu(torch, dtype, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    xd, yd = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
    _native.axpy(0.7, x, y)
    _native.axpy(0.7, xd, yd)
    torch.cuda.synchronize()
    # FMA contraction on the GPU may differ from the CPU in the last bit.
    tol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(yd.cpu().numpy(), y, rtol=tol, atol=tol)


def test_axpy_strided(torch):
    x = torch.arange(20, dtype=torch.float32, device="cuda")
    y = torch.zeros(30, dtype=torch.float32, device="cuda")
    _native.axpy(2.0, x[::2], y[::3])
    torch.cuda.synchronize()
    want = torch.zeros(30)
    want[::3] = 2.0 * torch.arange(0, 20, 2, dtype=torch.float32)
    assert torch.equal(y.cpu(), want)


@pytest.mark.parametrize("offset,n", [(0, 4), (1, 3), (3, 1001), (7, 1_000_003), (2**40 + 1, 4097)])
@pytest.mark.parametrize("kind", ["u32", "uniform"])
def test_philox_bits_equal_cpu(torch, offset, n, kind):
    dtype = torch.int32 if kind == "u32" else torch.float32
    out = torch.empty(n, dtype=dtype, device="cuda")
    _native._C_cuda.philox_fill(1234, 5, offset, n, out.data_ptr(), kind, stream(torch))
    torch.cuda.synchronize()
    if kind == "u32":
        cpu = _native.philox_u32(1234, n, subsequence=5, offset=offset)
        np.testing.assert_array_equal(out.cpu().numpy().view(np.uint32), cpu)
    else:
        cpu = _native.philox_uniform(1234, n, subsequence=5, offset=offset)
        np.testing.assert_array_equal(out.cpu().numpy(), cpu)


def test_host_pointer_is_rejected(torch):
    host = np.zeros(4, dtype=np.float32)
    dev = torch.zeros(4, device="cuda")
    with pytest.raises(ValueError, match="argument 'y' .* is not CUDA device memory"):
        _native._C_cuda.axpy(1.0, 4, dev.data_ptr(), 1, host.ctypes.data, 1, "float32", stream(torch))


def test_bad_dtype_name_is_rejected(torch):
    dev = torch.zeros(4, device="cuda")
    with pytest.raises(TypeError, match="argument 'dtype'"):
        _native._C_cuda.axpy(1.0, 4, dev.data_ptr(), 1, dev.data_ptr(), 1, "int8", stream(torch))


def test_mismatched_tensors_are_rejected(torch):
    with pytest.raises(TypeError, match="float32 or float64"):
        _native.axpy(1.0, torch.zeros(4, device="cuda", dtype=torch.float16),
                     torch.zeros(4, device="cuda", dtype=torch.float16))
    with pytest.raises(TypeError, match="must be a tensor on"):
        _native.axpy(1.0, torch.zeros(4), torch.zeros(4, device="cuda"))
