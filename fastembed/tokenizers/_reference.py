"""Slow, obviously correct byte-level BPE: the oracle the tests hold the native code to.

Nothing here is fast or clever: pre-tokenization uses the `regex` module with the pattern's
text, training recounts every pair after every merge, and encoding rescans the piece after every
merge. The semantics (documented in csrc/bpe/train.h and csrc/bpe/encoder.h) are:

- training: byte tokens 0..255; each step merges the pair with the highest count, ties to the
  smallest (left id, right id); occurrences are replaced left to right without overlap; stop at
  `num_merges` or when the best count is below `min_frequency`;
- encoding: repeatedly merge the adjacent pair with the lowest rank (leftmost on ties).
"""

from __future__ import annotations

from collections import Counter

# tiktoken's r50k / p50k / gpt2 pattern (the GPT-2 paper's, written with possessive quantifiers).
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
# tiktoken's cl100k_base pattern (GPT-3.5 / GPT-4).
CL100K_PATTERN = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$"""
                  r"""|\s*[\r\n]|\s+(?!\S)|\s""")
PATTERNS = {"gpt2": GPT2_PATTERN, "cl100k": CL100K_PATTERN}


def pretokenize(text: str | bytes, pattern: str = "gpt2") -> list[bytes]:
    """The pieces of text as UTF-8 bytes. Bytes that are not UTF-8 are single "other" characters
    (decoded with surrogateescape, then encoded back)."""
    import regex

    s = text.decode("utf-8", "surrogateescape") if isinstance(text, bytes) else text
    return [m.group().encode("utf-8", "surrogateescape") for m in regex.finditer(PATTERNS[pattern], s)]


def merge_word(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train(word_counts: dict[bytes, int], num_merges: int, min_frequency: int = 1) -> list[tuple[int, int, int, int]]:
    """Merges as (left, right, new id, count)."""
    words = [(list(w), c) for w, c in word_counts.items() if c > 0]
    merges = []
    for k in range(num_merges):
        counts: Counter = Counter()
        for ids, c in words:
            for pair in zip(ids, ids[1:]):
                counts[pair] += c
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        if counts[best] < max(min_frequency, 1):
            break
        new_id = 256 + k
        merges.append((best[0], best[1], new_id, counts[best]))
        words = [(merge_word(ids, best, new_id), c) for ids, c in words]
    return merges


def encode_piece(piece: bytes, byte_tokens: list[int], rules: dict[tuple[int, int], tuple[int, int]]) -> list[int]:
    """rules: (left, right) -> (rank, new id)."""
    parts = [byte_tokens[b] for b in piece]
    while len(parts) > 1:
        candidates = [(rules[p][0], i) for i, p in enumerate(zip(parts, parts[1:])) if p in rules]
        if not candidates:
            break
        _, i = min(candidates)
        parts[i:i + 2] = [rules[(parts[i], parts[i + 1])][1]]
    return parts


def encode(text: str | bytes, byte_tokens: list[int], rules: dict, pattern: str = "gpt2") -> list[int]:
    return [t for piece in pretokenize(text, pattern) for t in encode_piece(piece, byte_tokens, rules)]


def vocab_from_merges(merges) -> list[bytes]:
    vocab = [bytes([b]) for b in range(256)]
    for left, right, new_id, *_ in merges:
        assert new_id == len(vocab)
        vocab.append(vocab[left] + vocab[right])
    return vocab
