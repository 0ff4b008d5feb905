"""The Python word2vec API: training, determinism, vectors, queries, evaluation, files, pictures,
and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed.word2vec import KeyedVectors, Word2Vec, plot_pairs


def toy_corpus(n=400, seed=0):
    """Sentences where 'king'/'queen' share contexts (royal words), as do 'man'/'woman'."""
    rng = np.random.default_rng(seed)
    royal = ["crown", "throne", "palace", "reign"]
    common = ["street", "work", "house", "city"]
    out = []
    for _ in range(n):
        who = rng.choice(["king", "queen", "man", "woman"])
        pool = royal if who in ("king", "queen") else common
        out.append([str(who)] + [str(w) for w in rng.choice(pool, 6)] + ["the", "a"])
    return out


def test_train_and_query():
    model = Word2Vec(toy_corpus(), vector_size=24, window=3, min_count=1, epochs=8, workers=1, seed=3,
                     sample=0, progress=False)
    wv = model.wv
    assert wv.vectors.shape == (len(wv.index_to_key), 24) and wv.vectors.dtype == np.float32
    assert wv.index_to_key[wv.key_to_index["king"]] == "king"
    assert wv.similarity("king", "queen") > wv.similarity("king", "street")
    top = [w for w, _ in wv.most_similar("crown", topn=3)]
    assert "crown" not in top and len(top) == 3
    assert wv.doesnt_match(["crown", "throne", "palace", "street"]) == "street"
    assert len(model.epoch_losses) == 8
    assert model.epoch_losses[-1] < model.epoch_losses[0]  # the loss falls
    assert all(s["pairs"] > 0 and s["words_per_second"] > 0 for s in model.epoch_stats)


def test_vectors_are_shared_not_copied():
    model = Word2Vec(toy_corpus(50), vector_size=8, min_count=1, epochs=1, workers=1, progress=False)
    before = model.wv.vectors.copy()
    view = model.wv.vectors
    model.train(epochs=1)
    assert model.wv.vectors is view and not np.array_equal(view, before)


def test_one_worker_is_bit_identical_for_a_seed():
    kw = dict(vector_size=16, min_count=1, epochs=2, workers=1, seed=11, progress=False)
    a = Word2Vec(toy_corpus(), **kw).wv.vectors
    b = Word2Vec(toy_corpus(), **kw).wv.vectors
    c = Word2Vec(toy_corpus(), **{**kw, "seed": 12}).wv.vectors
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("sg,shared", [(0, False), (1, True)])
def test_cbow_and_shared_negatives_train(sg, shared):
    model = Word2Vec(toy_corpus(), vector_size=16, min_count=1, epochs=6, workers=2, sg=sg, shared_negatives=shared,
                     sample=0, progress=False)
    assert model.epoch_losses[-1] < model.epoch_losses[0]
    assert model.wv.similarity("king", "queen") > model.wv.similarity("king", "street")


def test_corpus_file_equals_sentences(tmp_path):
    corpus = toy_corpus(100)
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in corpus) + "\n")
    kw = dict(vector_size=8, min_count=1, epochs=1, workers=1, progress=False)
    a, b = Word2Vec(corpus, **kw), Word2Vec(corpus_file=path, **kw)
    assert a.wv.index_to_key == b.wv.index_to_key
    assert np.array_equal(a.wv.counts, b.wv.counts)
    assert np.array_equal(a.wv.vectors, b.wv.vectors)


def test_token_id_arrays():
    rng = np.random.default_rng(0)
    sents = [rng.integers(0, 30, 40).astype(np.uint32) for _ in range(50)]
    model = Word2Vec(sents, vector_size=8, min_count=1, epochs=1, workers=1, progress=False)
    assert all(isinstance(k, int) for k in model.wv.index_to_key)
    assert model.wv[int(sents[0][0])].shape == (8,)


def test_callbacks_run_each_epoch():
    seen = []

    class Gensimish:
        def on_epoch_end(self, model):
            seen.append(("obj", len(model.epoch_losses)))

    Word2Vec(toy_corpus(30), vector_size=8, min_count=1, epochs=3, workers=1, progress=False,
             callbacks=[Gensimish(), lambda model, epoch, loss: seen.append(("fn", epoch))])
    assert seen == [("obj", 1), ("fn", 0), ("obj", 2), ("fn", 1), ("obj", 3), ("fn", 2)]


def test_analogy_evaluation_matches_hand_computed_case(tmp_path):
    # 2-D vectors where b - a + c is exactly one word's direction.
    keys = ["man", "woman", "king", "queen", "boy", "girl", "apple"]
    vecs = np.array([[1, 0], [0, 1], [2, 0.1], [0.1, 2], [1, 0.05], [0.05, 1], [-1, -1]], np.float32)
    kv = KeyedVectors(keys, vecs)
    q = tmp_path / "q.txt"
    q.write_text(": gender\nman woman king queen\nman woman boy girl\nman king woman apple\n"
                 ": other\nMAN WOMAN KING QUEEN\nman woman zebra horse\n")
    # by hand: 1) king-man+woman ~ (1, 1.1) -> nearest unit vector outside {man,woman,king}: queen/girl?
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    def predict(a, b, c):
        ia, ib, ic = (keys.index(w) for w in (a, b, c))
        s = unit @ (unit[ib] - unit[ia] + unit[ic])
        s[[ia, ib, ic]] = -np.inf
        return keys[int(np.argmax(s))]
    want = [predict("man", "woman", "king") == "queen", predict("man", "woman", "boy") == "girl",
            predict("man", "king", "woman") == "apple", predict("man", "woman", "king") == "queen"]
    res = kv.evaluate_analogies(q, restrict_vocab=30000)
    assert res["total"] == 5 and res["seen"] == 4 and res["coverage"] == pytest.approx(0.8)
    assert res["correct"] == sum(want)
    assert res["sections"]["gender"]["seen"] == 3 and res["sections"]["other"]["total"] == 2
    assert res["accuracy"] == pytest.approx(sum(want) / 4)
    cm = kv.evaluate_analogies(q, method="3cosmul")
    assert cm["seen"] == 4 and cm["method"] == "3cosmul"
    assert kv.evaluate_analogies(q, restrict_vocab=3)["seen"] == 0


def test_similarity_evaluation(tmp_path):
    kv = KeyedVectors(["a", "b", "c", "d"], np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], np.float32))
    f = tmp_path / "sim.txt"
    f.write_text("# comment\nWord 1\tWord 2\tHuman\na\tb\t9\na\tc\t5\na\td\t1\nb\tzzz\t3\n")
    res = kv.evaluate_similarity(f)
    assert res["spearman"] == pytest.approx(1.0) and res["pairs"] == 3 and res["oov_ratio"] == pytest.approx(0.25)


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_round_trip(tmp_path, binary):
    kv = KeyedVectors(["a", "b", "ü"], np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32))
    path = tmp_path / "v.bin"
    kv.save_word2vec_format(path, binary=binary)
    back = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert back.index_to_key == kv.index_to_key and np.array_equal(back.vectors, kv.vectors)
    assert KeyedVectors.load_word2vec_format(path, binary=binary, limit=2).index_to_key == ["a", "b"]


def test_native_format_mmap(tmp_path):
    kv = KeyedVectors(["x", "y"], np.ones((2, 3), np.float32), counts=[5, 2])
    kv.save(tmp_path / "kv.json")
    back = KeyedVectors.load(tmp_path / "kv.json", mmap="r")
    assert isinstance(back.vectors, np.memmap) or isinstance(back.vectors.base, np.memmap)
    assert back.index_to_key == ["x", "y"] and back.counts.tolist() == [5, 2]
    assert np.array_equal(back.vectors, kv.vectors)


def test_gensim_interop(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    kv = KeyedVectors(["a", "b", "c"], np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32))
    for binary in (False, True):
        p = tmp_path / f"ours{int(binary)}"
        kv.save_word2vec_format(p, binary=binary)
        g = gensim_models.KeyedVectors.load_word2vec_format(str(p), binary=binary)
        assert list(g.index_to_key) == kv.index_to_key and np.array_equal(g.vectors, kv.vectors)
        q = tmp_path / f"theirs{int(binary)}"
        g.save_word2vec_format(str(q), binary=binary)
        back = KeyedVectors.load_word2vec_format(q, binary=binary)
        assert back.index_to_key == kv.index_to_key
        np.testing.assert_allclose(back.vectors, kv.vectors, rtol=1e-6)


def test_plot_pairs(tmp_path):
    pytest.importorskip("matplotlib")
    kv = KeyedVectors(["man", "woman", "king", "queen"], np.random.default_rng(0).standard_normal((4, 6)))
    out = tmp_path / "pairs.png"
    plot_pairs(kv, [("man", "woman"), ("king", "queen")], out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        Word2Vec([[]], min_count=1, progress=False)
    with pytest.raises(ValueError, match="min_count=5"):
        Word2Vec([["a", "b"]], progress=False)
    with pytest.raises(ValueError, match="vector_size"):
        Word2Vec(vector_size=0)
    with pytest.raises(ValueError, match="window"):
        Word2Vec(window=0)
    with pytest.raises(TypeError, match="list of tokens"):
        Word2Vec(["a sentence as a string"], min_count=1, progress=False)
    with pytest.raises(FileNotFoundError):
        Word2Vec(corpus_file=tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    with pytest.raises(ValueError, match="empty"):
        Word2Vec(corpus_file=empty, min_count=1, progress=False)
    kv = KeyedVectors(["a", "b"], np.eye(2, dtype=np.float32))
    with pytest.raises(KeyError, match="'zebra'"):
        kv["zebra"]
    with pytest.raises(KeyError, match="'zebra'"):
        kv.most_similar("zebra")
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\na 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match=r"bad.txt:3: expected a word and 3 numbers"):
        KeyedVectors.load_word2vec_format(bad)
    bad.write_text("x y\n")
    with pytest.raises(ValueError, match="header"):
        KeyedVectors.load_word2vec_format(bad)
    kv.save_word2vec_format(tmp_path / "t.bin", binary=True)
    (tmp_path / "t.bin").write_bytes((tmp_path / "t.bin").read_bytes()[:-6])
    with pytest.raises(ValueError, match="truncated"):
        KeyedVectors.load_word2vec_format(tmp_path / "t.bin", binary=True)
    (tmp_path / "n.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a fastembed KeyedVectors"):
        KeyedVectors.load(tmp_path / "n.json")


def test_divergence_is_reported():
    with pytest.raises(FloatingPointError, match="diverged"):
        Word2Vec(toy_corpus(200), vector_size=8, min_count=1, epochs=3, workers=1, alpha=1e30, progress=False)


def test_command_line(tmp_path, capsys):
    from fastembed.cli import main

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(" ".join(s) for s in toy_corpus(200)) + "\n")
    out = tmp_path / "v.bin"
    assert main(["word2vec", "train", str(corpus), "-o", str(out), "--min-count", "1", "--vector-size", "16",
                 "--epochs", "2", "--workers", "1"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["word2vec", "neighbours", "-v", str(out), "king", "--topn", "3"]) == 0
    assert capsys.readouterr().out.startswith("king: ")
    assert main(["word2vec", "analogy", "-v", str(out), "man", "king", "woman"]) == 0
    assert "man : king :: woman :" in capsys.readouterr().out
    assert main(["word2vec", "neighbours", "-v", str(out), "zebra"]) == 1  # KeyError -> message, status 1


@pytest.mark.parametrize("kw,match", [
    (dict(ns_exponent=float("nan")), "ns_exponent must be a finite number"),
    (dict(ns_exponent="0.75"), "ns_exponent must be a finite number"),
    (dict(seed=-1), r"seed must be an integer in \[0, 2\*\*64\)"),
    (dict(seed=2**64), r"seed must be an integer in \[0, 2\*\*64\)"),
    (dict(seed=1.5), "seed must be an integer"),
    (dict(min_alpha=float("inf")), "both finite"),
])
def test_bad_settings_are_refused_up_front(kw, match):
    # Before: nan gave "every word count is 0", -1 a bare "expected non-negative integer", and an
    # infinite min_alpha trained an epoch into NaN.
    with pytest.raises(ValueError, match=match):
        Word2Vec(toy_corpus(20), vector_size=8, min_count=1, epochs=1, progress=False, **kw)
