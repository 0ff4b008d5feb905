"""Functions a multiprocessing pool runs in its workers; a module of their own so that spawn and
forkserver workers can import them (test modules are not meant to be imported twice)."""

from __future__ import annotations

TEXTS = ["hello world", "low lower lowest <|endoftext|> newest", "naïve café 東京 😀", "Unaffable!"]


def encode_both(args) -> tuple[list[int], list[int]]:
    """(BPE ids with special tokens, WordPiece ids) of one text, from tokenizers sent pickled."""
    bpe, wordpiece, text = args
    return bpe.encode(text, allowed_special="all").tolist(), wordpiece.encode(text).tolist()


def as_list(ids) -> list[int]:
    return ids.tolist()
