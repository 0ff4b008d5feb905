"""Tokenization for fine-tuning: classification rows equal the tokenizer's own ``__call__`` (template,
longest-first truncation), BIO labels on the first piece of each word (tricky words included),
label sets, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed.finetune.encoding import LabelSet, encode_sequences, encode_tagged, word_predictions
from fastembed.finetune.readers import TaggedSentence, TextExample, text_examples

# Letters, digits, punctuation, white space of several kinds, control and zero-width characters,
# accents (precomposed and combining), CJK, Greek, an emoji.
ALPHABET = list("abcXYZ019.,'-!?()$") + ["\x00", "\x85", "\x7f", "\u200b", "\u00a0", "é", "Ü", "ñ", "e\u0301",
                                           "中", "文", "Σ", "ο", "İ", "😀"]
WORDS = st.lists(st.sampled_from(ALPHABET + ["paris", "Schwarzenegger", "unbelievably", "naïve"]), min_size=1,
                 max_size=4).map("".join)


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
    (a, b), report = encode_sequences(ex, tiny_tok, labels, max_length=8, pair=True)
    assert tiny_tok.convert_ids_to_tokens(a["input_ids"]) == ["[CLS]", "the", "movie", "was", "[SEP]", "very", "bad",
                                                              "[SEP]"]
    assert a["token_type_ids"].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert tiny_tok.convert_ids_to_tokens(b["input_ids"]) == ["[CLS]", "good", "[SEP]", "the", "plot", "was",
                                                              "very", "[SEP]"]
    assert (a["labels"], b["labels"]) == (1, 0)
    assert report["truncated"] == 2 and "truncated" in report["messages"][0]


@pytest.mark.parametrize("pair", [False, True])
def test_rows_are_the_tokenizers_own(bert_tok, pair):
    """Features are what ``tokenizer(texts, pairs, truncation=True, max_length=...)`` gives, long or short."""
    words = "the movie was good but the plot , sadly , was not . unbelievably naïve Schwarzenegger".split()
    rng = np.random.default_rng(0)
    a = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(1, 30, size=40)]
    b = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(1, 30, size=40)] if pair else None
    ex = [TextExample(x, b[i] if pair else None, i % 2) for i, x in enumerate(a)]
    features, report = encode_sequences(ex, bert_tok, LabelSet(2), max_length=24, pair=pair)
    want = bert_tok(a, b, truncation=True, max_length=24)
    for f, ids, types in zip(features, want["input_ids"], want["token_type_ids"]):
        assert f["input_ids"].tolist() == ids.tolist() and f["token_type_ids"].tolist() == types.tolist()
        assert f["input_ids"].dtype == np.int64
    full = bert_tok(a, b)["input_ids"]
    assert report["truncated"] == sum(len(x) > 24 for x in full) > 0


@settings(max_examples=60, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=12))
def test_word_pieces_are_the_words_own(bert_tok, words):
    """Joining the words with spaces gives each word the pieces it has on its own (as
    ``encode_words`` does), and its first piece carries its label."""
    (f,), report = encode_tagged([TaggedSentence(words, ["O"] * len(words))], bert_tok, LabelSet(["O"]),
                                 max_length=512)
    pieces, owner = bert_tok.encode_words(words)
    owner = owner.astype(np.int64)
    assert f["input_ids"].tolist() == [bert_tok.cls_token_id, *pieces.tolist(), bert_tok.sep_token_id]
    first = np.r_[True, owner[1:] != owner[:-1]] if len(owner) else np.zeros(0, bool)
    assert f["word_index"][1:-1].tolist() == np.where(first, owner, -1).tolist()
    assert report["empty_words"] == len(words) - len(set(owner.tolist()))


def test_text_input_errors(tiny_tok):
    labels = LabelSet(2)
    with pytest.raises(ValueError, match=r"example 1 \(dev.tsv:3\): the text is empty"):
        encode_sequences([TextExample("good", None, 1), TextExample("  ", None, 0, "dev.tsv:3")], tiny_tok, labels,
                     max_length=16, pair=False)
    with pytest.raises(ValueError, match="second text is empty"):
        encode_sequences([TextExample("good", None, 1)], tiny_tok, labels, max_length=16, pair=True)
    with pytest.raises(ValueError, match="use the 'pair' task"):
        encode_sequences([TextExample("good", "bad", 1)], tiny_tok, labels, max_length=16, pair=False)
    with pytest.raises(ValueError, match="no tokens once normalized"):
        encode_sequences([TextExample("\u200b\x00", None, 1)], tiny_tok, labels, max_length=16, pair=False)
    with pytest.raises(ValueError, match="label 2 is out of range: the labels are 0 .. 1"):
        encode_sequences([TextExample("good", None, 2)], tiny_tok, labels, max_length=16, pair=False)
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
