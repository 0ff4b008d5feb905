"""The one Python module that imports the compiled extensions.

``fastembed._C`` (the CPU core) must load: without it nothing works, and the error says how to
build it. ``fastembed._C_cuda`` is optional: when it is missing or cannot load, the reason is
kept in :data:`CUDA_STATUS` and every CUDA entry point raises with that reason.
``fastembed._C_cuda_emu`` is the same CUDA kernels and bindings built against the CPU emulator
(csrc/cuda_emu), taking host pointers; the tests run the CUDA kernels through it where there is
no GPU. Nothing in the library uses it; its state is :data:`CUDA_EMU_STATUS`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import platform
import sys
import warnings
from typing import Any, Iterator

from ._version import __version__

try:
    from . import _C
except ImportError as e:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        f"fastembed's native core (fastembed._C) could not be loaded: {e}. Build it from the source "
        "tree with `pip install -e .` (needs a C++17 compiler and Python headers). If it was built "
        "on another machine with FASTEMBED_ARCH=native, rebuild here or build with the default "
        "FASTEMBED_ARCH=dispatch."
    ) from e


def _select_isa() -> dict[str, Any]:
    """Choose the native kernels' instruction-set level, once, at import.

    The highest level compiled in (baseline, avx2, avx512: csrc/README.md, "Runtime dispatch")
    that this CPU supports, capped by ``FASTEMBED_ISA`` (for tests and debugging). A cap above
    what the CPU has falls back with a RuntimeWarning, never an illegal instruction.
    ``FASTEMBED_TEST_CPU_LEVEL`` (tests only) makes detection report less than the CPU has.
    """
    cap = os.environ.get("FASTEMBED_ISA", "").strip().lower()
    pretend = os.environ.get("FASTEMBED_TEST_CPU_LEVEL", "").strip().lower()
    info = _C.select_isa(cap, pretend)  # ValueError for a name it does not know
    if info["warning"]:
        warnings.warn(f"fastembed: {info['warning']}", RuntimeWarning, stacklevel=2)
    return info


_select_isa()


def _optional_module(name: str, not_built: str) -> tuple[Any, str]:
    """(module, "built") or (None, why not) for an optional extension of this package."""
    try:
        # import_module, not `from . import`: a missing file must read as "not built", and `from`
        # turns every failure into a generic "cannot import name".
        return importlib.import_module(f"{__package__}.{name}"), "built"
    except ModuleNotFoundError as e:
        if e.name != f"{__package__}.{name}":
            return None, f"built but failed to load: {e}"
        return None, not_built
    except ImportError as e:  # e.g. an undefined symbol or a missing shared library
        return None, f"built but failed to load: {e}"


_C_cuda, CUDA_STATUS = _optional_module(
    "_C_cuda", "not built: nvcc was not found when fastembed was built (or FASTEMBED_SKIP_CUDA / "
    "FASTEMBED_SANITIZE was set); rebuild with CUDA on PATH or FASTEMBED_FORCE_CUDA=1")
_C_cuda_emu, CUDA_EMU_STATUS = _optional_module(
    "_C_cuda_emu", "not built (FASTEMBED_SKIP_CUDA_EMU or FASTEMBED_SANITIZE was set, or the tree was built "
    "before the emulator existed); rebuild with `pip install -e .`")


# --------------------------------------------------------------------------------------------
# Threads


def set_num_threads(n: int) -> None:
    """Set how many threads fastembed's native parallel loops use (process-wide, ``n >= 1``).

    The default is OpenMP's: ``OMP_NUM_THREADS`` if set, else the number of cores. In a child
    process created by ``fork()`` loops run on one thread (GNU OpenMP would deadlock otherwise).
    """
    _C.set_num_threads(n)


def get_num_threads() -> int:
    """Threads fastembed's native parallel loops started on the calling thread use now."""
    return _C.get_num_threads()


@contextlib.contextmanager
def local_num_threads(n: int) -> Iterator[None]:
    """Within the block, native loops started on *this* thread use ``n`` threads (``n >= 1``),
    whatever the process-wide count; other threads are not affected. For a worker thread that
    runs its own share of a job beside others (:class:`fastembed.Embedder` runs one batch per
    worker). The previous override comes back on exit."""
    before = _C.local_num_threads()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"local_num_threads: n must be an int >= 1, got {n!r}")
    _C.set_local_num_threads(n)
    try:
        yield
    finally:
        _C.set_local_num_threads(before)


# --------------------------------------------------------------------------------------------
# CUDA


def cuda_is_built() -> bool:
    return _C_cuda is not None


def cuda_emu_is_built() -> bool:
    """True when the emulated CUDA module (fastembed._C_cuda_emu) loaded."""
    return _C_cuda_emu is not None


def cuda_device_count() -> int:
    return _C_cuda.device_count() if _C_cuda is not None else 0


def cuda_available() -> bool:
    """True when the CUDA module loaded and at least one GPU is visible."""
    return cuda_device_count() > 0


