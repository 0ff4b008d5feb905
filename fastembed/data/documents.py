"""Documents of sentences: BERT's one-sentence-per-line files, and a rule-based splitter for raw text.

BERT's ``create_pretraining_data.py`` reads plain text with one sentence per line and a blank
line between documents; NSP pairs are then built from consecutive sentences of one document.
:func:`read_documents` reads that format. For raw prose, :func:`documents_from_text` turns
paragraphs (blank-line separated) into documents and splits each into sentences with
:func:`split_sentences`: a few rules, not a trained model (no Punkt, no spaCy), good enough for
pretraining data where an occasional wrong split costs little.

>>> split_sentences("Mr. Smith went to the U.S. last year. He liked it! Did you? \\"Yes.\\"")
['Mr. Smith went to the U.S. last year.', 'He liked it!', 'Did you?', '"Yes."']
>>> read_documents(["One.", "Two.", "", "Three."])
[['One.', 'Two.'], ['Three.']]
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

# Words that end with a period without ending the sentence (compared lower-cased, period removed).
ABBREVIATIONS = frozenset("""
    mr mrs ms dr prof sr jr st mt rev gen col capt lt sgt gov sen rep pres hon
    e.g i.e cf vs viz al approx ca est dept univ assn bros inc ltd co corp
    no nos vol fig figs eq ch sec p pp ed eds jan feb mar apr jun jul aug sep sept oct nov dec
""".split())

# A sentence end candidate: . ! or ? (possibly repeated, possibly followed by closing quotes or
# brackets), then white space, then something that can start a sentence.
_END = re.compile(r"""([.!?]+["'\u201d\u2019)\]]*)\s+(?=["'\u201c\u2018(\[]*[A-Z0-9])""")
_WORD_BEFORE = re.compile(r"(\S+)$")
# Initials (the final period removed): "J", "U.S", "e.g"; a lone "I" ends sentences ("So did I.").
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$|^[A-HJ-Z]$")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")


def read_documents(path_or_lines: str | os.PathLike | Iterable[str]) -> list[list[str]]:
    """Documents of BERT's input format: one sentence per line, a blank line between documents.

    ``path_or_lines`` is a file (str or path, read as UTF-8) or an iterable of lines. Lines are
    stripped; empty documents (several blank lines in a row) are dropped.
    """
    if isinstance(path_or_lines, (str, os.PathLike)):
        with open(path_or_lines, encoding="utf-8") as f:
            return read_documents(f)
    documents: list[list[str]] = []
    current: list[str] = []
    for line in path_or_lines:
        if not isinstance(line, str):
            raise TypeError(f"lines must be str, got {type(line).__name__}")
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            documents.append(current)
            current = []
    if current:
        documents.append(current)
    return documents


def paragraphs(text: str) -> list[str]:
    """The blank-line separated parts of ``text``, stripped, empty ones dropped."""
    return [p.strip() for p in _PARAGRAPH.split(text) if p.strip()]


def split_sentences(text: str) -> list[str]:
    """Split raw text into sentences by rule.

    A sentence ends after ``.``, ``!`` or ``?`` (and any closing quotes or brackets) when white
    space and then an upper-case letter, a digit or an opening quote follow, except after a
    known abbreviation ("Mr.", "e.g.", see ``ABBREVIATIONS``) or initials ("J.", "U.S."). A blank
    line always ends a sentence (it ends the paragraph); single newlines inside a paragraph are
    white space.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")
    sentences: list[str] = []
    for para in paragraphs(text):
        para = " ".join(para.split())
        start = 0
        for m in _END.finditer(para):
            if m.group(1)[0] == "." and _is_abbreviation(para[start:m.start()]):
                continue
            sentences.append(para[start:m.end(1)])
            start = m.end()
        if start < len(para):
            sentences.append(para[start:])
    return sentences


def documents_from_text(text: str) -> list[list[str]]:
    """Paragraphs (blank-line separated) as documents, each a list of sentences."""
    return [split_sentences(p) for p in paragraphs(text)]


def _is_abbreviation(before: str) -> bool:
    """Whether the text before a period ends with an abbreviation or initials."""
    m = _WORD_BEFORE.search(before)
    if m is None:
        return False
    word = m.group(1).lstrip("\"'(\u201c\u2018[")
    return word.lower() in ABBREVIATIONS or bool(_INITIALS.match(word))


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file; UnicodeDecodeError names the file (re-encode it, e.g. ``iconv``)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not UTF-8 text ({e}); convert it first, e.g. iconv -f cp1252 -t utf-8") from None
