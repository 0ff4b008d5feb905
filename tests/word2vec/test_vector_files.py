"""word2vec text and binary vector files that are damaged, lie in their header or hold NaN: a
ValueError naming the line (text) or word (binary) before anything large is allocated. Paths that
are directories or in missing folders say so."""

from __future__ import annotations

import json
import os
import struct
import time

import numpy as np
import pytest

from fastembed.word2vec import KeyedVectors

load = KeyedVectors.load_word2vec_format


def small_kv(n=3, dim=2):
    return KeyedVectors([f"w{i}" for i in range(n)], np.arange(n * dim, dtype=np.float32).reshape(n, dim) + 1)


def binary_row(word, values):
    return word.encode() + b" " + struct.pack(f"<{len(values)}f", *values) + b"\n"


@pytest.mark.parametrize("value,why", [("nan", "not a finite number"), ("-inf", "not a finite number"),
                                       ("1e39", "beyond float32's range")])
def test_text_non_finite_values_name_line_and_word(tmp_path, value, why):
    # Before: loaded, and most_similar returned NaN scores for every word.
    f = tmp_path / "v.txt"
    f.write_text(f"3 2\na 1 2\nb 3 {value}\nc 5 6\n")
    with pytest.raises(ValueError, match=rf"v\.txt:3: word 'b' has the value {value} at dimension 1, {why}"):
        load(f)


def test_binary_non_finite_value_names_the_word(tmp_path):
    f = tmp_path / "v.bin"
    f.write_bytes(b"3 2\n" + binary_row("a", [1, 2]) + binary_row("b", [3, 4]) + binary_row("c", [float("nan"), 0]))
    with pytest.raises(ValueError, match=r"v\.bin: word 3 of 3 \('c'\) has nan at dimension 0; .* must be finite"):
        load(f, binary=True)


@pytest.mark.parametrize("binary", [False, True])
def test_header_claiming_more_words_than_the_file_holds_allocates_nothing(tmp_path, binary):
    # Before: numpy tried to allocate 373 GiB for the claimed (10**9, 100) and raised MemoryError.
    f = tmp_path / ("v.bin" if binary else "v.txt")
    small_kv(2, 100).save_word2vec_format(f, binary=binary)
    f.write_bytes(b"1000000000 100\n" + f.read_bytes().split(b"\n", 1)[1])
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="the header claims 1,000,000,000 words"):
        load(f, binary=binary)
    assert time.perf_counter() - t0 < 2


@pytest.mark.parametrize("binary,found", [(False, "3 words, the file has 2 lines after it"), (True, "3 words of 2 dimensions, the file holds 2")])
def test_fewer_rows_than_claimed_says_claimed_and_found(tmp_path, binary, found):
    f = tmp_path / ("v.bin" if binary else "v.txt")
    small_kv(2, 2).save_word2vec_format(f, binary=binary)
    f.write_bytes(b"3 2\n" + f.read_bytes().split(b"\n", 1)[1])  # 3 claimed, 2 present: within the size bound
    with pytest.raises(ValueError, match=rf"the header claims {found}"):
        load(f, binary=binary)
    assert len(load(f, binary=binary, limit=2)) == 2  # what is there can still be read


@pytest.mark.parametrize("header,match", [
    (b"2 -3", "two non-negative integers"), (b"-2 3", "two non-negative integers"), (b"2 0", "vector_size 0"),
    (b"x y", "two non-negative integers"), (b"2 3 4", "two non-negative integers"), (b"1_0 3", "non-negative"),
    (b"0 99999999999", "expected 1 to"), (b"2 99999999999999999999999", "non-negative"),
    (b"2 1000000000", "claims 2 words of 1,000,000,000 dimensions"), (b"\xff\xfe", "expected a header"),
])
@pytest.mark.parametrize("binary", [False, True])
def test_bad_headers(tmp_path, header, match, binary):
    f = tmp_path / "v"
    f.write_bytes(header + b"\na 1 2 3\nb 1 2 3\n")
    with pytest.raises(ValueError, match=match):
        load(f, binary=binary)


