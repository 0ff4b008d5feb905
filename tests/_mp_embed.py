"""Run as ``python -m tests._mp_embed METHOD MODEL_DIR``: the parent embeds texts (so torch's and
fastembed's thread pools have run), then a Pool of the given start method embeds them again in
worker processes; prints ``same`` when the workers' vectors equal the parent's. Used by
tests/test_fork_torch.py in a subprocess, so that a hang is a timeout there, not a stuck suite."""

from __future__ import annotations

import multiprocessing
import sys

import numpy as np

TEXTS = ["the cat sat on the mat", "a dog", "", "red red red", "the mat sat on the cat"] * 8
_embedder = None


def _init(model_dir: str) -> None:
    global _embedder
    from fastembed.embedder import Embedder

    _embedder = Embedder(model_dir, batch_size=64)   # one batch: it runs on the calling thread, with torch's pool


def _encode(texts: list[str]) -> np.ndarray:
    return _embedder.encode(texts, progress=False)


def main(method: str, model_dir: str) -> int:
    import torch

    _init(model_dir)
    want = _encode(TEXTS)
    torch.softmax(torch.randn(1000, 1000), -1)   # torch's OpenMP pool has run on this (the forking) thread
    ctx = multiprocessing.get_context(None if method == "default" else method)
    with ctx.Pool(2, initializer=_init, initargs=(model_dir,)) as pool:
        try:
            parts = pool.map_async(_encode, [TEXTS[i:i + 10] for i in range(0, len(TEXTS), 10)]).get(timeout=60)
        except multiprocessing.TimeoutError:
            print("the workers hung")
            return 3
    got = np.concatenate(parts)
    print("same" if np.allclose(got, want, rtol=1e-5, atol=1e-6) else f"differ by {np.abs(got - want).max()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
