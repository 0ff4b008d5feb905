"""Sizes the user chooses are checked against the memory the machine has before anything is
allocated: a clear ValueError naming the setting instead of an OOM kill."""

from __future__ import annotations

import time

import numpy as np
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


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True])
def test_train_refuses_a_bad_epoch_count(epochs):
    # Before: 0 and -1 trained nothing without a word, 1.5 trained one epoch, True one too.
    model = Word2Vec(vector_size=4, min_count=1, workers=1, progress=False)
    model.build_vocab(TINY)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        model.train(epochs=epochs)


def test_analogy_scores_are_batched_within_a_memory_budget(tmp_path, monkeypatch):
    # restrict_vocab picks the width of the (batch, words) score matrices: 512 questions x 3M
    # words was 30 GB for 3CosMul. Shrunk here to a 2 MB budget over 20,000 words.
    import tracemalloc

    from fastembed.word2vec import KeyedVectors, evaluation

    monkeypatch.setattr(evaluation, "SCORE_BUDGET_BYTES", 2 << 20, raising=False)
    V = 20000
    kv = KeyedVectors([f"w{i}" for i in range(V)], np.random.default_rng(0).standard_normal((V, 4)))
    questions = tmp_path / "q.txt"
    questions.write_text(": s\n" + "".join(f"w{i} w{i + 1} w{i + 2} w{i + 3}\n" for i in range(300)))
    kv.unit_vectors()
    tracemalloc.start()
    try:
        result = kv.evaluate_analogies(questions, restrict_vocab=V, method="3cosmul")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result["seen"] == 300
    assert peak < 8 << 20, f"peak {peak / 2**20:.0f} MB"  # unit vectors (0.3 MB) + scores; before: 117 MB
