"""Encoding and decoding: native against the reference, round trips, special tokens, files."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed import _native
from fastembed.tokenizers import BPETokenizer
from fastembed.tokenizers import _reference as ref

from .conftest import byte_tokens, ref_rules


def test_native_encoding_equals_reference(trained, small_corpus):
    rules, bt = ref_rules(trained), byte_tokens(trained)
    for line in small_corpus[:1500]:
        assert trained.encode(line).tolist() == ref.encode(line, bt, rules)


@pytest.mark.parametrize("text", ["a" * 2000, "ab" * 1000, "".join(random.Random(0).choice("abcdefgh") for _ in range(2000)),
                                  "the" * 500, "é" * 700])
def test_long_pieces_take_the_heap_path_and_agree(trained, text):
    assert trained.encode(text).tolist() == ref.encode(text, byte_tokens(trained), ref_rules(trained))


def test_output_is_uint32_numpy(trained):
    ids = trained.encode("hello world")
    assert isinstance(ids, np.ndarray) and ids.dtype == np.uint32 and ids.ndim == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_round_trip_of_arbitrary_text(trained, text):
    ids = trained.encode(text, disallowed_special=())
    assert trained.decode_bytes(ids) == text.encode("utf-8", "surrogatepass")
    assert trained.decode(ids, errors="surrogatepass") == text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_round_trip_of_arbitrary_bytes(trained, data):
    assert trained.decode_bytes(trained.encode(data, disallowed_special=())) == data


def test_lone_surrogates_round_trip(trained):
    text = "a\ud800b"
    assert trained.decode(trained.encode(text), errors="surrogatepass") == text
    assert trained.decode(trained.encode(text)) == "a\ufffd\ufffd\ufffdb"


def test_encode_batch_equals_encode(trained, small_corpus, restore_threads):
    texts = small_corpus[:400]
    _native.set_num_threads(max(2, restore_threads))
    batch = trained.encode_batch(texts)
    assert all(np.array_equal(a, trained.encode(t)) for a, t in zip(batch, texts))


def test_special_tokens(trained):
    eot = trained.special_tokens["<|endoftext|>"]
    ids = trained.encode("hi<|endoftext|>there", allowed_special="all")
    assert eot in ids.tolist()
    assert trained.decode(ids) == "hi<|endoftext|>there"
    with pytest.raises(ValueError, match="disallowed"):
        trained.encode("hi<|endoftext|>")
    plain = trained.encode("hi<|endoftext|>", disallowed_special=())
    assert eot not in plain.tolist() and trained.decode(plain) == "hi<|endoftext|>"
    assert trained.encode(b"x<|endoftext|>", allowed_special={"<|endoftext|>"}).tolist()[-1] == eot
    with pytest.raises(ValueError, match="does not have"):
        trained.encode("x", allowed_special={"<|nope|>"})
    batch = trained.encode_batch(["a<|endoftext|>", "b"], allowed_special="all")
    assert batch[0].tolist()[-1] == eot
    for text in ("a<|endoftext|>", b"a<|endoftext|>"):  # str and bytes alike
        with pytest.raises(ValueError, match="disallowed"):
            trained.encode_batch(["b", text])


def test_decode_rejects_unknown_ids(trained):
    with pytest.raises(ValueError, match=f"token id {trained.n_vocab} at position 1 is not in the vocabulary"):
        trained.decode([1, trained.n_vocab])
    with pytest.raises(ValueError, match="token id -1"):
        trained.decode([-1])
    with pytest.raises(TypeError, match="integers"):
        trained.decode([1.5])
    with pytest.raises(ValueError, match="not in the vocabulary"):
        trained.decode_single_token_bytes(10**6)


def test_encode_rejects_non_text(trained):
    with pytest.raises(TypeError, match="str or bytes"):
        trained.encode(123)
    with pytest.raises(TypeError, match=r"texts\[1\]' must be str or bytes"):
        trained.encode_batch(["a", 5])


def test_explain_shows_the_merges_in_order(trained):
    steps = trained.explain("the")
    assert steps[0]["parts"] == [b"t", b"h", b"e"]
    assert [s["parts"] for s in steps][-1] == [trained.decode_single_token_bytes(t) for t in trained.encode("the")]
    ranks = [s["rank"] for s in steps[1:]]
    assert ranks == sorted(ranks)


def test_save_load_round_trip(trained, tmp_path, small_corpus):
    path = tmp_path / "tok.json"
    trained.save(path)
    back = BPETokenizer.load(path)
    assert back.special_tokens == trained.special_tokens and back.n_vocab == trained.n_vocab
    for line in small_corpus[:200]:
        assert np.array_equal(back.encode(line), trained.encode(line))
    assert [p.name for p in tmp_path.iterdir()] == ["tok.json"]  # no temp file left


@pytest.mark.parametrize("mangle,message", [
    (lambda s: s[: len(s) // 2], "invalid or truncated JSON"),
    (lambda s: "[]", "no \"format\""),
    (lambda s: s.replace('"version":1', '"version":99'), "format version 99"),
    (lambda s: s.replace('"rules":[', '"rules":[[1,2,3,999999],'), "outside the vocabulary"),
    (lambda s: s.replace('"tokens":["', '"tokens":["!!'), "not base64"),
    (lambda s: s.replace('"pattern":"gpt2"', '"pattern":7'), "'pattern' is missing or not a str"),
    (lambda s: s.replace('"rules":[[', '"rules":[[1.5,'), "rule 0 is not 4 integers"),
    (lambda s: s.replace('"rules":[[', '"rules":[[true,'), "rule 0 is not 4 integers"),
])
def test_corrupt_files_raise_value_error_naming_the_problem(trained, tmp_path, mangle, message):
    path = tmp_path / "tok.json"
    trained.save(path)
    path.write_text(mangle(path.read_text()))
    with pytest.raises(ValueError, match=message):
        BPETokenizer.load(path)


def test_inconsistent_tables_are_rejected():
    vocab = [bytes([b]) for b in range(256)] + [b"ab"]
    with pytest.raises(ValueError, match="not the concatenation"):
        BPETokenizer(vocab, np.array([[97, 99, 0, 256]], dtype=np.uint32))
    with pytest.raises(ValueError, match="duplicate merge rule"):
        BPETokenizer(vocab, np.array([[97, 98, 0, 256], [97, 98, 1, 256]], dtype=np.uint32))
    with pytest.raises(ValueError, match="no token for byte"):
        BPETokenizer(vocab[1:], np.zeros((0, 4), dtype=np.uint32))


def test_tokenizer_file_is_json_with_a_version(trained, tmp_path):
    trained.save(tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["format"] == "fastembed-bpe" and data["version"] == 1


def test_hf_tokenizer_json_encodes_identically(trained, small_corpus, tmp_path):
    import tokenizers
    path = tmp_path / "tokenizer.json"
    trained.to_hf_json(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    for line in small_corpus:
        assert hf.encode(line, add_special_tokens=False).ids == trained.encode(line).tolist()
    s = "a<|endoftext|>b"
    assert hf.encode(s).ids == trained.encode(s, allowed_special="all").tolist()
    ids = trained.encode("naïve café 東京")
    assert hf.decode(ids.tolist()) == "naïve café 東京"


def test_tiktoken_export_round_trip(trained, small_corpus, tmp_path):
    import tiktoken
    import tiktoken.load

    path = tmp_path / "trained.tiktoken"
    trained.to_tiktoken(path)
    enc = tiktoken.Encoding("trained", pat_str=ref.GPT2_PATTERN, mergeable_ranks=tiktoken.load.load_tiktoken_bpe(str(path)),
                            special_tokens=trained.special_tokens)
    for line in small_corpus:
        assert enc.encode_ordinary(line) == trained.encode(line).tolist()
    back = BPETokenizer.from_tiktoken(path, special_tokens=trained.special_tokens)
    assert all(np.array_equal(back.encode(line), trained.encode(line)) for line in small_corpus[:300])


def test_long_pieces_with_non_monotone_ranks_equal_reference(tmp_path):
    # A tiktoken file whose ranks are not monotone: "abc" ranks below "ab" and "bc", so the pair
    # (ab, c) appears after merges of higher rank and must be merged before them (the bucket
    # path's heap); 3000-byte pieces are long enough for the bucket path.
    import base64

    tokens = [bytes([b]) for b in range(256)] + [b"abc", b"ab", b"bc", b"ca", b"abca", b"cab", b"bcab", b"aa"]
    path = tmp_path / "toy.tiktoken"
    path.write_text("".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(tokens)))
    tok = BPETokenizer.from_tiktoken(path)
    rules, bt = ref_rules(tok), byte_tokens(tok)
    rng = random.Random(1)
    for alphabet in ("abc", "ab", "abcd", "a"):
        text = "".join(rng.choice(alphabet) for _ in range(3000))
        assert tok.encode_ordinary(text).tolist() == ref.encode(text, bt, rules)
