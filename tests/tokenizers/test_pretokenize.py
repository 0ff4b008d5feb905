"""The native pre-tokenizers against the `regex` module running the GPT-2 and cl100k patterns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed import _native
from fastembed.tokenizers import _reference as ref

ROOT = Path(__file__).resolve().parents[2]

# Characters that exercise every branch: letters (ASCII, Latin-1, CJK), numbers of several
# scripts, each kind of white space, apostrophes and contraction letters, punctuation, emoji,
# combining marks (not \p{L}), and characters just outside the classes (U+001C is not \s).
ALPHABET = list("aZéßжह中1٣²Ⅻ .,!?-—'\"()") + ["s", "t", "ll", "ve", "re", "d", "m", "S", "LL", "Ve", "ſ", " ", "  ",
                                                "\n", "\r\n", "\r", "\t", "\u3000", "\xa0", "\x0b", "\x1c", "\u0301",
                                                "😀", "\u200b", "\x85", "1234"]
mixed_text = st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join)


PATTERNS = pytest.mark.parametrize("pattern", ["gpt2", "cl100k"])


def native_pieces(text: str | bytes, pattern: str = "gpt2") -> list[bytes]:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    bounds = _native._C.bpe_pretokenize(data, pattern)
    return [data[bounds[i]:bounds[i + 1]] for i in range(0, len(bounds), 2)]


@PATTERNS
@settings(max_examples=3000, deadline=None)
@given(text=mixed_text)
def test_matches_regex_on_mixed_text(pattern, text):
    assert native_pieces(text, pattern) == ref.pretokenize(text, pattern)


@PATTERNS
@settings(max_examples=1000, deadline=None)
@given(text=st.text())
def test_matches_regex_on_arbitrary_unicode(pattern, text):
    assert native_pieces(text, pattern) == ref.pretokenize(text, pattern)


@PATTERNS
@settings(max_examples=1000, deadline=None)
@given(data=st.binary(max_size=64))
def test_matches_regex_on_arbitrary_bytes_including_invalid_utf8(pattern, data):
    assert native_pieces(data, pattern) == ref.pretokenize(data, pattern)


def test_cl100k_pieces():
    text = "Hello WORLD'S (test) 12345\r\n\n  x!!\n"
    assert native_pieces(text, "cl100k") == [b"Hello", b" WORLD", b"'S", b" (", b"test", b")", b" ", b"123", b"45",
                                             b"\r\n\n", b" ", b" x", b"!!\n"]


def test_unknown_pattern_is_rejected():
    with pytest.raises(ValueError, match="unknown pre-tokenizer pattern 'o200k'"):
        _native._C.bpe_pretokenize("x", "o200k")


def test_pieces_tile_the_text():
    text = "Hello, world! It's 2026 —  they'll   say\n\n  'ok'  "
    pieces = native_pieces(text)
    assert b"".join(pieces) == text.encode()
    assert pieces[:6] == [b"Hello", b",", b" world", b"!", b" It", b"'s"]


def test_str_and_utf8_bytes_give_the_same_offsets():
    text = "naïve café — 東京 2026"
    assert list(_native._C.bpe_pretokenize(text)) == list(_native._C.bpe_pretokenize(text.encode()))


def test_empty_text():
    assert native_pieces("") == []


def test_unicode_tables_are_up_to_date():
    out = subprocess.run([sys.executable, str(ROOT / "csrc" / "bpe" / "gen_unicode_tables.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
