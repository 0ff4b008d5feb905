"""Where the CUDA kernels run in the tests: one fixture, two backends.

``gpu`` is parametrized over
  cuda      fastembed._C_cuda on a real GPU, buffers are CUDA tensors (marker ``cuda``);
  cuda_emu  fastembed._C_cuda_emu: the same .cu sources and bindings built against the CPU
            emulator (csrc/cuda_emu), buffers are CPU tensors or numpy arrays (marker ``cuda_emu``).
A test written against ``gpu.module``, ``gpu.device``, ``gpu.stream()`` and ``gpu.sync()`` runs the
same assertions on a GPU and, without one, in CI. Tests of the library's own CUDA routing
(CUDA tensors into fastembed.ops, pointer checks) stay ``cuda`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from fastembed import _native


@dataclass(frozen=True)
class Backend:
    name: str  # "cuda" or "cuda_emu"

    @property
    def emulated(self) -> bool:
        return self.name == "cuda_emu"

    @property
    def module(self) -> Any:
        return _native._C_cuda_emu if self.emulated else _native._C_cuda

    @property
    def device(self) -> str:
        """The torch device whose memory the module takes as device memory."""
        return "cpu" if self.emulated else "cuda"

    def stream(self) -> int:
        if self.emulated:
            return 0
        import torch

        return torch.cuda.current_stream().cuda_stream

    def sync(self) -> None:
        if not self.emulated:
            import torch

            torch.cuda.synchronize()


BACKENDS = [pytest.param("cuda", marks=pytest.mark.cuda, id="cuda"),
            pytest.param("cuda_emu", marks=pytest.mark.cuda_emu, id="emu")]


@pytest.fixture(params=BACKENDS)
def gpu(request) -> Backend:
    return Backend(request.param)


@pytest.fixture
def w2v_device(gpu: Backend, monkeypatch: pytest.MonkeyPatch) -> str:
    """The `device` argument that makes Word2Vec train on `gpu`: "cuda", with the emulated module
    standing in for _C_cuda in fastembed.word2vec under cuda_emu (the same Python path runs)."""
    if gpu.emulated:
        monkeypatch.setattr("fastembed.word2vec.model.require_cuda", lambda what: gpu.module)
    return "cuda"
