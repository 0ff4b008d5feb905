"""word2vec on CUDA (csrc/word2vec/train_cuda.cu) through Word2Vec(device="cuda") and the raw
Word2VecCuda class, on every backend (tests/cuda/conftest.py: a GPU, or the emulator): training
works (falling loss, sensible neighbours, loss and pair counts close to the CPU trainer's, which
shares the sampling rules), subsampling keeps what the CPU rule keeps, and bad arguments raise
clear errors.

Launch shape: the trainer gives each warp at least 1024 consecutive centres and packs 8 warps per
block, so the toy corpus (400 sentences, 3,600 words) runs 4 warps in one block (the block's other
4 warps return at once) and BIG (950 sentences, 8,550 words) runs 9 warps: a full block of 8 and a
second block, as on a real corpus."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed._native import _C
from fastembed.word2vec import Word2Vec
from fastembed.word2vec._reference import keep_probability

from ..word2vec.test_model import toy_corpus

BIG = 950  # sentences: 9 warps (see above)


def fit(device, sentences=400, **kw):
    args = dict(vector_size=24, window=3, min_count=1, epochs=8, workers=1, seed=3, sample=0, progress=False)
    args.update(kw)
    return Word2Vec(toy_corpus(sentences), device=device, **args)


@pytest.mark.parametrize("sg,shared", [(1, True), (1, False), (0, False)])
def test_loss_falls_and_neighbours_make_sense(w2v_device, sg, shared):
    model = fit(w2v_device, sg=sg, shared_negatives=shared, epochs=12)
    losses = model.epoch_losses
    assert len(losses) == 12 and all(np.isfinite(losses))
    assert losses[-1] < 0.95 * losses[0]  # the CPU trainer gets 0.85 (skip-gram), 0.65 (CBOW)
    wv = model.wv
    assert wv.similarity("king", "queen") > wv.similarity("king", "street")
    assert wv.similarity("man", "woman") > wv.similarity("man", "throne")
    assert wv.doesnt_match(["crown", "throne", "palace", "street"]) == "street"


@pytest.mark.parametrize("sg,shared", [(1, True), (1, False), (0, False)])
def test_loss_is_close_to_the_cpu_trainer(w2v_device, sg, shared):
    # Same semantics, different random streams and update order: the mean loss per pair of the
    # last epoch should agree closely, and so should the pair counts (windows are random).
    gpu = fit(w2v_device, BIG, sg=sg, shared_negatives=shared, epochs=4)
    cpu = fit("cpu", BIG, sg=sg, shared_negatives=shared, epochs=4)
    g, c = gpu.epoch_stats[-1], cpu.epoch_stats[-1]
    assert abs(g["mean_loss"] - c["mean_loss"]) < 0.1 * c["mean_loss"] + 0.02, (g["mean_loss"], c["mean_loss"])
    assert abs(g["pairs"] - c["pairs"]) < 0.1 * c["pairs"]


def test_vectors_have_the_model_shapes_and_change(w2v_device):
    model = fit(w2v_device, epochs=1)
    V = len(model.wv.index_to_key)
    assert model.wv.vectors.shape == (V, 24) and model.wv.vectors.dtype == np.float32
    assert model.syn1neg.shape == (V, 24) and model.syn1neg.dtype == np.float32
    assert np.isfinite(model.wv.vectors).all() and np.isfinite(model.syn1neg).all()
    assert np.abs(model.syn1neg).sum() > 0  # starts at zero
    before = model.wv.vectors.copy()
    view = model.wv.vectors
    model.train(epochs=1)
    assert model.wv.vectors is view and not np.array_equal(view, before)


def test_callbacks_see_each_epochs_vectors(w2v_device):
    seen = []
    fit(w2v_device, epochs=3, callbacks=[lambda m, e, loss: seen.append(m.wv.vectors.copy())])
    assert len(seen) == 3
    assert not np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[1], seen[2])


@pytest.mark.parametrize("sg", [1, 0])
def test_without_subsampling_every_word_is_trained(w2v_device, sg):
    model = fit(w2v_device, BIG, sg=sg, epochs=1, sample=0)
    stats = model.epoch_stats[0]
    assert stats["trained_words"] == model.corpus_words == BIG * 9
    assert stats["pairs"] > 0


def test_subsampling_keeps_what_the_cpu_rule_keeps(w2v_device):
    corpus = toy_corpus(2000, seed=1)
    model = Word2Vec(corpus, vector_size=8, min_count=1, epochs=3, sample=1e-2, seed=5, device=w2v_device,
                     progress=False)
    p = keep_probability(model.wv.counts, 1e-2)
    mean = float((model.wv.counts * p).sum())
    sd = float(np.sqrt((model.wv.counts * p * (1 - p)).sum()))
    assert mean < 0.9 * model.corpus_words  # 'the' and 'a' are thinned
    kept = [s["trained_words"] for s in model.epoch_stats]
    assert all(abs(k - mean) < 6 * sd + 1 for k in kept), (kept, mean, sd)
    assert len(set(kept)) > 1  # each epoch draws afresh


def test_corpus_file_and_offsets(w2v_device, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in toy_corpus()) + "\n\n")
    model = Word2Vec(corpus_file=path, vector_size=16, min_count=1, epochs=4, sample=0, device=w2v_device,
                     progress=False)
    assert model.epoch_stats[0]["trained_words"] == model.corpus_words
    assert model.epoch_losses[-1] < model.epoch_losses[0]


# ------------------------------------------------------------------------------- raw binding


def raw_inputs(V=6, D=4, n=20):
    rng = np.random.default_rng(0)
    syn0 = rng.standard_normal((V, D)).astype(np.float32)
    syn1 = np.zeros((V, D), dtype=np.float32)
    ids = rng.integers(0, V, n).astype(np.int32)
    offsets = np.array([0, 7, 7, n], dtype=np.int64)
    counts = np.bincount(ids, minlength=V).astype(np.int64) + 1
    return syn0, syn1, ids, offsets, counts


EPOCH = dict(sg=True, cbow_mean=True, shared_negatives=True, window=2, negative=3, epochs=1, epoch=0, sample=0.0,
             alpha=0.025, min_alpha=1e-4, ns_exponent=0.75, seed=1)


def test_raw_train_and_download(gpu):
    syn0, syn1, ids, offsets, counts = raw_inputs()
    t = gpu.module.Word2VecCuda(syn0, syn1, ids, offsets, counts)
    assert (t.vocab_size, t.vector_size, t.corpus_words) == (6, 4, 20)
    res = t.train_epoch(**EPOCH)
    assert set(res) == {"loss", "trained_words", "pairs"}
    assert res["trained_words"] == 20 and res["pairs"] > 0 and res["loss"] > 0
    out0, out1 = np.empty_like(syn0), np.empty_like(syn1)
    t.download(out0, out1)
    assert not np.array_equal(out0, syn0) and np.abs(out1).sum() > 0


def test_raw_bad_arguments(gpu):
    C = gpu.module
    syn0, syn1, ids, offsets, counts = raw_inputs()
    with pytest.raises(TypeError, match="'syn0' must have dtype float32"):
        C.Word2VecCuda(syn0.astype(np.float64), syn1, ids, offsets, counts)
    with pytest.raises(TypeError, match="'ids' must have dtype int32"):
        C.Word2VecCuda(syn0, syn1, ids.astype(np.int64), offsets, counts)
    with pytest.raises(TypeError, match="'offsets' must have dtype int64"):
        C.Word2VecCuda(syn0, syn1, ids, offsets.astype(np.int32), counts)
    with pytest.raises(TypeError, match="'syn1neg' must be a numpy.ndarray"):
        C.Word2VecCuda(syn0, syn1.tolist(), ids, offsets, counts)
    with pytest.raises(ValueError, match="'syn1neg' must have the shape of 'syn0'"):
        C.Word2VecCuda(syn0, syn1[:3], ids, offsets, counts)
    with pytest.raises(ValueError, match="'syn0' must be C-contiguous"):
        C.Word2VecCuda(np.asfortranarray(syn0), syn1, ids, offsets, counts)
    with pytest.raises(ValueError, match="'counts' must have one entry per word"):
        C.Word2VecCuda(syn0, syn1, ids, offsets, counts[:-1])
    bad = ids.copy()
    bad[3] = 6
    with pytest.raises(IndexError, match="token id 6 at position 3 of 'ids' is outside the vocabulary"):
        C.Word2VecCuda(syn0, syn1, bad, offsets, counts)
    with pytest.raises(ValueError, match="'offsets' must be non-decreasing"):
        C.Word2VecCuda(syn0, syn1, ids, np.array([0, 9, 7, 20], dtype=np.int64), counts)
    with pytest.raises(ValueError, match="'offsets' must lie in"):
        C.Word2VecCuda(syn0, syn1, ids, np.array([0, 21], dtype=np.int64), counts)
    with pytest.raises(ValueError, match="every word count is 0"):
        C.Word2VecCuda(syn0, syn1, ids, offsets, np.zeros_like(counts))

    t = C.Word2VecCuda(syn0, syn1, ids, offsets, counts)
    with pytest.raises(ValueError, match="window must be in"):
        t.train_epoch(**{**EPOCH, "window": 0})
    with pytest.raises(ValueError, match="negative must be in"):
        t.train_epoch(**{**EPOCH, "negative": 0})
    with pytest.raises(ValueError, match="epoch 1 is outside"):
        t.train_epoch(**{**EPOCH, "epoch": 1})
    with pytest.raises(ValueError, match="alpha must be > 0"):
        t.train_epoch(**{**EPOCH, "alpha": 0.0})
    with pytest.raises(TypeError, match="'window' must be an integer"):
        t.train_epoch(**{**EPOCH, "window": 2.5})
    with pytest.raises(ValueError, match="exceeds the GPU's"):
        t.train_epoch(**{**EPOCH, "window": 1 << 20})
    with pytest.raises(ValueError, match=r"'syn0' must have shape \(6, 4\)"):
        t.download(np.empty((6, 5), np.float32), np.empty((6, 4), np.float32))
    ro = np.empty((6, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="'syn1neg' is read-only"):
        t.download(np.empty((6, 4), np.float32), ro)
    with pytest.raises(TypeError, match="'syn0' must have dtype float32"):
        t.download(np.empty((6, 4), np.float64), np.empty((6, 4), np.float32))
    # Still usable after the errors.
    assert t.train_epoch(**EPOCH)["trained_words"] == 20


# ----------------------------------------------------------------------- no randomness left


@pytest.mark.parametrize("sg,shared", [(1, True), (1, False), (0, False)])
def test_trajectory_equals_the_cpu_trainer_where_nothing_is_random(gpu, sg, shared):
    # One word, window 1, no subsampling, a constant learning rate: every negative draw equals
    # the centre and is dropped, every window is the neighbours, so the CPU trainer (one worker)
    # and the GPU trainer (600 centres: one warp) make the same updates in the same order. Only
    # the summation order of the dot products differs. D = 100 spans the 32 lanes unevenly.
    V, D = 1, 100
    rng = np.random.default_rng(4)
    syn0 = (rng.standard_normal((V, D)) * 0.05).astype(np.float32)
    syn1 = (rng.standard_normal((V, D)) * 0.05).astype(np.float32)
    ids = np.zeros(600, dtype=np.int32)
    offsets = np.arange(0, 601, 6, dtype=np.int64)  # 100 sentences of 6 words
    counts = np.array([600], dtype=np.int64)
    settings = dict(sg=bool(sg), cbow_mean=True, shared_negatives=shared, window=1, negative=5, epochs=1, epoch=0,
                    sample=0.0, alpha=0.025, min_alpha=0.025, ns_exponent=0.75, seed=1)

    cpu0, cpu1 = syn0.copy(), syn1.copy()
    want = _C.w2v_train_epoch(cpu0, cpu1, ids, offsets, counts, *settings.values(), 1, None)
    trainer = gpu.module.Word2VecCuda(syn0, syn1, ids, offsets, counts)
    got = trainer.train_epoch(**settings)
    gpu0, gpu1 = np.empty_like(syn0), np.empty_like(syn1)
    trainer.download(gpu0, gpu1)

    assert got["pairs"] == want["pairs"] == (1000 if sg else 600)
    assert got["trained_words"] == want["trained_words"] == 600
    assert abs(got["loss"] - want["loss"]) <= 1e-4 * want["loss"], (got["loss"], want["loss"])
    assert not np.allclose(cpu0, syn0, atol=1e-3)  # training moved the vectors
    np.testing.assert_allclose(gpu0, cpu0, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gpu1, cpu1, rtol=1e-4, atol=1e-6)
