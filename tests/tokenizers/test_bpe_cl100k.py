"""cl100k_base (GPT-3.5/4) with its real ranks: our ids equal tiktoken's and quicktok's.

The ranks come from the `quicktok-v1` package, which ships them (nothing is downloaded); they
are written out as a .tiktoken file and read back with BPETokenizer.from_tiktoken.
"""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest
import quicktok
import tiktoken
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed.tokenizers import BPETokenizer
from fastembed.tokenizers._reference import CL100K_PATTERN

SPECIALS = {"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260, "<|endofprompt|>": 100276}


def quicktok_cl100k_ranks() -> dict[bytes, int]:
    """quicktok's data/cl100k.vocab: u32 count, then per token u16 length, bytes, u32 rank."""
    data = (Path(quicktok.__file__).parent / "data" / "cl100k.vocab").read_bytes()
    (n,), off, ranks = struct.unpack_from("<I", data, 0), 4, {}
    for _ in range(n):
        (length,) = struct.unpack_from("<H", data, off)
        token = data[off + 2: off + 2 + length]
        (rank,) = struct.unpack_from("<I", data, off + 2 + length)
        ranks[token] = rank
        off += 6 + length
    assert off == len(data) and sorted(ranks.values()) == list(range(n))
    return ranks


@pytest.fixture(scope="module")
def ranks():
    return quicktok_cl100k_ranks()


@pytest.fixture(scope="module")
def ours(ranks, tmp_path_factory):
    path = tmp_path_factory.mktemp("cl100k") / "cl100k.tiktoken"
    path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in sorted(ranks.items(), key=lambda x: x[1])))
    return BPETokenizer.from_tiktoken(path, pattern="cl100k", special_tokens=SPECIALS)


@pytest.fixture(scope="module")
def reference(ranks):
    return tiktoken.Encoding("cl100k-quicktok", pat_str=CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=SPECIALS)


def test_ids_equal_tiktoken_and_quicktok_on_text(ours, reference, small_corpus):
    q = quicktok.get_encoding("cl100k_base")
    for line in small_corpus:
        want = reference.encode_ordinary(line)
        assert ours.encode(line).tolist() == want
        assert q.encode(line) == want


# Code points assigned in Python's Unicode (14.0 here): the `regex` module our tables come from and
# tiktoken's Rust regex may know newer ones (U+18D80 is a letter to one and unassigned to the other).
# No lone surrogates either (Cs; st.text's default leaves them out): tiktoken replaces them, we keep their bytes.
assigned_text = st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=60)


@settings(max_examples=300, deadline=None)
@given(assigned_text)
def test_ids_equal_tiktoken_on_arbitrary_text(ours, reference, text):
    assert ours.encode(text, disallowed_special=()).tolist() == reference.encode_ordinary(text)


def test_special_tokens_and_gaps(ours, reference):
    s = "a<|endoftext|>b<|endofprompt|>"
    assert ours.encode(s, allowed_special="all").tolist() == reference.encode(s, allowed_special="all")
    assert ours.decode(ours.encode(s, allowed_special="all")) == s
    with pytest.raises(ValueError, match="token id 100256 .* not in the vocabulary"):
        ours.decode([100256])  # an unused id between the ranks and the specials


def test_hf_tokenizer_json_export(ours, reference, small_corpus, tmp_path):
    import tokenizers

    path = tmp_path / "tokenizer.json"
    ours.to_hf_json(path)
    hf = tokenizers.Tokenizer.from_file(str(path))
    lines = small_corpus + ["1758 and 1234567 digits\n", "it'S ThEY'LL\r\n\r\n  x"]
    for line, enc in zip(lines, hf.encode_batch(lines, add_special_tokens=False)):
        assert enc.ids == reference.encode_ordinary(line), line
    assert hf.encode("a<|endofprompt|>").ids == ours.encode("a<|endofprompt|>", allowed_special="all").tolist()
