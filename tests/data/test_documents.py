"""Documents: BERT's one-sentence-per-line format and the rule-based sentence splitter."""

from __future__ import annotations

import pytest

from fastembed.data import documents_from_text, read_documents, split_sentences


def test_blank_lines_separate_documents(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("First one.\n  Second one.  \n\n\n\nOther doc.\r\n\n", encoding="utf-8")
    assert read_documents(path) == [["First one.", "Second one."], ["Other doc."]]
    assert read_documents(str(path)) == read_documents(path)
    assert read_documents(iter(["a", "b", "", "c"])) == [["a", "b"], ["c"]]
    assert read_documents([]) == []


def test_lines_must_be_text():
    with pytest.raises(TypeError, match="str"):
        read_documents([b"bytes"])


def test_sentences_end_at_punctuation_before_a_capital_digit_or_quote():
    text = 'It rained. Then it stopped! Did it? 3 people said "yes." "Really?" she asked.'
    assert split_sentences(text) == ["It rained.", "Then it stopped!", "Did it?", '3 people said "yes."',
                                     '"Really?" she asked.']


def test_abbreviations_and_initials_do_not_end_sentences():
    text = "Mr. Smith met Dr. Jones in the U.S. Army. J. R. R. Tolkien wrote, e.g. The Hobbit. So did I. Done."
    assert split_sentences(text) == ["Mr. Smith met Dr. Jones in the U.S. Army.",
                                     "J. R. R. Tolkien wrote, e.g. The Hobbit.", "So did I.", "Done."]


def test_no_split_before_lower_case_or_inside_numbers():
    assert split_sentences("Pi is 3.14 roughly. it goes on... and on.") == ["Pi is 3.14 roughly. it goes on... and on."]


def test_paragraphs_are_documents_and_newlines_inside_are_spaces():
    text = "One here. Two\nhere.\n\n \n\nThree here\nwithout a stop\n\nFour."
    assert documents_from_text(text) == [["One here.", "Two here."], ["Three here without a stop"], ["Four."]]
    assert split_sentences(text) == ["One here.", "Two here.", "Three here without a stop", "Four."]
    assert documents_from_text("\n\n  \n") == []
