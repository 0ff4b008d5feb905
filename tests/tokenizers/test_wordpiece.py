"""WordPiece with BERT's uncased vocabulary: the same ids as HF tokenizers' BertTokenizerFast
(its tokenizer.json from the shared data) on real GLUE and CoNLL sentences."""

from __future__ import annotations

import csv
import unicodedata

import numpy as np
import pytest
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed.tokenizers import WordPieceTokenizer

from .conftest import real_path

TOY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!", "runn", "##ing", "東", "a"]


def test_greedy_longest_match_first():
    tok = WordPieceTokenizer(TOY)
    assert tok.tokenize("Unaffable running!") == ["un", "##aff", "##able", "runn", "##ing", "!"]
    assert tok.tokenize("unknownword") == ["[UNK]"]  # one unmatched part makes the whole word unknown
    assert tok.tokenize("a" * 101) == ["[UNK]"]       # longer than max_chars_per_word
    assert tok.tokenize("x東a") == ["[UNK]", "東", "a"]  # CJK characters are words of their own


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60), st.booleans())
def test_ascii_shortcut_equals_the_general_path(text, lowercase):
    """ASCII text takes a regex shortcut; it must give the character-by-character words."""
    tok = WordPieceTokenizer(TOY, lowercase=lowercase)
    assert tok.pre_tokenize(text) == tok._pre_tokenize_any(text)


def test_ascii_shortcut_on_every_character():
    tok = WordPieceTokenizer(TOY)
    text = "".join(f"a{chr(o)}b " for o in range(128))  # each ASCII character between two letters
    assert tok.pre_tokenize(text) == tok._pre_tokenize_any(text)


def test_pairs_have_segment_ids():
    tok = WordPieceTokenizer(TOY)
    ids, types = tok.encode_with_types("un", "a")
    assert ids.tolist() == [2, 5, 3, 12, 3] and types.tolist() == [0, 0, 0, 1, 1]


def test_word_alignment_marks_the_first_piece():
    tok = WordPieceTokenizer(TOY)
    ids, words = tok.encode_words(["Unaffable", "running", "!"])
    assert ids.tolist() == [5, 6, 7, 9, 10, 8] and words.tolist() == [0, 0, 0, 1, 1, 2]


def test_bad_input():
    with pytest.raises(ValueError, match="unk_token '\\[UNK\\]' is not in the vocabulary"):
        WordPieceTokenizer(["a", "b"])
    with pytest.raises(TypeError, match="text must be str"):
        WordPieceTokenizer(TOY).encode(b"bytes")
    with pytest.raises(ValueError, match="token id 99"):
        WordPieceTokenizer(TOY).decode([99])


@pytest.fixture(scope="module")
def bert():
    d = real_path("tokenizers", "bert-base-uncased")
    hf = tokenizers.Tokenizer.from_file(str(d / "tokenizer.json"))
    hf.no_padding()
    hf.no_truncation()
    return WordPieceTokenizer.from_vocab(d / "vocab.txt"), hf


def glue_rows(task: str, split: str) -> list[list[str]]:
    with open(real_path("glue", task, f"{split}.tsv"), encoding="utf-8") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]


def conll_sentences(split: str) -> list[list[str]]:
    sentences, words = [], []
    for line in real_path("ner", "conll2003", f"{split}.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append(words)
            words = []
        else:
            words.append(line.split(" ")[0])
    return sentences + ([words] if words else [])


@pytest.mark.data
def test_single_sentences_equal_hf(bert):
    ours, hf = bert
    sentences = [r[0] for r in glue_rows("SST-2", "dev")] + [r[3] for r in glue_rows("CoLA", "dev") if len(r) > 3]
    sentences += [" ".join(ws) for ws in conll_sentences("valid")]
    assert len(sentences) > 4000
    for s in sentences:
        assert ours.encode(s).tolist() == hf.encode(s).ids, s


@pytest.mark.data
def test_sentence_pairs_equal_hf(bert):
    ours, hf = bert
    pairs = [(r[1], r[2]) for r in glue_rows("RTE", "dev")] + [(r[3], r[4]) for r in glue_rows("MRPC", "dev")]
    for a, b in pairs:
        ids, types = ours.encode_with_types(a, b)
        want = hf.encode(a, b)
        assert ids.tolist() == want.ids and types.tolist() == want.type_ids, (a, b)


# Characters assigned since Unicode 3.2 only: BERT's cleaning and accent stripping depend on
# character categories, and for characters added recently Python's unicodedata and the Rust
# tables behind HF tokenizers can be of different Unicode versions (e.g. U+1E2AE, Unicode 14).
# No surrogates either: Rust strings cannot hold them.
assigned_text = st.text(st.characters(exclude_categories=("Cs",)).filter(
    lambda c: unicodedata.ucd_3_2_0.category(c) != "Cn"), max_size=40)


@pytest.mark.data
@settings(max_examples=300, deadline=None)
@given(assigned_text)
def test_arbitrary_text_equals_hf(bert, text):
    ours, hf = bert
    assert ours.encode(text).tolist() == hf.encode(text).ids


@pytest.mark.data
def test_decode_joins_pieces(bert):
    ours, _ = bert
    assert ours.decode(ours.encode("Unflinchingly bleak, and DESPERATE.")) == "unflinchingly bleak , and desperate ."
    assert isinstance(ours.encode("x"), np.ndarray)
