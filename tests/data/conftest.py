from __future__ import annotations

import pytest

from fastembed._data import data_dir
from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [f"w{i}" for i in range(2000)] + [".", "the", "cat", "dog", "sat", "ran"]
LINES = ["The cat sat on the mat.", "A dog ran in the park!", "Is it raining? Yes, it is.",
         "Numbers like 2026 and 1,000 appear too.", "Unicode: ünïcödé 東京."]


@pytest.fixture(scope="session")
def wordpiece() -> WordPieceTokenizer:
    """A tiny WordPiece vocabulary: the BERT specials (ids 0-4) and the words w0 .. w1999 etc."""
    return WordPieceTokenizer(SPECIALS + WORDS)


@pytest.fixture(scope="session")
def bpe() -> BPETokenizer:
    """A byte-level BPE trained on a few lines, with BERT's specials and GPT's separator."""
    return BPETokenizer.train(LINES * 20, vocab_size=256 + 40 + 5, progress=False,
                              special_tokens=["[CLS]", "[SEP]", "[MASK]", "[PAD]", "<|endoftext|>"])


@pytest.fixture(scope="session")
def bert_uncased() -> WordPieceTokenizer:
    """BERT's real uncased vocabulary from the shared data (test skipped when it is absent)."""
    root = data_dir()
    path = root / "tokenizers" / "bert-base-uncased" / "vocab.txt" if root else None
    if path is None or not path.is_file():
        pytest.skip("shared data: tokenizers/bert-base-uncased/vocab.txt not found")
    return WordPieceTokenizer.from_vocab(path)


def word_documents(n_docs: int, sentences: int, words: int, start: int = 0) -> list[list[str]]:
    """Documents of sentences made of distinct words w{k}, numbered in reading order."""
    docs, k = [], start
    for _ in range(n_docs):
        doc = []
        for _ in range(sentences):
            doc.append(" ".join(f"w{(k + j) % 2000}" for j in range(words)))
            k += words
        docs.append(doc)
    return docs
