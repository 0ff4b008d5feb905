"""GPT-2's real vocabulary: our ids equal tiktoken's on every line of the staged corpora."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import tiktoken
import tiktoken.load

from fastembed.tokenizers import BPETokenizer
from fastembed.tokenizers._reference import GPT2_PATTERN

from .conftest import real_path

pytestmark = pytest.mark.data

EOT = {"<|endoftext|>": 50256}


@pytest.fixture(scope="module")
def tiktoken_gpt2():
    ranks = tiktoken.load.load_tiktoken_bpe(str(real_path("tokenizers", "gpt2", "gpt2.tiktoken")))
    return tiktoken.Encoding("gpt2-staged", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens=EOT)


@pytest.fixture(scope="module")
def ours():
    d = real_path("tokenizers", "gpt2")
    return {
        "gpt2_files": BPETokenizer.from_gpt2_files(d / "encoder.json", d / "vocab.bpe"),
        "tiktoken_file": BPETokenizer.from_tiktoken(d / "gpt2.tiktoken", special_tokens=EOT),
    }


def staged_lines() -> dict[str, list[str]]:
    c = real_path("corpora")
    texts = {
        "tinyshakespeare": (c / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8"),
        "wikitext-2 valid": (c / "wikitext-2" / "valid.txt").read_text(encoding="utf-8"),
        "wikitext-2 test": (c / "wikitext-2" / "test.txt").read_text(encoding="utf-8"),
        "taylorswift": (c / "minbpe" / "taylorswift.txt").read_text(encoding="utf-8"),
        "lee_background": (c / "gensim" / "lee_background.cor").read_text(encoding="utf-8", errors="replace"),
    }
    for name in ("pg2600.txt", "pg1399.txt", "pg2554.txt"):
        texts[name] = (c / "gutenberg" / name).read_bytes().decode("cp1252", errors="replace")
    with zipfile.ZipFile(c / "nltk" / "inaugural.zip") as z:
        texts["inaugural"] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".txt"))
    return {name: t.splitlines(keepends=True) for name, t in texts.items()}


@pytest.mark.parametrize("source", ["gpt2_files", "tiktoken_file"])
def test_ids_equal_tiktoken_on_every_line(ours, tiktoken_gpt2, source):
    tok = ours[source]
    total = 0
    for name, lines in staged_lines().items():
        ids = tok.encode_batch(lines, disallowed_special=())
        for i, (line, got) in enumerate(zip(lines, ids)):
            want = tiktoken_gpt2.encode_ordinary(line)
            assert got.tolist() == want, f"{name} line {i + 1}: {line[:80]!r}"
        total += len(lines)
    assert total > 100_000


def test_whole_text_and_specials_equal_tiktoken(ours, tiktoken_gpt2):
    text = real_path("corpora", "minbpe", "taylorswift.txt").read_text(encoding="utf-8")
    tok = ours["gpt2_files"]
    assert tok.encode(text).tolist() == tiktoken_gpt2.encode(text)
    s = "Hello<|endoftext|>world <|endoftext|>"
    assert tok.encode(s, allowed_special="all").tolist() == tiktoken_gpt2.encode(s, allowed_special="all")
    assert tok.decode(tok.encode(text)) == text


def test_both_imports_are_the_same_vocabulary(ours):
    a, b = ours["gpt2_files"], ours["tiktoken_file"]
    assert a.n_vocab == b.n_vocab == 50257
    assert all(a.decode_single_token_bytes(i) == b.decode_single_token_bytes(i) for i in range(0, 50257, 97))
    assert np.array_equal(a.encode("a test of both"), b.encode("a test of both"))


def test_hf_tokenizer_json_export_encodes_like_tiktoken(ours, tiktoken_gpt2, tmp_path):
    import tokenizers

    path = tmp_path / "tokenizer.json"
    ours["tiktoken_file"].to_hf_json(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    lines = staged_lines()["wikitext-2 valid"]
    for line, enc in zip(lines, hf.encode_batch(lines, add_special_tokens=False)):
        assert enc.ids == tiktoken_gpt2.encode_ordinary(line), line


@pytest.mark.parametrize("source", ["gpt2_files", "tiktoken_file"])
@pytest.mark.parametrize("alphabet", ["a", "ab", "abcdefghijklmnopqrstuvwxyz", "etaoinsh", "0123456789"])
def test_long_pieces_equal_tiktoken(ours, tiktoken_gpt2, source, alphabet):
    # 6000-byte pieces take the bucket path (>= max rank / 16 bytes). Every split of a tiktoken
    # file's tokens is a rule there, and some of them rank below the rules that made their parts:
    # those go through the bucket path's heap.
    rng = np.random.default_rng(len(alphabet))
    for n in (3200, 6000):
        text = "".join(rng.choice(list(alphabet), size=n))
        assert ours[source].encode_ordinary(text).tolist() == tiktoken_gpt2.encode_ordinary(text)
