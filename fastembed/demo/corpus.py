"""The demo's text: real English that every Python install carries, or the user's own file.

The default corpus is CPython's own documentation, read from the running interpreter:

1. ``pydoc_data.topics``: the language reference's topic pages that ``help("if")`` shows
   (about 0.47 MB of text: statements, expressions, data model, ...);
2. then the docstrings of the standard library's modules, classes and functions, read with
   :mod:`ast` from the ``.py`` files in sorted order (never imported), until ``max_bytes``.

Only prose is kept: a paragraph (lines between blank lines) goes in when it is not indented code
or an interactive session (``>>>``), and at least 60% of its characters are letters or spaces.
Each topic page and each module is one *document*; paragraphs are split into sentences by
:func:`fastembed.data.split_sentences`. ``--input PATH`` takes any UTF-8 text file instead:
blank lines separate paragraphs, and a line holding only ``---`` or two blank lines in a row
separate documents (a file with fewer than 8 such documents has each cut into runs of 20
sentences, so next-sentence pairs have somewhere to come from and sections can be made).

*Sections* label the demo's classification task (which section does a sentence come from?):
the language reference vs library docstrings for the default corpus; for a file, its four
quarters (runs of whole documents).

:func:`check_corpus` refuses, before any long work, a corpus too small for the demo (the numbers
are in ``MIN_WORDS`` / ``MIN_SENTENCES``) with a message that says how much it has.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from ..data import split_sentences

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")       # letters of any script; an inner ' or ’
MIN_WORDS = {"quick": 20_000, "default": 50_000}
MIN_SENTENCES = {"quick": 1_000, "default": 2_500}
SENTENCES_PER_DOCUMENT = 20          # for a --input file with fewer than MIN_DOCUMENTS documents
MIN_DOCUMENTS = 8


@dataclass
class Corpus:
    """Documents of sentences, what they are, and their size."""

    name: str
    documents: list[list[str]]
    sources: list[str] = field(default_factory=list)
    sections: list[tuple[str, int, int]] = field(default_factory=list)   # (name, first document, end)
    curated: bool = False        # the built-in corpus, for which the demo's hand-made probe lists are made
    held_out: list[str] = field(default_factory=list)   # sentences kept out of every model (see hold_out)

    def section_sentences(self) -> dict[str, list[str]]:
        """The sentences of each section: the labels of the demo's classification task."""
        return {name: [s for d in self.documents[a:b] for s in d] for name, a, b in self.sections}

    @property
    def sentences(self) -> list[str]:
        return [s for d in self.documents for s in d]

    @property
    def num_bytes(self) -> int:
        return sum(len(s.encode("utf-8")) + 1 for s in self.sentences)

    @property
    def num_words(self) -> int:
        return sum(len(_WORD.findall(s)) for s in self.sentences)

    def write(self, path: Path) -> Path:
        """BERT's pretraining format: one sentence per line, a blank line between documents."""
        from ..io import atomic_write_text

        atomic_write_text(path, "\n\n".join("\n".join(d) for d in self.documents) + "\n")
        return path


def words(sentence: str) -> list[str]:
    """Lower-cased words (letters of any script, with an inner apostrophe, ' or ’): word2vec's and the
    tasks' tokens."""
    return [w.lower() for w in _WORD.findall(sentence)]


def _is_prose(paragraph: str) -> bool:
    lines = paragraph.splitlines()
    if not lines or any(ln.lstrip().startswith((">>>", "...", "$ ", "%")) for ln in lines):
        return False
    if sum(ln.startswith("   ") for ln in lines) > len(lines) // 2:     # an indented code block
        return False
    text = " ".join(ln.strip() for ln in lines)
    if len(text) < 40:
        return False
    return sum(c.isalpha() or c == " " for c in text) >= 0.6 * len(text)


