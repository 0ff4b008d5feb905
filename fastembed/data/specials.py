"""The ids of the special tokens that pretraining data needs, from either of our tokenizers.

BERT's inputs need ``[CLS]``, ``[SEP]``, ``[MASK]`` and ``[PAD]``; GPT's token stream needs the
document separator ``<|endoftext|>``. A :class:`~fastembed.tokenizers.WordPieceTokenizer` always
has the BERT tokens (as ``cls_id``, ``sep_id``, ``mask_id``, ``pad_id``); a
:class:`~fastembed.tokenizers.BPETokenizer` has them only if it was trained or loaded with them
(its ``special_tokens`` dict). A missing token is an error that says how to add it.

>>> from fastembed.tokenizers import WordPieceTokenizer
>>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])
>>> special_ids(tok)
{'cls': 2, 'sep': 3, 'mask': 4, 'pad': 0}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# name -> the token's text in our tokenizers (and in BERT's and GPT-2's vocabularies)
TOKENS = {"cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]", "pad": "[PAD]", "unk": "[UNK]", "eot": "<|endoftext|>"}


def special_ids(tokenizer: Any, needed: Iterable[str] = ("cls", "sep", "mask", "pad")) -> dict[str, int]:
    """``{name: id}`` for each name in ``needed`` (names are the keys of ``TOKENS``).

    Looks up ``tokenizer.<name>_id`` (WordPiece), then ``tokenizer.special_tokens[text]`` (BPE;
    WordPiece has that dict too), then ``tokenizer.token_to_id[text]`` (a WordPiece vocabulary
    that happens to hold e.g. ``<|endoftext|>``). ValueError names every token not found.
    """
    needed = list(needed)
    unknown = [n for n in needed if n not in TOKENS]
    if unknown:
        raise ValueError(f"unknown special token names {unknown}; known: {sorted(TOKENS)}")
    found: dict[str, int] = {}
    for name in needed:
        i = _lookup(tokenizer, name)
        if i is not None:
            found[name] = i
    missing = [TOKENS[n] for n in needed if n not in found]
    if missing:
        raise ValueError(f"{type(tokenizer).__name__} has no special token(s) {', '.join(missing)}. "
                         + _how_to_add(tokenizer, [TOKENS[n] for n in needed]))
    return found


def eot_id(tokenizer: Any) -> int:
    """The id of ``<|endoftext|>``, GPT's document separator."""
    return special_ids(tokenizer, ("eot",))["eot"]


def all_special_ids(tokenizer: Any) -> list[int]:
    """Every id the tokenizer calls special (its ``special_tokens`` values), sorted."""
    return sorted(set(int(i) for i in getattr(tokenizer, "special_tokens", {}).values()))


def _lookup(tokenizer: Any, name: str) -> int | None:
    i = getattr(tokenizer, f"{name}_id", None)
    if i is not None:
        return int(i)
    text = TOKENS[name]
    i = tokenizer.token_to_id(text)
    return None if i is None else int(i)


def _how_to_add(tokenizer: Any, tokens: list[str]) -> str:
    if hasattr(tokenizer, "n_vocab"):  # BPETokenizer
        return (f"Train the BPE tokenizer with them: BPETokenizer.train(..., special_tokens={tokens!r}) "
                "(or pass special_tokens={...: id} when loading GPT-2 / tiktoken files).")
    return f"Add them as lines of the vocabulary file (vocab.txt), e.g. in place of [unused] entries: {tokens!r}."
