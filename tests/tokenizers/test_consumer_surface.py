"""What the package's consumers ask of a tokenizer beyond ``__call__``: ``encode_flat`` (a corpus as
one token stream), ``explain`` (merges, BPE only) and ``check_tokenizer`` (a clear TypeError
instead of a probe), and WordPiece's ``word_spans`` (which the pre-tokenizer's words are)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer
from fastembed.tokenizers.base import BATCH_CHUNK, Tokenizer, check_tokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", ".", "[", "]"]
TEXTS = ["the cat sat on the mat.", "", "cats [SEP] sat", "<|endoftext|>the mat", "ünïcödé 東京 😀"]


@pytest.fixture(scope="module", params=["bpe", "wordpiece"])
def tok(request) -> Tokenizer:
    if request.param == "wordpiece":
        return WordPieceTokenizer(VOCAB)
    return BPETokenizer.train(TEXTS * 20, vocab_size=256 + 30 + 2, special_tokens=["<|endoftext|>", "[SEP]"],
                              progress=False)


@pytest.mark.parametrize("split", [False, True])
def test_encode_flat_is_every_texts_plain_ids_concatenated(tok, split):
    texts = TEXTS * 3
    flat = tok.encode_flat(texts, split_special_tokens=split)
    want = tok(texts, add_special_tokens=False, split_special_tokens=split)["input_ids"]
    assert flat.ids.dtype == np.uint32 and flat.starts.dtype == np.int64 and flat.starts.tolist()[0] == 0
    assert [flat.ids[a:b].tolist() for a, b in zip(flat.starts[:-1], flat.starts[1:])] == [w.tolist() for w in want]
    assert flat.offsets is None and flat.words is None


def test_encode_flat_special_token_text(tok):
    sep = tok.token_to_id("[SEP]")
    assert sep in tok.encode_flat(["cats [SEP] sat"]).ids.tolist()                          # matched, as HF does
    assert sep not in tok.encode_flat(["cats [SEP] sat"], split_special_tokens=True).ids.tolist()   # text


def test_encode_flat_many_chunks_and_none(tok):
    texts = [f"the cat {i % 7}" for i in range(BATCH_CHUNK + 5)]
    flat = tok.encode_flat(texts)
    assert len(flat.starts) == len(texts) + 1 and flat.ids.tolist() == np.concatenate(
        [tok.encode_flat([t]).ids for t in texts]).tolist()
    empty = tok.encode_flat([])
    assert empty.ids.tolist() == [] and empty.starts.tolist() == [0]
    with pytest.raises(TypeError, match="list of str"):
        tok.encode_flat("the cat")
    with pytest.raises(TypeError, match=r"texts\[1\] must be str"):
        tok.encode_flat(["the", 3])


def test_explain_is_bpes_only(tok):
    if isinstance(tok, BPETokenizer):
        assert tok.explain("the")[0]["parts"] == [b"t", b"h", b"e"]
    else:
        with pytest.raises(TypeError, match="WordPieceTokenizer has no merges"):
            tok.explain("the")


def test_check_tokenizer(tok):
    assert check_tokenizer(tok, "f") is tok
    with pytest.raises(TypeError, match=r"f: tokenizer must be a fastembed tokenizer \(BPETokenizer or "
                                        r"WordPieceTokenizer\), got dict"):
        check_tokenizer({}, "f")


# Letters, digits, punctuation, white space of several kinds, control and zero-width characters,
# accents (precomposed and combining), CJK, Greek, a character that becomes punctuation under NFD
# (U+1FEF -> "`"), dotted capital I, an emoji.
ALPHABET = list("abcXYZ019.,'-!?()$ \t\n") + ["\x00", "\x85", "\x7f", "\u200b", "\u00a0", "\u3000", "\u2028",
                                              "é", "Ü", "ñ", "e\u0301", "\u0301", "中", "文", "Σ", "ο", "\u1fef",
                                              "İ", "😀"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join))
def test_word_spans_match_pre_tokenize(text):
    tok = WordPieceTokenizer(VOCAB)
    spans = tok.word_spans(text)
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    rebuilt = [w for s, e in spans for w in tok.pre_tokenize(text[s:e])]
    # lower-casing maps a word-final capital sigma to 'ς' by context ("A.Σ"), to 'σ' alone
    assert [w.replace("ς", "σ") for w in rebuilt] == [w.replace("ς", "σ") for w in tok.pre_tokenize(text)]
