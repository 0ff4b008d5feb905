"""axpy and the Philox fills of the CUDA module against their CPU twins, on every backend
(tests/cuda/conftest.py: a GPU, or the emulator). The library's routing of CUDA tensors and its
device-pointer checks need a real GPU (marker cuda)."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed import _native
from fastembed.cli import format_info

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 1000, 300_017])
def test_axpy_matches_cpu(gpu, dtype, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    xd, yd = torch.from_numpy(x).to(gpu.device), torch.from_numpy(y.copy()).to(gpu.device)
    _native.axpy(0.7, x, y)
    gpu.module.axpy(0.7, n, xd.data_ptr(), 1, yd.data_ptr(), 1, dtype, gpu.stream())
    gpu.sync()
    # FMA contraction on the GPU may differ from the CPU in the last bit.
    tol = 1e-6 if dtype == "float32" else 1e-14
    np.testing.assert_allclose(yd.cpu().numpy(), y, rtol=tol, atol=tol)


def test_axpy_strided(gpu):
    x = torch.arange(20, dtype=torch.float32, device=gpu.device)
    y = torch.zeros(30, dtype=torch.float32, device=gpu.device)
    gpu.module.axpy(2.0, 10, x.data_ptr(), 2, y.data_ptr(), 3, "float32", gpu.stream())
    gpu.sync()
    want = torch.zeros(30)
    want[::3] = 2.0 * torch.arange(0, 20, 2, dtype=torch.float32)
    assert torch.equal(y.cpu(), want)


@pytest.mark.parametrize("offset,n", [(0, 4), (1, 3), (3, 1001), (7, 300_003), (2**40 + 1, 4097)])
@pytest.mark.parametrize("kind", ["u32", "uniform"])
def test_philox_bits_equal_cpu(gpu, offset, n, kind):
    dtype = torch.int32 if kind == "u32" else torch.float32
    out = torch.empty(n, dtype=dtype, device=gpu.device)
    gpu.module.philox_fill(1234, 5, offset, n, out.data_ptr(), kind, gpu.stream())
    gpu.sync()
    if kind == "u32":
        cpu = _native.philox_u32(1234, n, subsequence=5, offset=offset)
        np.testing.assert_array_equal(out.cpu().numpy().view(np.uint32), cpu)
    else:
        cpu = _native.philox_uniform(1234, n, subsequence=5, offset=offset)
        np.testing.assert_array_equal(out.cpu().numpy(), cpu)


def test_bad_arguments_are_rejected(gpu):
    dev = torch.zeros(4, device=gpu.device)
    with pytest.raises(TypeError, match="argument 'dtype'"):
        gpu.module.axpy(1.0, 4, dev.data_ptr(), 1, dev.data_ptr(), 1, "int8", gpu.stream())
    with pytest.raises(ValueError, match="argument 'x' is a null pointer"):
        gpu.module.axpy(1.0, 4, 0, 1, dev.data_ptr(), 1, "float32", gpu.stream())
    with pytest.raises(ValueError, match="argument 'n'"):
        gpu.module.axpy(1.0, -1, dev.data_ptr(), 1, dev.data_ptr(), 1, "float32", gpu.stream())
    with pytest.raises(ValueError, match="argument 'kind' must be 'u32' or 'uniform'"):
        gpu.module.philox_fill(1, 0, 0, 4, dev.data_ptr(), "normal", gpu.stream())
    with pytest.raises(ValueError, match="argument 'out' is a null pointer"):
        gpu.module.philox_fill(1, 0, 0, 4, 0, "u32", gpu.stream())


# Every public function of the CUDA module and the tests that run it on both backends. A new
# binding fails test_every_binding_is_tested until it is added here with its tests.
BINDINGS = {
    "axpy": "test_axpy_*",
    "philox_fill": "test_philox_bits_equal_cpu",
    "attention_forward": "tests/cuda/test_attention_cuda.py",
    "attention_backward": "tests/cuda/test_attention_cuda.py",
    "Word2VecCuda": "tests/cuda/test_word2vec_cuda.py",
    "build_info": "test_build_info_says_which_module",
    "device_count": "test_build_info_says_which_module",
    "synchronize": "test_build_info_says_which_module",
}


def test_every_binding_is_tested(gpu):
    public = {name for name in dir(gpu.module) if not name.startswith("_")}
    assert public == set(BINDINGS)


def test_build_info_says_which_module(gpu):
    gpu.module.synchronize()
    assert gpu.module.device_count() >= 1
    info = gpu.module.build_info()
    assert info["emulated"] is gpu.emulated
    if gpu.emulated:
        assert gpu.module.device_count() == 1 and info["devices"] == ["fastembed CUDA emulator (sm_90)"]
    emulator_line = next(line for line in format_info(_native.build_info()).splitlines()
                         if line.startswith("CUDA emulator"))
    assert ("built (fastembed._C_cuda_emu" in emulator_line) is _native.cuda_emu_is_built()


@pytest.mark.cuda
def test_host_pointer_is_rejected():
    host = np.zeros(4, dtype=np.float32)
    dev = torch.zeros(4, device="cuda")
    with pytest.raises(ValueError, match="argument 'y' .* is not CUDA device memory"):
        _native._C_cuda.axpy(1.0, 4, dev.data_ptr(), 1, host.ctypes.data, 1, "float32",
                             torch.cuda.current_stream().cuda_stream)


@pytest.mark.cuda
def test_cuda_tensors_route_to_the_cuda_kernel():
    x = torch.arange(5, dtype=torch.float32, device="cuda")
    y = torch.ones(5, dtype=torch.float32, device="cuda")
    _native.axpy(2.0, x, y)
    assert torch.equal(y.cpu(), 1 + 2 * torch.arange(5, dtype=torch.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        _native.axpy(1.0, torch.zeros(4, device="cuda", dtype=torch.float16),
                     torch.zeros(4, device="cuda", dtype=torch.float16))
    with pytest.raises(TypeError, match="must be a tensor on"):
        _native.axpy(1.0, torch.zeros(4), torch.zeros(4, device="cuda"))
