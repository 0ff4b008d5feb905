"""corpus_file input: only UTF-8 text is trained on (refused up front, naming the first bad byte),
and every word the corpus reader can produce survives a save and a load."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fastembed.cli import main
from fastembed.word2vec import KeyedVectors, Word2Vec

KW = {"vector_size": 4, "min_count": 1, "epochs": 1, "workers": 1, "progress": False}


def test_latin1_corpus_is_refused_naming_offset_and_line(tmp_path):
    # Before: trained on the raw bytes and wrote vectors no loader could read as UTF-8.
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes(b"a b c\nd e f\ncaf\xe9 au lait\n")
    with pytest.raises(ValueError, match=r"latin1\.txt' is not UTF-8 text: byte 0xE9 at offset 15 \(line 3\).*iconv"):
        Word2Vec(corpus_file=corpus, **KW)


def test_the_first_bad_byte_is_reported_whatever_the_shard(tmp_path):
    lines = [b"word%d other words here" % i for i in range(2000)]
    lines[1500] += b" \xff"
    lines[300] += b" \xc3("  # a lead byte without its continuation
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(b"\n".join(lines) + b"\n")
    offset = sum(len(x) + 1 for x in lines[:300]) + len(lines[300]) - 2
    with pytest.raises(ValueError, match=rf"byte 0xC3 at offset {offset} \(line 301\)"):
        Word2Vec(corpus_file=corpus, **KW)


def test_binary_corpus_is_refused_before_training(tmp_path):
    # Before: trained, then failed at save with kilobytes of raw bytes in the message.
    corpus = tmp_path / "random.bin"
    corpus.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match="is not UTF-8 text") as e:
        Word2Vec(corpus_file=corpus, **KW)
    assert len(str(e.value)) < 400


def test_command_line_refuses_non_utf8_with_one_line(tmp_path, capsys):
    corpus, out = tmp_path / "latin1.txt", tmp_path / "v.txt"
    corpus.write_bytes("caf\xe9 na\xefve\n".encode("latin-1") * 10)
    assert main(["word2vec", "train", "--input", str(corpus), "-o", str(out), "--min-count", "1", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not UTF-8" in err and "iconv" in err
    assert not out.exists()


def test_directory_as_corpus_says_directory(tmp_path):
    # Before: "corpus_file ... does not exist".
    with pytest.raises(IsADirectoryError, match="is a directory"):
        Word2Vec(corpus_file=tmp_path, **KW)


@pytest.mark.parametrize("binary", [False, True])
def test_unicode_words_survive_save_and_load(tmp_path, binary):
    # The reader splits on ASCII whitespace only, so a word may hold U+00A0, U+2003 or \x1c, which
    # str.isspace() calls space. Before: trained, then save refused those words.
    words = ["caf\u00e9", "no\u00a0break", "em\u2003space", "sep\x1cword", "\u65e5\u672c"]
    corpus = tmp_path / "c.txt"
    corpus.write_text((" ".join(words) + "\n") * 5, encoding="utf-8")
    model = Word2Vec(corpus_file=corpus, **KW)
    assert sorted(model.wv.index_to_key) == sorted(words)
    out = tmp_path / ("v.bin" if binary else "v.txt")
    model.wv.save_word2vec_format(out, binary=binary)
    back = KeyedVectors.load_word2vec_format(out, binary=binary)
    assert back.index_to_key == model.wv.index_to_key
    np.testing.assert_array_equal(back.vectors, model.wv.vectors)


def test_word_with_ascii_space_is_refused_at_save_briefly(tmp_path):
    kv = KeyedVectors(["ok", "two words" + "x" * 5000], np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="contains whitespace") as e:
        kv.save_word2vec_format(tmp_path / "v.txt")
    assert len(str(e.value)) < 300
    assert os.listdir(tmp_path) == []