def require_cuda(what: str) -> Any:
    if _C_cuda is None:
        raise RuntimeError(f"{what} needs fastembed's CUDA module, which is {CUDA_STATUS}")
    if _C_cuda.device_count() == 0:
        raise RuntimeError(f"{what} needs a CUDA GPU, and none is visible")
    return _C_cuda


# --------------------------------------------------------------------------------------------
# Build facts


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def build_info() -> dict[str, Any]:
    """How fastembed was built and what it can use here.

    Keys: ``version``, ``python``, ``platform``, ``compiler``, ``flags``, ``arch`` (SIMD policy),
    ``sanitizers``, ``openmp``, ``openmp_version``, ``simd`` (widest vector ISA compiled in),
    ``simd_features``, ``cpu_simd_features``, ``dispatch`` (a dict: ``level`` the kernels run at,
    ``compiled`` the levels built, ``flags`` theirs, ``cpu`` the highest level this CPU supports,
    ``cap`` FASTEMBED_ISA or None, ``warning`` or None), ``threads``, ``default_threads``, ``forked_child``,
    ``cuda`` (a dict: ``built``, ``status``, and when built ``runtime_version``, ``archs``,
    ``driver_version``, ``gpus``, ``gpu_visible``; ``emulator``: a dict ``built``, ``status`` for
    the emulated CUDA module the tests use without a GPU), ``torch`` (installed version or None;
    torch is not imported).
    """
    info: dict[str, Any] = {"version": __version__, "python": platform.python_version(),
                            "platform": platform.platform()}
    info.update(_C.build_info())
    info["threads"] = _C.get_num_threads()
    info["default_threads"] = _C.default_num_threads()
    info["forked_child"] = _C.in_forked_child()
    cuda: dict[str, Any] = {"built": _C_cuda is not None, "status": CUDA_STATUS}
    if _C_cuda is not None:
        c = _C_cuda.build_info()
        rt = c["cuda_runtime_version"]
        cuda.update(runtime_version=f"{rt // 1000}.{rt % 1000 // 10}", archs=c["archs"],
                    driver_version=c["driver_version"], gpus=c["devices"], gpu_visible=bool(c["devices"]))
    cuda["emulator"] = {"built": _C_cuda_emu is not None, "status": CUDA_EMU_STATUS}
    info["cuda"] = cuda
    info["torch"] = _dist_version("torch")
    return info


# --------------------------------------------------------------------------------------------
# Small kernels that later layers use


def _is_torch_tensor(x: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def axpy(alpha: float, x: Any, y: Any) -> None:
    """``y += alpha * x`` in place, for 1-D float32/float64 numpy arrays or torch tensors.

    numpy arrays and CPU tensors run on the CPU kernel; CUDA tensors on the CUDA kernel, on the
    current stream. ``y`` is never copied: a read-only or wrongly typed ``y`` raises.
    """
    if _is_torch_tensor(y):
        if y.device.type == "cuda":
            return _axpy_cuda(alpha, x, y)
        if not _is_torch_tensor(x) or x.device.type != "cpu":
            raise TypeError("axpy: 'x' must be a CPU tensor when 'y' is a CPU tensor")
        x, y = x.detach().numpy(), y.detach().numpy()
    _C.axpy(alpha, x, y)


def _axpy_cuda(alpha: float, x: Any, y: Any) -> None:
    import torch

    cuda = require_cuda("axpy on CUDA tensors")
    if not _is_torch_tensor(x) or x.device != y.device:
        raise TypeError(f"axpy: 'x' must be a tensor on {y.device} like 'y'")
    if x.dtype != y.dtype or y.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"axpy: 'x' and 'y' must both be float32 or float64, got {x.dtype} and {y.dtype}")
    if x.dim() != 1 or y.dim() != 1 or x.numel() != y.numel():
        raise ValueError(f"axpy: 'x' and 'y' must be 1-D of equal length, got {tuple(x.shape)} and {tuple(y.shape)}")
    with torch.cuda.device(y.device):
        stream = torch.cuda.current_stream().cuda_stream
        cuda.axpy(alpha, y.numel(), x.data_ptr(), x.stride(0), y.data_ptr(), y.stride(0),
                  str(y.dtype).removeprefix("torch."), stream)


def philox_u32(seed: int, n: int, *, subsequence: int = 0, offset: int = 0):
    """Elements ``[offset, offset + n)`` of the Philox4x32-10 stream ``(seed, subsequence)``.

    The same bits come from any thread count and from the CUDA twin, so a kernel can regenerate
    any slice of a random stream (e.g. a dropout mask in the backward pass).
    """
    return _C.philox_u32(seed, subsequence, offset, n)


def philox_uniform(seed: int, n: int, *, subsequence: int = 0, offset: int = 0):
    """The Philox stream as float32 in ``[0, 1)`` (24 random bits each)."""
    return _C.philox_uniform(seed, subsequence, offset, n)
