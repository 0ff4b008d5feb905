"""A child process that loads tokenizer files on request, under a cap on its address space.

Run as ``python -m tests.tokenizers._loader_child EXTRA_BYTES`` from the repository root. Each
line on stdin is JSON ``{"loader": name, "paths": [...]}``; each answer on stdout is JSON
``{"outcome": "ok"}`` or ``{"outcome": exception class, "bases": [...], "message": ...}``. A
MemoryError is answered like any exception; a crash ends the process (the parent sees EOF).
"""

from __future__ import annotations

from typing import Any, Callable

from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer, from_pretrained

from ._capped import serve

LOADERS = {
    "tokenizer json": lambda paths: BPETokenizer.load(paths[0]),
    "tiktoken": lambda paths: BPETokenizer.from_tiktoken(paths[0], special_tokens={"<|endoftext|>": 263}),
    "gpt2": lambda paths: BPETokenizer.from_gpt2_files(paths[0], paths[1]),
    "vocab.txt": lambda paths: WordPieceTokenizer.from_vocab(paths[0]),
    "hf tokenizer.json": lambda paths: _called(from_pretrained(paths[0])),
}


def _called(tok: Any) -> Any:
    """The tokenizer, after a batch of pairs went through its template, truncation and offsets."""
    tok(["the abc <|endoftext|>", "unaffable!"], ["x", "the the"], truncation=True, max_length=6, return_offsets=True)
    return tok


def _load_and_encode(load: Callable[[list[str]], Any]) -> Callable[[list[str]], None]:
    def run(paths: list[str]) -> None:
        tok = load(paths)
        getattr(tok, "encode_ordinary", tok.encode)("the abc <|endoftext|> unaffable!")  # and it must work
    return run


if __name__ == "__main__":
    serve({name: _load_and_encode(load) for name, load in LOADERS.items()})
