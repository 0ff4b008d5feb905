"""Learning a WordPiece vocabulary (``WordPieceTokenizer.train``) with the native BPE trainer.

The steps are documented on :meth:`fastembed.tokenizers.WordPieceTokenizer.train`.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._files import check_is_file
from .bpe import BPETokenizer


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_specials(special_tokens: Iterable[str], required: dict[str, str]) -> list[str]:
    if isinstance(special_tokens, (str, bytes)):
        raise TypeError("special_tokens must be a sequence of strings (got a single string; wrap it in a tuple)")
    specials = list(special_tokens)
    seen: set[str] = set()
    for s in specials:
        if not isinstance(s, str) or not s or any(c.isspace() for c in s):
            raise ValueError(f"special tokens must be non-empty strings without white space, got {s!r}")
        if s in seen:
            raise ValueError(f"special token {s!r} is given twice; special tokens must be distinct")
        seen.add(s)
    for name, tok in required.items():
        if tok not in seen:
            raise ValueError(f"special_tokens {tuple(specials)!r} lack the {name} {tok!r}; "
                             f"the tokenizer needs its {', '.join(required)} among them")
    return specials


def _lines(texts: Iterable[str] | None, files: Sequence[Path]) -> Iterator[str]:
    """Every text, then every line of every file (streamed; undecodable bytes become U+FFFD,
    which normalization drops as BERT's clean-up does)."""
    if texts is not None:
        for t in texts:
            if not isinstance(t, str):
                raise TypeError(f"texts must hold str, got {type(t).__name__}")
            yield t
    for p in files:
        with open(p, encoding="utf-8", errors="replace", newline="") as fh:
            yield from fh


def _is_isolated(c: str) -> bool:
    """A character the basic tokenizer always makes a word of its own (never a continuation)."""
    from .wordpiece import _is_cjk, _is_punctuation

    return _is_punctuation(c) or _is_cjk(c)


def _learned_pieces(bpe: BPETokenizer) -> Iterator[str]:
    """The merged BPE tokens in merge order as WordPiece entries: a leading space byte marks a
    word-initial piece; every other token is a '##' continuation. Tokens that are not whole UTF-8
    characters (a part of a multi-byte character) are left out."""
    for i in range(256, bpe.n_vocab):
        b = bpe.decode_single_token_bytes(i)
        prefix = ""
        if b[:1] == b" ":
            b = b[1:]
        else:
            prefix = "##"
        if not b:
            continue
        try:
            s = b.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if " " in s:  # cannot happen (words have no spaces and one leading one), but never emit it
            continue
        yield prefix + s


def train_wordpiece(cls: type, texts: Iterable[str] | None, *, files: Iterable[str | os.PathLike],
                    vocab_size: int, min_frequency: int, lowercase: bool, strip_accents: bool | None,
                    special_tokens: Iterable[str], max_chars_per_word: int, progress: bool | None,
                    token_names: dict[str, str]) -> Any:
    vocab_size = _check_int("vocab_size", vocab_size, 1)
    min_frequency = _check_int("min_frequency", min_frequency, 1)
    max_chars_per_word = _check_int("max_chars_per_word", max_chars_per_word, 1)
    specials = _check_specials(special_tokens, token_names)
    if vocab_size <= len(specials):
        raise ValueError(f"vocab_size must be at least {len(specials) + 1} (the {len(specials)} special tokens and "
                         f"at least one character), got {vocab_size}")
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be an iterable of str (got a single string; wrap it in a list)")
    if isinstance(files, (str, bytes, os.PathLike)):
        files = [files]
    paths = [Path(f) for f in files]
    for p in paths:
        check_is_file(p, "a text file to train on")
    if texts is None and not paths:
        raise ValueError("no training text: pass texts and/or files")

    # 1. Words, as the tokenizer itself will see them.
    basic = cls(specials, lowercase=lowercase, strip_accents=strip_accents, **token_names)
    counter: Counter[str] = Counter()
    for line in _lines(texts, paths):
        counter.update(basic.pre_tokenize(line))
    # Longer words are [UNK] at inference whatever the vocabulary; learning from them wastes entries.
    counts = {w: n for w, n in counter.items() if len(w) <= max_chars_per_word}
    del counter
    if not counts:
        raise ValueError("no training text: the texts and files hold no words (after normalization)")

    # 3a. Special tokens, then the alphabet.
    chars: Counter[str] = Counter()
    for w, n in counts.items():
        for c in w:
            chars[c] += n
    alphabet = sorted(c for c, n in chars.items() if n >= min_frequency)
    if not alphabet:
        raise ValueError(f"no character occurs min_frequency={min_frequency} times in the training text")
    vocab = list(specials)
    seen = set(vocab)
    for entry in alphabet + ["##" + c for c in alphabet if not _is_isolated(c)]:
        if entry not in seen:
            seen.add(entry)
            vocab.append(entry)
    if vocab_size < len(vocab):
        n_cont = sum(not _is_isolated(c) for c in alphabet)
        raise ValueError(f"vocab_size={vocab_size} is too small for this corpus: it needs at least {len(vocab)} "
                         f"entries ({len(specials)} special tokens + {len(alphabet)} characters that occur at least "
                         f"min_frequency={min_frequency} times as word starts + {n_cont} of them as '##' "
                         f"continuations; punctuation and CJK characters are always words of their own)")

    # 2 and 3b. BPE merges over " word" pieces, converted to WordPiece entries in merge order.
    needed = vocab_size - len(vocab)
    if needed:
        bpe_counts = {" " + w: n for w, n in counts.items()}
        # Merges inside multi-byte characters, and " c" for a single character, give no new entry:
        # allow for them, and train again with a bigger budget in the rare case that was not enough.
        budget = needed + sum(2 * len(c.encode("utf-8")) for c in alphabet) + 16
        while True:
            bpe = BPETokenizer.train(counts=bpe_counts, vocab_size=256 + budget, pattern="gpt2",
                                     min_frequency=min_frequency, progress=progress)
            learned = []
            learned_seen = set(seen)
            for piece in _learned_pieces(bpe):
                if piece not in learned_seen:
                    learned_seen.add(piece)
                    learned.append(piece)
                    if len(learned) == needed:
                        break
            exhausted = bpe.n_vocab - 256 < budget  # stopped early: no pair occurs min_frequency times
            if len(learned) == needed or exhausted:
                break
            budget *= 2
        vocab += learned
    if len(vocab) < vocab_size:
        warnings.warn(f"WordPieceTokenizer.train: the vocabulary has {len(vocab)} entries, not vocab_size="
                      f"{vocab_size}: the corpus has no more pairs of pieces that occur min_frequency="
                      f"{min_frequency} times (train on more text or lower min_frequency)", UserWarning, stacklevel=3)
    return cls(vocab, lowercase=lowercase, strip_accents=strip_accents, max_chars_per_word=max_chars_per_word,
               **token_names)
