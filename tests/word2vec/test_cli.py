"""`fastembed word2vec` with bad input: missing words, empty, damaged or misnamed files, bad
counts. Each ends with one line on stderr and status 1 (argparse's usage errors: status 2), never
a traceback or a quietly wrong answer."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed.cli import main
from fastembed.word2vec import KeyedVectors


@pytest.fixture
def vectors(tmp_path):
    kv = KeyedVectors(["king", "queen", "man", "woman"], np.random.default_rng(0).standard_normal((4, 5)))
    path = tmp_path / "v.txt"
    kv.save_word2vec_format(path)
    return path


def run(capsys, *args):
    status = main(["word2vec", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(err):
    assert err.count("\n") == 1 and err.startswith("fastembed word2vec: error: ") and "Traceback" not in err, err
    return err


def test_nan_in_the_vectors_file(tmp_path, capsys):
    # Before: status 0 and "king: queen (nan), man (nan)".
    f = tmp_path / "nan.txt"
    f.write_text("2 2\nking nan 1\nqueen 1 1\n")
    status, out, err = run(capsys, "neighbours", "-v", f, "queen")
    assert status == 1 and out == ""
    assert "nan.txt:2: word 'king' has the value nan" in one_error_line(err)


def test_header_claiming_a_billion_words(tmp_path):
    # Before: MemoryError (373 GiB) escaped main() as a traceback.
    f = tmp_path / "big.txt"
    f.write_text("1000000000 100\nking " + "1 " * 100 + "\n")
    assert main(["word2vec", "neighbours", "-v", str(f), "king"]) == 1


def test_missing_words_are_all_named_before_any_output(vectors, capsys):
    # Before: printed the neighbours of 'king', then failed on the first missing word only.
    status, out, err = run(capsys, "neighbours", "-v", vectors, "king", "zebra", "yak")
    assert status == 1 and out == ""
    assert "not in the vocabulary (4 words): 'zebra', 'yak'" in one_error_line(err)
    status, out, err = run(capsys, "analogy", "-v", vectors, "man", "zebra", "woman")
    assert status == 1 and "'zebra'" in one_error_line(err)


@pytest.mark.parametrize("args", [("neighbours", "king", "--topn", "0"), ("analogy", "man", "king", "woman", "--topn",
                                                                          "-1")])
def test_topn_below_one_is_a_usage_error(vectors, capsys, args):
    # Before: status 0 and an empty answer ("king: ").
    with pytest.raises(SystemExit) as e:
        main(["word2vec", args[0], "-v", str(vectors), *args[1:]])
    assert e.value.code == 2 and "must be >= 1" in capsys.readouterr().err


def test_evaluate_needs_something_to_evaluate(vectors, capsys):
    # Before: status 0 and "{}".
    status, _, err = run(capsys, "evaluate", "-v", vectors)
    assert status == 1 and "nothing to evaluate" in one_error_line(err)


def test_evaluate_an_empty_analogy_file(vectors, tmp_path, capsys):
    # Before: status 0 with accuracy 0.0 over 0 questions.
    empty = tmp_path / "q.txt"
    empty.write_text("\n")
    status, _, err = run(capsys, "evaluate", "-v", vectors, "--analogies", empty)
    assert status == 1 and "no analogy questions" in one_error_line(err)


def test_evaluate_a_nan_similarity_score(vectors, tmp_path, capsys):
    # Before: status 0 with spearman NaN.
    sim = tmp_path / "sim.txt"
    sim.write_text("king queen 8\nman woman nan\nking man 3\n")
    status, _, err = run(capsys, "evaluate", "-v", vectors, "--similarity", sim)
    assert status == 1 and "sim.txt:2: the score 'nan' is not a finite number" in one_error_line(err)


def test_evaluate_a_file_in_another_encoding(vectors, tmp_path, capsys):
    # Before: read with errors='replace', so 'caf\xe9' silently became an out-of-vocabulary miss.
    q = tmp_path / "q.txt"
    q.write_bytes(b": s\nking queen man woman\ncaf\xe9 king man woman\n")
    status, _, err = run(capsys, "evaluate", "-v", vectors, "--analogies", q)
    assert status == 1 and "q.txt:3: not UTF-8 text (byte 0xE9 at offset 28)" in one_error_line(err)


def test_text_file_named_bin_gets_a_hint(vectors, tmp_path, capsys):
    misnamed = tmp_path / "v.bin"
    misnamed.write_bytes(vectors.read_bytes())
    status, _, err = run(capsys, "neighbours", "-v", misnamed, "king")
    assert status == 1 and "is in the word2vec text format; rename it without .bin" in one_error_line(err)


def test_train_into_a_missing_folder_fails_before_training(tmp_path, capsys):
    # Before: trained, then "No such file or directory: '.../missing/.v.txt.x1y2.tmp'".
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n" * 10)
    status, out, err = run(capsys, "train", "--input", corpus, "-o", tmp_path / "missing" / "v.txt", "--min-count", "1")
    assert status == 1 and out == ""
    assert "the folder" in one_error_line(err) and "missing does not exist" in err and ".tmp" not in err


@pytest.mark.parametrize("what", ["directory", "missing", "empty"])
def test_bad_vectors_path(tmp_path, capsys, what):
    path = {"directory": tmp_path, "missing": tmp_path / "nope.txt", "empty": tmp_path / "empty.txt"}[what]
    if what == "empty":
        path.write_text("")
    status, _, err = run(capsys, "neighbours", "-v", path, "king")
    expected = {"directory": "is a directory", "missing": "No such file", "empty": "no header line"}[what]
    assert status == 1 and expected in one_error_line(err)


def test_binary_file_named_txt_gets_a_hint(tmp_path, capsys):
    kv = KeyedVectors(["king", "queen"], np.ones((2, 3), dtype=np.float32))
    misnamed = tmp_path / "v.txt"
    kv.save_word2vec_format(misnamed, binary=True)
    status, _, err = run(capsys, "neighbours", "-v", misnamed, "king")
    assert status == 1 and "is in the word2vec binary format; rename it to end in .bin" in one_error_line(err)
