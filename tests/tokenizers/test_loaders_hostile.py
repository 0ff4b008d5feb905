"""Broken and hostile tokenizer files: each loader raises a ValueError naming the file and what
it expected (or FileNotFoundError / IsADirectoryError for a path), and never allocates memory in
proportion to a number written in the file."""

from __future__ import annotations

import base64
import json
import re
import tracemalloc

import numpy as np
import pytest

from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer, count_words

from ._toy_files import BYTES, MERGED, gpt2_texts, tiktoken_text, wordpiece_text, write


def b64(t: bytes) -> str:
    return base64.b64encode(t).decode()


def raises_naming(path, *patterns):
    """pytest.raises(ValueError) whose message names `path` and matches every pattern, in order."""
    return pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + ".*".join(patterns))


# ---------------------------------------------------------------------- tiktoken rank files

BASE = tiktoken_text()
N = len(BYTES) + len(MERGED)  # tokens in BASE


@pytest.mark.parametrize("extra,line,expected", [
    (f"{b64(b'xy')} {N + 5}\n", N + 1, rf"rank {N + 5} .*expected ranks 0\.\.{N}"),
    (f"{b64(b'xy')} 3\n", N + 1, "rank 3 .*already given on line 4"),
    (f"{b64(b'xy')} -1\n", N + 1, "rank '-1' is not a non-negative integer"),
    (f"{b64(b'xy')}\n", N + 1, "expected 'base64-token rank'"),
    (f"{b64(b'xy')} {N} 7\n", N + 1, "expected 'base64-token rank'"),
    (f"{b64(b'xy')[:-2]}!! {N}\n", N + 1, "not base64"),
    (f"{b64(b'xy')} 1_0\n", N + 1, "rank '1_0' is not a non-negative integer"),
    (f"{b64(b'ab')} {N}\n", N + 1, "token b'ab' was already given on line 257"),
    (f"{b64(b'xy')} {10**40}\n", N + 1, rf"rank {10**40} .*expected ranks 0\.\.{N}"),
])
def test_tiktoken_bad_line_is_refused_with_its_number(tmp_path, extra, line, expected):
    path = write(tmp_path, "t.tiktoken", BASE + extra)
    with raises_naming(path, f"line {line}", expected):
        BPETokenizer.from_tiktoken(path)


