"""Tokenization for fine-tuning: character offsets that agree with the tokenizer, BIO labels on
the first piece of each word (tricky words included), pair truncation, label sets, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed.finetune.encoding import LabelSet, encode_tagged, encode_texts, truncate_pair, word_predictions
from fastembed.finetune.offsets import token_offsets, word_spans
from fastembed.finetune.readers import TaggedSentence, TextExample, text_examples

# Letters, digits, punctuation, white space of several kinds, control and zero-width characters,
# accents (precomposed and combining), CJK, Greek, a character that becomes punctuation under NFD
# (U+1FEF -> "`"), dotted capital I, an emoji.
ALPHABET = list("abcXYZ019.,'-!?()$ \t\n") + ["\x00", "\x85", "\x7f", "\u200b", "\u00a0", "\u3000", "\u2028",
                                              "é", "Ü", "ñ", "e\u0301", "\u0301", "中", "文", "Σ", "ο", "\u1fef",
                                              "İ", "😀"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join))
def test_word_spans_match_pre_tokenize(tiny_tok, text):
    spans = word_spans(tiny_tok, text)
    assert all(0 <= s < e <= len(text) for s, e in spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    rebuilt = [w for s, e in spans for w in tiny_tok.pre_tokenize(text[s:e])]
    # lower-casing maps a word-final capital sigma to 'ς' by context ("A.Σ"), to 'σ' alone
    assert [w.replace("ς", "σ") for w in rebuilt] == [w.replace("ς", "σ") for w in tiny_tok.pre_tokenize(text)]


def test_token_offsets_lower_case_in_context(bert_tok):
    for text in ("a.Σ", "ΟΔΟΣ.", "Σ", "ΑΣ ΣΑ.Σ"):
        ids, offsets = token_offsets(bert_tok, text)
        assert ids.tolist() == bert_tok.encode(text, add_special_tokens=False).tolist()
        assert len(offsets) == len(ids)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET + ["paris", "Schwarzenegger", "unbelievably", "naïve"]), max_size=20)
       .map(" ".join))
def test_token_offsets_agree_with_encode(bert_tok, text):
    ids, offsets = token_offsets(bert_tok, text)
    assert ids.tolist() == bert_tok.encode(text, add_special_tokens=False).tolist()
    assert offsets.shape == (len(ids), 2)
    assert bool((offsets[:, 0] < offsets[:, 1]).all()) and bool((np.diff(offsets[:, 0]) >= 0).all())
    assert offsets.size == 0 or (offsets.min() >= 0 and offsets.max() <= len(text))


def test_ascii_pieces_cover_their_own_characters(bert_tok):
    text = "Schwarzenegger's unbelievably (re)election, in 1996-08-30!"
    ids, offsets = token_offsets(bert_tok, text)
    for piece, (s, e) in zip(bert_tok.convert_ids_to_tokens(ids), offsets):
        assert text[s:e].lower() == piece.removeprefix("##")
    ids, offsets = token_offsets(bert_tok, "naïve café")     # accents stripped: pieces cover whole words
    assert [tuple(o) for o in offsets] == [(0, 5)] * (len(ids) - 1) + [(6, 10)]


def test_bio_labels_on_first_piece_of_tricky_words(bert_tok):
    words = ["U.S.-based", "O'Neill", "Müller", "\u200b", "Schwarzenegger", "said", "."]
    tags = ["B-MISC", "B-PER", "I-PER", "O", "B-PER", "O", "O"]
    labels = LabelSet(["O", "B-MISC", "B-PER", "I-PER"])
    (f,), report = encode_tagged([TaggedSentence(words, tags)], bert_tok, labels, max_length=64)
    pieces = bert_tok.convert_ids_to_tokens(f["input_ids"])
    assert pieces == ["[CLS]", "u", ".", "s", ".", "-", "based", "o", "'", "neill", "muller", "schwarz", "##ene",
                      "##gger", "said", ".", "[SEP]"]
    first = {1: 0, 7: 1, 10: 2, 11: 4, 14: 5, 15: 6}      # position of each word's first piece -> word
    want = np.full(len(pieces), -100)
    for pos, w in first.items():
        want[pos] = labels.id(tags[w])
    assert f["labels"].tolist() == want.tolist()
    assert {int(p): int(w) for p, w in enumerate(f["word_index"]) if w >= 0} == first
    assert report["empty_words"] == 1 and "normalize to no word piece" in report["messages"][0]
    # the gold labels fed back as predictions give the gold tags; the empty word falls back to "O"
    pred_ids = np.where(f["labels"] >= 0, f["labels"], 0)
    assert word_predictions(f["word_index"], pred_ids, len(words), labels.names) == tags


def test_ner_truncation_is_counted(bert_tok):
    s = TaggedSentence(["U.S.-based", "O'Neill", "said"], ["B-MISC", "B-PER", "O"])
    (f,), report = encode_tagged([s], bert_tok, LabelSet(["O", "B-MISC", "B-PER"]), max_length=9)
    assert len(f["input_ids"]) == 9                        # 7 pieces: u . s . - based o
    assert report["truncated"] == 1 and report["dropped_words"] == 1   # "O'Neill" keeps its first piece
    assert word_predictions(f["word_index"], np.zeros(9, int), 3, ["O", "B-MISC", "B-PER"]) == ["O", "O", "O"]


def test_ner_input_errors(tiny_tok):
    labels = LabelSet(["O", "B-PER"])
    with pytest.raises(ValueError, match="2 words but 1 tags"):
        encode_tagged([TaggedSentence(["john", "smith"], ["B-PER"])], tiny_tok, labels, max_length=16)
    with pytest.raises(ValueError, match="unknown label 'B-LOC'"):
        encode_tagged([TaggedSentence(["paris"], ["B-LOC"], "valid.txt:7")], tiny_tok, labels, max_length=16)


def test_pair_encoding_and_longest_first_truncation(tiny_tok):
    ex = [TextExample("the movie was good", "very bad", "1"), TextExample("good", "the plot was very bad", "0")]
    labels = LabelSet.infer(e.label for e in ex)
    (a, b), report = encode_texts(ex, tiny_tok, labels, max_length=8, pair=True)
    assert tiny_tok.convert_ids_to_tokens(a["input_ids"]) == ["[CLS]", "the", "movie", "was", "[SEP]", "very", "bad",
                                                              "[SEP]"]
    assert a["token_type_ids"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert tiny_tok.convert_ids_to_tokens(b["input_ids"]) == ["[CLS]", "good", "[SEP]", "the", "plot", "was",
                                                              "very", "[SEP]"]
    assert (a["labels"], b["labels"]) == (1, 0)
    assert report["truncated"] == 2 and "truncated" in report["messages"][0]
    assert truncate_pair([1, 2, 3], [4], 2) == ([1], [4])
    assert truncate_pair([1, 2, 3], None, 2) == ([1, 2], None)


def test_text_input_errors(tiny_tok):
    labels = LabelSet(2)
    with pytest.raises(ValueError, match=r"example 1 \(dev.tsv:3\): the text is empty"):
        encode_texts([TextExample("good", None, 1), TextExample("  ", None, 0, "dev.tsv:3")], tiny_tok, labels,
                     max_length=16, pair=False)
    with pytest.raises(ValueError, match="second text is empty"):
        encode_texts([TextExample("good", None, 1)], tiny_tok, labels, max_length=16, pair=True)
    with pytest.raises(ValueError, match="use the 'pair' task"):
        encode_texts([TextExample("good", "bad", 1)], tiny_tok, labels, max_length=16, pair=False)
    with pytest.raises(ValueError, match="no tokens once normalized"):
        encode_texts([TextExample("\u200b\x00", None, 1)], tiny_tok, labels, max_length=16, pair=False)
    with pytest.raises(ValueError, match="label 2 is out of range: the labels are 0 .. 1"):
        encode_texts([TextExample("good", None, 2)], tiny_tok, labels, max_length=16, pair=False)
    with pytest.raises(ValueError, match="3 texts but 2 labels"):
        text_examples(["a", "b", "c"], [0, 1])


def test_label_sets():
    assert LabelSet.infer([2, 0, 2]).names == [0, 1, 2]
    assert LabelSet.infer(["1", "0"]).names == ["0", "1"]
    with pytest.raises(ValueError, match="unknown label 'maybe'"):
        LabelSet(["entailment", "not_entailment"]).id("maybe")
    with pytest.raises(ValueError, match="have no label"):
        LabelSet.infer(["a", None])
    with pytest.raises(ValueError, match=">= 0"):
        LabelSet.infer([0, -1])
