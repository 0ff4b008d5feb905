"""Tokenizers: byte-level BPE (GPT-2 / cl100k style) and WordPiece (BERT), in the native core."""

from .bpe import BPETokenizer, count_words
from .hf import from_pretrained, save_pretrained
from .wordpiece import WordPieceTokenizer

__all__ = ["BPETokenizer", "WordPieceTokenizer", "count_words", "from_pretrained", "save_pretrained"]
