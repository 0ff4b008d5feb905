"""Character offsets for WordPiece tokens: which characters of the original text each token covers.

The WordPiece tokenizer normalizes before it splits (drops control characters, strips accents,
lower-cases), so its tokens cannot be traced back to the text by themselves. Extractive QA needs
that trace: the model points at tokens, the answer is a piece of the original context. We
rebuild it in two steps.

1. :func:`word_spans` (the tokenizer's own ``word_spans``) walks the *original* text with the
   same rules the tokenizer's ``pre_tokenize`` uses (white space separates words; every punctuation mark and CJK ideograph
   is a word of its own; control characters vanish without separating anything) and records
   each word's ``(start, end)``. ``tokenizer.pre_tokenize(text)`` and the normalized
   ``text[start:end]`` give the same words (a test checks this on random text), up to Greek's
   final sigma, which lower-cases by context; the pieces come from the words in context.
2. :func:`token_offsets` encodes those words with ``encode_words``, which says which word each
   piece came from. A piece covers its whole word, refined to the piece's own characters when
   the normalized word is as long as the original one (true for ASCII, where normalizing only
   lower-cases): "unaffable" -> un|##aff|##able -> (0, 2), (2, 5), (5, 9). When lengths
   differ (an accent was stripped: "naïve" NFD-decomposed) every piece covers the whole word.

>>> from fastembed.tokenizers import WordPieceTokenizer
>>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!"])
>>> word_spans(tok, "Unaffable!")
[(0, 9), (9, 10)]
>>> ids, offsets = token_offsets(tok, "  Unaffable!")
>>> offsets.tolist()
[[2, 4], [4, 7], [7, 11], [11, 12]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

def word_spans(tokenizer: Any, text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of the words ``tokenizer.pre_tokenize(text)`` sees
    (:meth:`fastembed.tokenizers.WordPieceTokenizer.word_spans`)."""
    return tokenizer.word_spans(text)


def token_offsets(tokenizer: Any, text: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids (N,) int64, offsets (N, 2) int64): the word pieces of ``text`` (no [CLS]/[SEP]) and
    the ``[start, end)`` characters of ``text`` each covers."""
    spans = word_spans(tokenizer, text)
    words = [text[s:e] for s, e in spans]
    # Lower-casing is not always word by word: a capital sigma that ends a word becomes 'ς', and
    # a '.' between it and a letter does not end the word for that rule ("A.Σ" -> "a", ".", "ς",
    # but "Σ" alone -> "σ"). So the pieces come from the words of the whole text, which line up
    # with the spans one to one unless a span normalizes to nothing (then word by word).
    in_context = tokenizer.pre_tokenize(text)
    ids, owner = tokenizer.encode_words(in_context if len(in_context) == len(words) else words)
    ids = ids.astype(np.int64)
    owner = owner.astype(np.int64)
    offsets = np.array([spans[w] for w in owner], dtype=np.int64).reshape(-1, 2)
    # refine multi-piece words whose normalized form is as long as the original
    first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else owner
    bounds = np.r_[first, len(owner)]
    for a, b in zip(bounds[:-1], bounds[1:]):
        if b - a < 2:
            continue
        word = words[owner[a]]
        normalized = tokenizer.pre_tokenize(word)
        if len(normalized) != 1 or len(normalized[0]) != len(word):
            continue
        pieces = [tokenizer.vocab[i] for i in ids[a:b]]
        lengths = [len(p) - 2 if k and p.startswith("##") else len(p) for k, p in enumerate(pieces)]
        if sum(lengths) != len(word) or tokenizer.unk_id in ids[a:b]:
            continue
        s = offsets[a, 0]
        cuts = s + np.cumsum([0] + lengths)
        offsets[a:b, 0], offsets[a:b, 1] = cuts[:-1], cuts[1:]
    return ids, offsets
