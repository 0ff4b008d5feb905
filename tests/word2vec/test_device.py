"""Word2Vec's `device` argument without a GPU: bad values and a missing CUDA module or GPU raise
clear errors before any training (the GPU trainer itself is tested in tests/cuda/)."""

from __future__ import annotations

import pytest

from fastembed import _native
from fastembed.word2vec import Word2Vec


def small_corpus():
    return [["the", "king", "rules", "the", "land"], ["the", "queen", "rules", "the", "land"]] * 5


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda', got 'tpu'"):
        Word2Vec(device="tpu")
    with pytest.raises(ValueError, match="device"):
        Word2Vec(small_corpus(), min_count=1, device="GPU", progress=False)


def test_cpu_device_is_the_default():
    model = Word2Vec(small_corpus(), vector_size=8, min_count=1, epochs=1, workers=1, progress=False)
    assert model.device == "cpu"
    explicit = Word2Vec(small_corpus(), vector_size=8, min_count=1, epochs=1, workers=1, progress=False,
                        device="cpu")
    assert (explicit.wv.vectors == model.wv.vectors).all()


@pytest.mark.skipif(_native.cuda_available(), reason="a CUDA GPU is visible")
def test_cuda_without_a_gpu_names_the_reason():
    with pytest.raises(RuntimeError, match=r"Word2Vec\(device='cuda'\) needs (fastembed's CUDA module|a CUDA GPU)"):
        Word2Vec(small_corpus(), min_count=1, device="cuda", progress=False)


def test_cuda_module_missing(monkeypatch):
    monkeypatch.setattr(_native, "_C_cuda", None)
    monkeypatch.setattr(_native, "CUDA_STATUS", "not built: nvcc was not found")
    with pytest.raises(RuntimeError, match="needs fastembed's CUDA module, which is not built"):
        Word2Vec(small_corpus(), min_count=1, device="cuda", progress=False)


def test_cuda_gpu_missing(monkeypatch):
    class NoGpu:
        @staticmethod
        def device_count() -> int:
            return 0

    monkeypatch.setattr(_native, "_C_cuda", NoGpu())
    with pytest.raises(RuntimeError, match="needs a CUDA GPU, and none is visible"):
        Word2Vec(device="cuda")
    # A model built for the CPU cannot switch to a missing GPU at train time either.
    model = Word2Vec(small_corpus(), vector_size=8, min_count=1, epochs=1, workers=1, progress=False)
    model.device = "cuda"
    with pytest.raises(RuntimeError, match="none is visible"):
        model.train()
