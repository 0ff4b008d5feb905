"""Labelled data off disk: GLUE ``.tsv`` files, CoNLL-2003 column files and SQuAD-format JSON.

Each reader returns plain examples (:class:`TextExample`, :class:`TaggedSentence`,
:class:`QAExample`) that remember where they came from (``source`` = "file:line"), so that an
error found later (an empty text, an unknown label) can name the line to look at.

GLUE files are tab-separated with a header and no quoting (sentences contain bare ``"``; MRPC's
header starts with a UTF-8 byte-order mark). The columns are found by name:

    SST-2, CoLA-with-header     sentence              label
    RTE, MNLI-style, STS-B      sentence1  sentence2  label
    MRPC                        #1 String  #2 String  Quality
    QQP                         question1  question2  is_duplicate
    QNLI                        question   sentence   label

A test split without a label column gives examples with ``label=None``.

CoNLL-2003: one token per line, its NER tag in the last column, a blank line between
sentences, ``-DOCSTART-`` lines between documents (skipped).

SQuAD v1.1 (and XQuAD): ``{"data": [{"title", "paragraphs": [{"context", "qas": [{"id",
"question", "answers": [{"text", "answer_start"}]}]}]}]}``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

PathLike = Union[str, os.PathLike]

_TEXT_COLUMNS = (("sentence1", "sentence2"), ("#1 String", "#2 String"), ("question1", "question2"),
                 ("question", "sentence"), ("sentence",))
_LABEL_COLUMNS = ("label", "Quality", "is_duplicate", "gold_label")


@dataclass
class TextExample:
    """A text (or a pair, ``text_b``) and its label (a name such as "entailment", or an int)."""
    text_a: str
    text_b: Optional[str] = None
    label: Any = None
    source: str = ""


@dataclass
class TaggedSentence:
    """Words and one tag per word (BIO: "B-PER", "I-PER", "O", ...)."""
    words: list[str]
    tags: list[str]
    source: str = ""


@dataclass
class Answer:
    text: str
    start: int                      # character offset of the answer in the context


@dataclass
class QAExample:
    """A question about a context; ``answers`` are spans of the context (one or more gold answers)."""
    id: str
    question: str
    context: str
    answers: list[Answer] = field(default_factory=list)
    title: str = ""


def _need_file(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} file {p} does not exist")
    if p.is_dir():
        raise IsADirectoryError(f"{p} is a directory; expected a {what} file")
    return p


def read_glue(path: PathLike) -> list[TextExample]:
    """A GLUE-style ``.tsv`` (header row, tab-separated, no quoting) as TextExamples."""
    p = _need_file(path, "GLUE .tsv")
    lines = p.read_text(encoding="utf-8-sig").splitlines()
    if not lines:
        raise ValueError(f"{p} is empty; expected a header row and one example per line")
    header = [h.strip() for h in lines[0].split("\t")]
    cols = next((c for c in _TEXT_COLUMNS if all(n in header for n in c)), None)
    if cols is None:
        raise ValueError(f"{p}: no text column in the header {header}; expected one of "
                         f"{[list(c) for c in _TEXT_COLUMNS]} (a headerless file such as CoLA's train.tsv is "
                         "not supported)")
    text_idx = [header.index(n) for n in cols]
    label_name = next((n for n in _LABEL_COLUMNS if n in header), None)
    label_idx = header.index(label_name) if label_name else None
    out = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        row = line.split("\t")
        if len(row) != len(header):
            raise ValueError(f"{p}:{n}: {len(row)} tab-separated fields, but the header has {len(header)}")
        texts = [row[i].strip() for i in text_idx]
        out.append(TextExample(texts[0], texts[1] if len(texts) > 1 else None,
                               row[label_idx].strip() if label_idx is not None else None, f"{p.name}:{n}"))
    return out


def read_conll(path: PathLike) -> list[TaggedSentence]:
    """A CoNLL-2003-style column file: token first, NER tag last; blank lines end sentences."""
    p = _need_file(path, "CoNLL")
    out: list[TaggedSentence] = []
    words: list[str] = []
    tags: list[str] = []
    first = 0
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            cols = line.split()
            if not cols or cols[0] == "-DOCSTART-":
                if words:
                    out.append(TaggedSentence(words, tags, f"{p.name}:{first}"))
                    words, tags = [], []
                continue
            if len(cols) < 2:
                raise ValueError(f"{p}:{n}: {line.strip()!r} has no tag column; expected 'token ... tag'")
            if not words:
                first = n
            words.append(cols[0])
            tags.append(cols[-1])
    if words:
        out.append(TaggedSentence(words, tags, f"{p.name}:{first}"))
    if not out:
        raise ValueError(f"{p} holds no sentences")
    return out


def read_squad(path: PathLike) -> list[QAExample]:
    """A SQuAD v1.1-format JSON file (SQuAD, XQuAD) as QAExamples, in file order."""
    p = _need_file(path, "SQuAD .json")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{p} is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise ValueError(f"{p}: expected a SQuAD file {{'data': [articles]}}")
    out = []
    for a, article in enumerate(doc["data"]):
        for g, para in enumerate(article.get("paragraphs", [])):
            try:
                context = para["context"]
                for qa in para["qas"]:
                    answers = [Answer(x["text"], int(x["answer_start"])) for x in qa.get("answers", [])]
                    out.append(QAExample(str(qa["id"]), qa["question"], context, answers, article.get("title", "")))
            except (KeyError, TypeError, ValueError) as e:
                raise ValueError(f"{p}: article {a}, paragraph {g} is not in SQuAD format "
                                 f"({type(e).__name__}: {e})") from None
    return out


def split_by_title(examples: Sequence[QAExample], every: int = 4) -> tuple[list[QAExample], list[QAExample]]:
    """(train, dev): every ``every``-th article (by order of first appearance) goes to dev, so no
    context is in both. XQuAD has no train split; this makes one from its 48 articles."""
    titles: dict[str, int] = {}
    for ex in examples:
        titles.setdefault(ex.title, len(titles))
    dev = [ex for ex in examples if titles[ex.title] % every == every - 1]
    train = [ex for ex in examples if titles[ex.title] % every != every - 1]
    return train, dev


def text_examples(texts: Sequence[str], labels: Sequence[Any],
                  pairs: Optional[Sequence[str]] = None) -> list[TextExample]:
    """TextExamples from parallel lists (``pairs``: the second texts of a pair task)."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels: they must pair up one to one")
    if pairs is not None and len(pairs) != len(texts):
        raise ValueError(f"{len(texts)} first texts but {len(pairs)} second texts")
    return [TextExample(t, pairs[i] if pairs is not None else None, y, f"example {i}")
            for i, (t, y) in enumerate(zip(texts, labels))]
