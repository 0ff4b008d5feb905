"""One way to encode plain text with either tokenizer: no [CLS]/[SEP], special-token text as text.

The two tokenizers differ here: ``WordPieceTokenizer.encode_batch`` adds [CLS]/[SEP] unless
``add_special_tokens=False``, while ``BPETokenizer.encode_batch`` never adds tokens and raises on
text that spells a special token unless ``disallowed_special=()``. Both run on native threads.
Corpus text is data, never control tokens, so both are asked to encode it as ordinary text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def encode_texts(tokenizer: Any, texts: Sequence[str]) -> list[np.ndarray]:
    """Token ids of each text (uint32 arrays), without special tokens."""
    if hasattr(tokenizer, "n_vocab"):  # BPETokenizer
        return tokenizer.encode_batch(texts, disallowed_special=())
    return tokenizer.encode_batch(texts, add_special_tokens=False)


def vocab_size(tokenizer: Any) -> int:
    """``n_vocab`` (BPETokenizer) or ``vocab_size`` (WordPieceTokenizer)."""
    n = getattr(tokenizer, "n_vocab", None)
    return int(n if n is not None else tokenizer.vocab_size)
