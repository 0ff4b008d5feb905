"""Long pieces (the native encoder's heap and bucket paths) against the slow reference, with ranks
that are sparse, huge, tied or not monotone; and the bucket path's memory, which once grew with
the largest rank (one bucket per possible rank) rather than with the rules or the piece."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

from fastembed.tokenizers import BPETokenizer
from fastembed.tokenizers import _reference as ref

from ._capped import run_capped
from .conftest import byte_tokens, ref_rules

BYTES = [bytes([b]) for b in range(256)]
# Piece lengths around the native thresholds: 128 bytes (small / heap) and 1024 (heap / buckets).
LENGTHS = (127, 128, 129, 1023, 1024, 1500)


def spread(tok: BPETokenizer, scale: int, offset: int) -> BPETokenizer:
    """The same tokenizer with every rank r renumbered scale * r + offset (same order)."""
    rules = tok.rules.astype(np.int64)
    rules[:, 2] = rules[:, 2] * scale + offset
    assert rules[:, 2].max() < 2**32 - 1
    return BPETokenizer([tok.decode_single_token_bytes(i) for i in range(tok.n_vocab)],
                        rules.astype(np.uint32), special_tokens=tok.special_tokens)


def non_monotone(tmp_path) -> BPETokenizer:
    # "abc" ranks below "ab" and "bc", so (ab, c) appears after merges of higher rank; every split
    # of a token is a rule at the token's rank, so several pairs share a rank.
    import base64

    tokens = BYTES + [b"abc", b"ab", b"bc", b"ca", b"abca", b"cab", b"bcab", b"aa", b"aaa", b"aaaa"]
    path = tmp_path / "toy.tiktoken"
    path.write_text("".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(tokens)))
    return BPETokenizer.from_tiktoken(path)


def pieces(alphabet: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [bytes(rng.choice(alphabet) for _ in range(n)) for n in LENGTHS]


def assert_equals_reference(tok: BPETokenizer, piece_list: list[bytes]) -> None:
    rules, bt = ref_rules(tok), byte_tokens(tok)
    for piece in piece_list:
        got = tok._enc.encode_piece(piece).tolist()
        assert got == ref.encode_piece(piece, bt, rules), f"piece of {len(piece)} bytes: {piece[:40]!r}..."


def test_huge_sparse_ranks_encode_like_the_reference(trained):
    # Ranks up to ~4e9: the bucket path once needed a bucket for every rank up to the largest.
    sparse = spread(trained, 7_000_000, 12_345)
    text_bytes = bytes(b for b in b"the quick brown fox jumps over the lazy dog" if b != 32)
    assert_equals_reference(sparse, pieces(text_bytes, 1) + pieces(b"e", 2))
    for piece in pieces(b"thequickbrownfox", 3):
        assert sparse._enc.encode_piece(piece).tolist() == trained._enc.encode_piece(piece).tolist()


@pytest.mark.parametrize("alphabet", [b"abc", b"ab", b"a", b"abcd"])
def test_non_monotone_tied_ranks_encode_like_the_reference(tmp_path, alphabet):
    tok = non_monotone(tmp_path)
    assert_equals_reference(tok, pieces(alphabet, 4))
    assert_equals_reference(spread(tok, 1 << 22, 5), pieces(alphabet, 5))


def test_pieces_without_rules_and_with_every_byte(trained):
    rng = random.Random(6)
    edge = [bytes(rng.randrange(256) for _ in range(n)) for n in LENGTHS] + [b"\x00" * 1024, b"\xff" * 1500]
    assert_equals_reference(trained, edge)
    assert_equals_reference(spread(trained, 7_000_000, 0), edge)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="caps the address space with RLIMIT_AS")
def test_bucket_path_memory_does_not_grow_with_the_largest_rank():
    # Two rules ranked near 2**27. An 8.4 MB piece takes the bucket path, which once made 2**27
    # buckets (3 GiB); under a 1 GiB cap on the child it now needs ~100 MB (12 bytes a byte).
    code = """
import numpy as np
from fastembed.tokenizers import BPETokenizer
vocab = [bytes([b]) for b in range(256)] + [b"ab", b"abab"]
high = BPETokenizer(vocab, np.array([[97, 98, 2**27 - 1, 256], [256, 256, 2**27, 257]], np.uint32))
low = BPETokenizer(vocab, np.array([[97, 98, 0, 256], [256, 256, 1, 257]], np.uint32))
text = "ab" * (2**27 // 32 + 1)
ids = high.encode_ordinary(text)
assert np.array_equal(ids, low.encode_ordinary(text)) and len(ids) == len(text) // 4 + 1
print("ok", len(ids))
"""
    out = run_capped(code, extra=1 << 30)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-2000:]
