"""Small valid tokenizer files of every kind the loaders read, for the hostile-file and fuzz tests."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from fastembed.tokenizers.bpe import _gpt2_bytes_to_unicode

BYTES = [bytes([b]) for b in range(256)]
MERGED = [b"ab", b"abc", b"  ", b"th", b"the", b" the"]
WORDPIECE = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "!", "the"]


def tiktoken_text() -> str:
    """``base64(token) rank`` lines: the 256 bytes, then a few merged tokens."""
    return "".join(f"{base64.b64encode(t).decode()} {i}\n" for i, t in enumerate(BYTES + MERGED))


def gpt2_texts() -> tuple[str, str]:
    """(encoder.json, vocab.bpe) for the same tokens, <|endoftext|> last, as GPT-2 ships them."""
    spell = _gpt2_bytes_to_unicode()

    def s(t: bytes) -> str:
        return "".join(spell[b] for b in t)

    encoder = {s(t): i for i, t in enumerate(BYTES + MERGED)}
    encoder["<|endoftext|>"] = len(encoder)
    merges = [(b"a", b"b"), (b"ab", b"c"), (b" ", b" "), (b"t", b"h"), (b"th", b"e"), (b" ", b"the")]
    return json.dumps(encoder), "#version: 0.2\n" + "".join(f"{s(a)} {s(b)}\n" for a, b in merges)


def wordpiece_text() -> str:
    return "".join(t + "\n" for t in WORDPIECE)


def write(tmp: Path, name: str, content: str | bytes) -> Path:
    path = tmp / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path