def test_word_in_another_encoding_names_the_line(tmp_path):
    f = tmp_path / "v.txt"
    f.write_bytes(b"2 1\na 1\ncaf\xe9 2\n")
    with pytest.raises(ValueError, match=r"v\.txt:3: the word b'caf\\xe9' is not utf-8 .* unicode_errors='replace'"):
        load(f)
    assert load(f, unicode_errors="replace").index_to_key == ["a", "caf\ufffd"]


@pytest.mark.parametrize("limit", [-1, 1.5, True])
def test_bad_limit(tmp_path, limit):
    f = tmp_path / "v.txt"
    small_kv().save_word2vec_format(f)
    with pytest.raises(ValueError, match="limit must be None or an integer >= 0"):
        load(f, limit=limit)


def test_directory_is_named_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory, expected a word2vec vectors file"):
        load(tmp_path)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        KeyedVectors.load(tmp_path)


@pytest.mark.parametrize("save", ["text", "binary", "native"])
def test_output_in_a_missing_folder_names_the_folder(tmp_path, save):
    # Before: "No such file or directory: '.../missing/.v.x1y2.tmp'", the hidden temp file.
    kv, out = small_kv(), tmp_path / "missing" / "v"
    with pytest.raises(FileNotFoundError, match=r"the folder .*missing does not exist") as e:
        kv.save(out) if save == "native" else kv.save_word2vec_format(out, binary=save == "binary")
    assert ".tmp" not in str(e.value)
    with pytest.raises(IsADirectoryError, match="is a directory; give a file name"):
        kv.save(tmp_path) if save == "native" else kv.save_word2vec_format(tmp_path, binary=save == "binary")


@pytest.mark.parametrize("save", ["text", "binary", "native"])
def test_non_finite_vectors_are_not_written(tmp_path, save):
    # Before: written as 'nan', a file the loaders now refuse (gensim reads it and poisons queries).
    kv = small_kv()
    kv.vectors[1, 0] = np.inf
    out = tmp_path / "v"
    with pytest.raises(ValueError, match=r"the vector of word 'w1' \(index 1\) holds NaN or infinity"):
        kv.save(out) if save == "native" else kv.save_word2vec_format(out, binary=save == "binary")
    assert os.listdir(tmp_path) == []


def test_native_format_refuses_nan_and_damaged_headers(tmp_path):
    kv, out = small_kv(), tmp_path / "kv.json"
    kv.save(out)
    vec = tmp_path / "kv.json.vectors.npy"
    bad = kv.vectors.copy()
    bad[2, 1] = np.nan
    np.save(vec, bad)
    with pytest.raises(ValueError, match=r"the vector of word 'w2' \(index 2\) holds NaN"):
        KeyedVectors.load(out)
    assert KeyedVectors.load(out, mmap="r").vectors.shape == (3, 2)  # mapped: not read, not checked
    header = json.loads(out.read_text())
    del header["vectors"]
    out.write_text(json.dumps(header))
    with pytest.raises(ValueError, match="damaged header"):  # before: KeyError 'vectors'
        KeyedVectors.load(out)


def test_text_file_loaded_as_binary_is_recognised(tmp_path):
    # Before: loaded as garbage floats made of ASCII bytes (some 1e20 and more).
    f = tmp_path / "v.txt"
    small_kv(3, 4).save_word2vec_format(f)
    with pytest.raises(ValueError, match="this is the text word2vec format, not binary"):
        load(f, binary=True)


def test_large_finite_values_do_not_poison_similarity():
    # Before: the float32 sum of squares overflowed above 1.8e19, norms became inf and the
    # scores NaN (here: a RuntimeWarning, which the test settings make an error).
    kv = KeyedVectors(["a", "b", "c"], np.array([[3e19, 4e19], [1.0, 1.0], [-1.0, 0.5]], dtype=np.float32))
    scores = dict(kv.most_similar("a", topn=2))
    assert np.isfinite(list(scores.values())).all()
    assert scores["b"] == pytest.approx((3 + 4) / 5 / np.sqrt(2), rel=1e-6)
