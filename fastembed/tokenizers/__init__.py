"""Tokenizers: byte-level BPE (GPT-2 style), trained and applied in the native core."""

from .bpe import BPETokenizer, count_words

__all__ = ["BPETokenizer", "count_words"]
