"""The ids of the special tokens that pretraining data needs, from any fastembed tokenizer.

BERT's inputs need ``[CLS]``, ``[SEP]``, ``[MASK]`` and ``[PAD]``; GPT's token stream needs the
document separator ``<|endoftext|>``. Each is the tokenizer's named special token
(``cls_token_id``, ...) when it names one, else the token spelled as BERT and GPT-2 spell it
(``token_to_id("[CLS]")``): a :class:`~fastembed.tokenizers.WordPieceTokenizer` always has the
BERT tokens, a :class:`~fastembed.tokenizers.BPETokenizer` has them only if it was trained or
loaded with them. A missing token is an error that says how to add it.

>>> from fastembed.tokenizers import WordPieceTokenizer
>>> tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])
>>> special_ids(tok)
{'cls': 2, 'sep': 3, 'mask': 4, 'pad': 0}
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

from ..tokenizers.base import Tokenizer

# name -> the token's text in BERT's and GPT-2's vocabularies
TOKENS = {"cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]", "pad": "[PAD]", "unk": "[UNK]", "eot": "<|endoftext|>"}
# name -> the tokenizer's named special token ("eot" is looked up by its text only)
NAMED = {name: attrgetter(f"{name}_token_id") for name in ("cls", "sep", "mask", "pad", "unk")}


def special_ids(tokenizer: Tokenizer, needed: Iterable[str] = ("cls", "sep", "mask", "pad")) -> dict[str, int]:
    """``{name: id}`` for each name in ``needed`` (names are the keys of ``TOKENS``): the named
    special token (``tokenizer.cls_token_id``, ...), else ``tokenizer.token_to_id(TOKENS[name])``.
    ValueError names every token not found."""
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
        tokens = [TOKENS[n] for n in needed]
        raise ValueError(f"{type(tokenizer).__name__} has no special token(s) {', '.join(missing)}. Add them: a BPE "
                         f"tokenizer is trained with them, BPETokenizer.train(..., special_tokens={tokens!r}), or "
                         "given them when loading GPT-2 / tiktoken files (special_tokens={...: id}); a WordPiece "
                         "vocabulary takes them as lines of its vocab.txt, e.g. in place of [unused] entries.")
    return found


def eot_id(tokenizer: Tokenizer) -> int:
    """The id of ``<|endoftext|>``, GPT's document separator."""
    return special_ids(tokenizer, ("eot",))["eot"]


def _lookup(tokenizer: Tokenizer, name: str) -> int | None:
    i = NAMED[name](tokenizer) if name in NAMED else None
    if i is None:
        i = tokenizer.token_to_id(TOKENS[name])
    return None if i is None else int(i)
