"""Special-token ids from either tokenizer, and errors that say how to add missing ones."""

from __future__ import annotations

import pytest

from fastembed.data import eot_id, special_ids
from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer


def test_wordpiece_ids(wordpiece):
    assert special_ids(wordpiece) == {"cls": 2, "sep": 3, "mask": 4, "pad": 0}
    assert special_ids(wordpiece, ("unk",)) == {"unk": 1}


def test_wordpiece_with_renamed_specials_uses_its_attributes():
    tok = WordPieceTokenizer(["<pad>", "<unk>", "<s>", "</s>", "<mask>", "a"], unk_token="<unk>", cls_token="<s>",
                             sep_token="</s>", pad_token="<pad>", mask_token="<mask>")
    assert special_ids(tok) == {"cls": 2, "sep": 3, "mask": 4, "pad": 0}


def test_bpe_ids(bpe):
    assert special_ids(bpe) == {name: bpe.special_tokens[text] for name, text in
                                (("cls", "[CLS]"), ("sep", "[SEP]"), ("mask", "[MASK]"), ("pad", "[PAD]"))}
    assert eot_id(bpe) == bpe.special_tokens["<|endoftext|>"]


def test_missing_bpe_specials_are_all_named_with_the_fix():
    tok = BPETokenizer.train(["a cat sat on a mat"] * 5, vocab_size=262, special_tokens=["[CLS]"], progress=False)
    with pytest.raises(ValueError) as e:
        special_ids(tok)
    msg = str(e.value)
    assert "[SEP]" in msg and "[MASK]" in msg and "[PAD]" in msg and "[CLS]," not in msg
    assert "special_tokens=" in msg
    with pytest.raises(ValueError, match=r"<\|endoftext\|>"):
        eot_id(tok)


def test_missing_eot_in_wordpiece_points_at_the_vocabulary(wordpiece):
    with pytest.raises(ValueError, match="vocab.txt"):
        eot_id(wordpiece)


def test_unknown_name(wordpiece):
    with pytest.raises(ValueError, match="unknown special token names"):
        special_ids(wordpiece, ("bos",))