def prose_sentences(text: str) -> list[str]:
    """The sentences of the prose paragraphs of ``text`` (see the module docstring)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        if _is_prose(para):
            out += [s for s in split_sentences(para) if len(_WORD.findall(s)) >= 3]
    return out


def _docstrings(path: Path) -> Optional[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return None
    found = [ast.get_docstring(node) for node in ast.walk(tree)
             if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    return "\n\n".join(d for d in found if d)


def _stdlib_modules() -> Iterator[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        parts = set(path.relative_to(root).parts)
        if parts & {"test", "tests", "idlelib", "site-packages", "dist-packages", "lib2to3", "turtledemo"}:
            continue
        yield path


def default_corpus(max_bytes: int) -> Corpus:
    """CPython's documentation (see the module docstring), about ``max_bytes`` of sentences."""
    import pydoc_data.topics

    corpus = Corpus(f"CPython {sys.version.split()[0]}'s own documentation: pydoc_data.topics (the language "
                    "reference's help topics), then standard-library docstrings", [])
    size = 0
    for name in sorted(pydoc_data.topics.topics):
        doc = prose_sentences(pydoc_data.topics.topics[name])
        if doc:
            corpus.documents.append(doc)
            size += sum(len(s) + 1 for s in doc)
    corpus.sources.append(f"pydoc_data.topics: {len(corpus.documents)} topic pages")
    n_topics = len(corpus.documents)
    modules = 0
    for path in _stdlib_modules():
        if size >= max_bytes:
            break
        text = _docstrings(path)
        doc = prose_sentences(text) if text else []
        if doc:
            corpus.documents.append(doc)
            size += sum(len(s) + 1 for s in doc)
            modules += 1
    corpus.sources.append(f"docstrings of {modules} standard-library modules")
    corpus.sections = [("language reference", 0, n_topics), ("library docstring", n_topics, len(corpus.documents))]
    corpus.curated = True
    return corpus


def file_corpus(path: os.PathLike | str) -> Corpus:
    """A UTF-8 text file as documents of sentences; OSError/ValueError say what is wrong."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"--input {p}: no such file")
    if p.is_dir():
        raise IsADirectoryError(f"--input {p} is a directory; give one UTF-8 text file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"--input {p} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise OSError(f"--input {p} cannot be read: {e.strerror or e}") from None
    if not text.strip():
        raise ValueError(f"--input {p} is empty")
    blocks = [b for b in re.split(r"\n[ \t]*---[ \t]*\n|\n[ \t]*\n[ \t]*\n", text) if b.strip()]
    documents = [[s for s in split_sentences(b) if _WORD.search(s)] for b in blocks]
    documents = [d for d in documents if d]
    if len(documents) < MIN_DOCUMENTS:                              # few document breaks: make more
        documents = [d[i:i + SENTENCES_PER_DOCUMENT] for d in documents
                     for i in range(0, len(d), SENTENCES_PER_DOCUMENT)]
    return hold_out(Corpus(f"{p.name} (--input)", documents, [str(p)]))


def hold_out(corpus: Corpus, fraction: float = 0.02, min_sentences: int = 60) -> Corpus:
    """``corpus`` with its last sentences (``fraction`` of them, at least ``min_sentences``) moved
    to ``held_out``, out of every model's training text, and its sections recomputed as
    :func:`quarters` of what is left. The fill-in-the-blank probes of a ``--input`` corpus come
    from there, so BERT is asked about sentences it never saw."""
    n = max(min_sentences, int(round(fraction * len(corpus.sentences))))
    docs = [list(d) for d in corpus.documents]
    tail: list[str] = []
    while docs and len(tail) < n:
        take = min(n - len(tail), len(docs[-1]))
        tail[:0] = docs[-1][len(docs[-1]) - take:]
        docs[-1] = docs[-1][:len(docs[-1]) - take]
        if not docs[-1]:
            docs.pop()
    return Corpus(corpus.name, docs, corpus.sources, quarters(docs) if docs else [], corpus.curated, tail)


def quarters(documents: list[list[str]]) -> list[tuple[str, int, int]]:
    """Four runs of whole documents with about a quarter of the sentences each."""
    sizes = [len(d) for d in documents]
    total, bounds, acc = sum(sizes), [0], 0
    for i, n in enumerate(sizes):
        acc += n
        if len(bounds) < 4 and acc >= total * len(bounds) / 4 and i + 1 < len(documents):
            bounds.append(i + 1)
    bounds.append(len(documents))
    return [(f"part {k + 1} of {len(bounds) - 1}", a, b) for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def check_corpus(corpus: Corpus, mode: str) -> None:
    """ValueError unless ``corpus`` is big enough for the demo in ``mode`` ("quick"/"default")."""
    n_words, n_sent, n_docs = corpus.num_words, len(corpus.sentences), len(corpus.documents)
    need_w, need_s = MIN_WORDS[mode], MIN_SENTENCES[mode]
    if n_words < need_w or n_sent < need_s or n_docs < 2:
        raise ValueError(
            f"the corpus is too small for the {mode} demo: {n_words:,} words in {n_sent:,} sentences and "
            f"{n_docs:,} documents; it needs at least {need_w:,} words, {need_s:,} sentences and 2 documents "
            "(word2vec, the tokenizers' vocabularies and next-sentence pairs all need that much text)")