def test_tiktoken_huge_rank_is_refused_before_allocating(tmp_path):
    # 257 lines, one with a rank of 3e7: the old loader made a list of 3e7 + 1 entries (240 MB)
    # before noticing the missing ranks.
    lines = [f"{b64(t)} {i}\n" for i, t in enumerate(BYTES)] + [f"{b64(b'ab')} {3 * 10**7}\n"]
    path = write(tmp_path, "t.tiktoken", "".join(lines))
    tracemalloc.start()
    try:
        with raises_naming(path, "line 257", r"expected ranks 0\.\.256"):
            BPETokenizer.from_tiktoken(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"loading a 257-line file peaked at {peak / 2**20:.0f} MiB"


def test_tiktoken_rank_of_a_trillion_is_a_value_error_not_memory_error(tmp_path):
    path = write(tmp_path, "t.tiktoken", BASE.replace(f" {N - 1}\n", f" {10**12}\n"))
    with raises_naming(path, f"line {N}", f"rank {10**12}"):
        BPETokenizer.from_tiktoken(path)


# ---------------------------------------------------------------------- special token ids


@pytest.mark.parametrize("bad", [10**12, -5, N - 1, "7", 2.0, True, None])
def test_tiktoken_special_id_outside_the_range_is_refused(tmp_path, bad):
    path = write(tmp_path, "t.tiktoken", BASE)
    with pytest.raises(ValueError, match=re.escape(f"special token '<|x|>' has id {bad!r}") + rf".*expected .*{N}\.\."):
        BPETokenizer.from_tiktoken(path, special_tokens={"<|x|>": bad})


def test_tiktoken_specials_may_leave_a_gap_but_not_share_an_id(tmp_path):
    path = write(tmp_path, "t.tiktoken", BASE)
    tok = BPETokenizer.from_tiktoken(path, special_tokens={"<|a|>": N + 3})
    assert tok.n_vocab == N + 4 and tok.encode("<|a|>", allowed_special="all").tolist() == [N + 3]
    with pytest.raises(ValueError, match=r"special tokens '<\|a\|>' and '<\|b\|>' both have id"):
        BPETokenizer.from_tiktoken(path, special_tokens={"<|a|>": N, "<|b|>": N})


@pytest.mark.parametrize("bad", [10**12, -1, "7"])
def test_constructor_special_id_outside_the_vocabulary_is_refused(bad):
    vocab = BYTES + [b"<|x|>"]
    with pytest.raises(ValueError, match=re.escape(f"special token '<|x|>' has id {bad!r}") + r".*expected .*0\.\.256"):
        BPETokenizer(vocab, np.zeros((0, 4), np.uint32), special_tokens={"<|x|>": bad})


def test_tokenizer_json_special_id_outside_the_vocabulary_is_refused(tmp_path):
    tok = BPETokenizer(BYTES + [b"<|x|>"], np.zeros((0, 4), np.uint32), special_tokens={"<|x|>": 256})
    path = tmp_path / "tok.json"
    tok.save(path)
    path.write_text(path.read_text().replace('"<|x|>":256', f'"<|x|>":{10**12}'))
    with raises_naming(path, re.escape(f"special token '<|x|>' has id {10**12}"), r"0\.\.256"):
        BPETokenizer.load(path)


def test_gpt2_endoftext_id_outside_the_vocabulary_is_refused(tmp_path):
    enc, merges = gpt2_texts()
    data = json.loads(enc)
    data["<|endoftext|>"] = 10**12
    path = write(tmp_path, "encoder.json", json.dumps(data))
    with raises_naming(path, re.escape(f"'<|endoftext|>' has id {10**12}"), "expected an integer id in 0.."):
        BPETokenizer.from_gpt2_files(path, write(tmp_path, "vocab.bpe", merges))


# ---------------------------------------------------------------------- GPT-2 encoder.json + vocab.bpe

ENC, MERGES = gpt2_texts()


@pytest.mark.parametrize("content,expected", [
    ("[1, 2, 3]", "holds a JSON list; expected an object mapping each token to its id"),
    (ENC[: len(ENC) // 2], "invalid or truncated"),
    (b'{"\xff\xfe": 1}', r"is not a GPT-2 encoder.json \(not UTF-8 text: byte 0xff at offset 2\)"),
    ("[" * 100_000, "nested too deeply"),
    ("{}", "holds no tokens"),
    (ENC.replace('"ab": 256', '"ab": 256.0'), r"token 'ab' has id 256\.0; expected an integer id in 0\.\."),
    (ENC.replace('"ab": 256', '"ab": true'), r"token 'ab' has id True; expected an integer id in 0\.\."),
    (ENC.replace('"ab": 256', '"ab": 1e999'), r"token 'ab' has id inf"),
])
def test_broken_encoder_json_is_a_value_error_naming_the_file(tmp_path, content, expected):
    path = write(tmp_path, "encoder.json", content)
    with raises_naming(path, expected):
        BPETokenizer.from_gpt2_files(path, write(tmp_path, "vocab.bpe", MERGES))


@pytest.mark.parametrize("content,expected", [
    (MERGES.encode() + b"\xff \xfe\n", "is not a GPT-2 vocab.bpe merges file .not UTF-8 text: byte 0xff"),
    (MERGES + "a b\n", "line 8: the pair 'a b' was already merged on line 2"),
    (MERGES + "a\n", "line 8 is not a merge of two known tokens"),
    (MERGES + "x y\n", "line 8 is not a merge of two known tokens"),
])
def test_broken_merges_file_is_a_value_error_naming_the_file(tmp_path, content, expected):
    path = write(tmp_path, "vocab.bpe", content)
    with raises_naming(path, expected):
        BPETokenizer.from_gpt2_files(write(tmp_path, "encoder.json", ENC), path)


def test_encoder_json_without_byte_tokens_names_the_file(tmp_path):
    data = {t: i for t, i in json.loads(ENC).items() if i != 0}
    data = {t: k for k, t in enumerate(data)}  # dense ids again, byte 0x00 gone
    path = write(tmp_path, "encoder.json", json.dumps(data))
    with raises_naming(path, "no token for byte 0x0"):
        BPETokenizer.from_gpt2_files(path, write(tmp_path, "vocab.bpe", "#version: 0.2\n"))


def test_merges_file_without_version_header_keeps_its_first_merge(tmp_path):
    enc = write(tmp_path, "encoder.json", ENC)
    with_header = BPETokenizer.from_gpt2_files(enc, write(tmp_path, "a.bpe", MERGES))
    without = BPETokenizer.from_gpt2_files(enc, write(tmp_path, "b.bpe", MERGES.split("\n", 1)[1]))
    assert len(without.rules) == len(with_header.rules) == 6
    assert without.encode("abc the").tolist() == with_header.encode("abc the").tolist() == [257, 261]


def test_merges_file_with_windows_line_ends_loads(tmp_path):
    enc = write(tmp_path, "encoder.json", ENC)
    crlf = BPETokenizer.from_gpt2_files(enc, write(tmp_path, "a.bpe", MERGES.replace("\n", "\r\n")))
    assert crlf.encode("abc the").tolist() == [257, 261]


# ---------------------------------------------------------------------- the tokenizer's own .json


@pytest.mark.parametrize("content,expected", [
    ("[" * 100_000, "nested too deeply"),
    (b'{"format": "\xff"}', "is not a fastembed tokenizer file .not UTF-8 text: byte 0xff"),
])
def test_broken_tokenizer_json_is_a_value_error_naming_the_file(tmp_path, content, expected):
    path = write(tmp_path, "tok.json", content)
    with raises_naming(path, expected):
        BPETokenizer.load(path)


def test_tokenizer_with_unused_ids_saves_and_loads(tmp_path):
    # tiktoken vocabularies leave unused ids before some specials (cl100k: 100256); save wrote
    # every id's bytes and failed on the first unused one.
    tok = BPETokenizer.from_tiktoken(write(tmp_path, "t.tiktoken", BASE), special_tokens={"<|x|>": N + 2})
    tok.save(tmp_path / "tok.json")
    back = BPETokenizer.load(tmp_path / "tok.json")
    text = "abc the <|x|>"
    assert back.n_vocab == tok.n_vocab and back.special_tokens == tok.special_tokens
    assert back.encode(text, allowed_special="all").tolist() == tok.encode(text, allowed_special="all").tolist()
    with pytest.raises(ValueError, match=f"token id {N} at position 0 is not in the vocabulary"):
        back.decode([N])


# ---------------------------------------------------------------------- WordPiece vocab.txt


def test_vocab_txt_not_utf8_is_a_value_error_naming_the_file(tmp_path):
    path = write(tmp_path, "vocab.txt", wordpiece_text().encode() + b"caf\xe9\n")
    with raises_naming(path, r"is not a BERT vocab.txt \(not UTF-8 text: byte 0xe9 at offset"):
        WordPieceTokenizer.from_vocab(path)


def test_vocab_txt_without_unk_names_the_file(tmp_path):
    path = write(tmp_path, "vocab.txt", wordpiece_text().replace("[UNK]\n", "[unk]\n"))
    with raises_naming(path, r"unk_token '\[UNK\]' is not in the vocabulary"):
        WordPieceTokenizer.from_vocab(path)


# ---------------------------------------------------------------------- paths


LOADERS = {
    "tokenizer json": lambda p, tmp: BPETokenizer.load(p),
    "tiktoken": lambda p, tmp: BPETokenizer.from_tiktoken(p),
    "encoder.json": lambda p, tmp: BPETokenizer.from_gpt2_files(p, write(tmp, "vocab.bpe", MERGES)),
    "vocab.bpe": lambda p, tmp: BPETokenizer.from_gpt2_files(write(tmp, "encoder.json", ENC), p),
    "vocab.txt": lambda p, tmp: WordPieceTokenizer.from_vocab(p),
    "BPE training file": lambda p, tmp: BPETokenizer.train(files=[p], vocab_size=300),
    "WordPiece training file": lambda p, tmp: WordPieceTokenizer.train(files=[p], vocab_size=300),
    "count_words file": lambda p, tmp: count_words(files=[p]),
}


@pytest.mark.parametrize("loader", LOADERS)
def test_a_directory_is_refused_as_a_directory(tmp_path, loader):
    d = tmp_path / "dir"
    d.mkdir()
    with pytest.raises(IsADirectoryError, match=re.escape("is a directory; expected ") + ".*" + re.escape(str(d))):
        LOADERS[loader](d, tmp_path)


@pytest.mark.parametrize("loader", LOADERS)
def test_a_missing_file_is_refused_as_missing(tmp_path, loader):
    p = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match=re.escape("does not exist; expected ") + ".*" + re.escape(str(p))):
        LOADERS[loader](p, tmp_path)


def test_tokenizer_json_with_a_deeply_nested_pattern_names_the_file(tmp_path):
    # The pattern is compiled by the `regex` module, whose parser recursed out of the stack.
    tok = BPETokenizer(BYTES, np.zeros((0, 4), np.uint32), pattern=r"\w+|\W")
    path = tmp_path / "tok.json"
    tok.save(path)
    data = json.loads(path.read_text())
    data["pattern"] = "(" * 100_000 + ")" * 100_000
    path.write_text(json.dumps(data))
    with raises_naming(path, r"pattern '\(\(\(.*\.\.\.' is not a valid regular expression: nested too deeply"):
        BPETokenizer.load(path)
