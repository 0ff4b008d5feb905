"""Sizes the user chooses are checked against the memory the machine has before anything is
allocated: a clear ValueError naming the setting instead of an OOM kill."""

from __future__ import annotations

import time

import pytest

from fastembed.word2vec import Word2Vec

TINY = [["a", "b", "c", "d"]] * 3


def test_huge_vector_size_is_refused_before_allocating():
    # 4 words x 1e11 dims x 4 B x 2 matrices = 3.2 TB: more than any machine. Before: numpy's
    # MemoryError here, and vector_size=10**9 (32 GB) an OOM kill after filling 23.8 GB.
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"vector_size=100000000000 x 4 words .* needs 2\.9 TB, this machine has"):
        Word2Vec(TINY, vector_size=10**11, min_count=1, progress=False)
    assert time.perf_counter() - t0 < 5


def test_huge_vector_size_from_a_corpus_file_is_refused(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\n" * 3)
    with pytest.raises(ValueError, match="vector_size=100000000000"):
        Word2Vec(corpus_file=corpus, vector_size=10**11, min_count=1, progress=False)


def test_huge_negative_is_refused_before_training():
    # Each thread draws a sentence's negatives up front: 4 words x 2 sides x 1e11 x 4 B. Before:
    # MemoryError (std::bad_alloc) from inside the native epoch.
    with pytest.raises(ValueError, match=r"negative=100000000000 on sentences of up to 4 words .* needs"):
        Word2Vec(TINY, vector_size=4, negative=10**11, min_count=1, workers=1, progress=False)


def test_ordinary_sizes_still_train():
    model = Word2Vec(TINY, vector_size=8, min_count=1, epochs=1, workers=1, progress=False)
    assert model.wv.vectors.shape == (4, 8)
