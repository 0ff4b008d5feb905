from __future__ import annotations

from pathlib import Path

import pytest

from fastembed._data import data_dir

# A small real corpus that ships with the shared data; synthetic text when it is absent.
SYNTHETIC = ("the quick brown fox jumps over the lazy dog; the dog's owner wasn't amused.\n"
             "lower lowest newer newest widest 2026 1,000,000 ünïcödé 東京 😀\n") * 40


@pytest.fixture(scope="session")
def small_corpus() -> list[str]:
    root = data_dir()
    path = root / "corpora" / "tinyshakespeare" / "input.txt" if root else None
    if path is not None and path.is_file():
        return path.read_text(encoding="utf-8")[:120_000].splitlines(keepends=True)
    return SYNTHETIC.splitlines(keepends=True)


@pytest.fixture(scope="session")
def trained(small_corpus):
    from fastembed.tokenizers import BPETokenizer

    return BPETokenizer.train(small_corpus, vocab_size=256 + 300 + 1, special_tokens=["<|endoftext|>"],
                              min_frequency=2, progress=False)


def ref_rules(tok) -> dict:
    return {(int(l), int(r)): (int(k), int(i)) for l, r, k, i in tok.rules}


def byte_tokens(tok) -> list[int]:
    return [tok.token_id(bytes([b])) for b in range(256)]


def real_path(*parts: str) -> Path:
    root = data_dir()
    assert root is not None
    return root.joinpath(*parts)
