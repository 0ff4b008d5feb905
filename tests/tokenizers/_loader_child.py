"""A child process that loads tokenizer files on request, under a cap on its address space.

Run as ``python -m tests.tokenizers._loader_child EXTRA_BYTES`` from the repository root. Each
line on stdin is JSON ``{"loader": name, "paths": [...]}``; each answer on stdout is JSON
``{"outcome": "ok"}`` or ``{"outcome": exception class, "bases": [...], "message": ...}``. A
MemoryError is answered like any exception; a crash ends the process (the parent sees EOF).
"""

from __future__ import annotations

import json
import sys

from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer

from ._capped import cap_address_space

LOADERS = {
    "tokenizer json": lambda paths: BPETokenizer.load(paths[0]),
    "tiktoken": lambda paths: BPETokenizer.from_tiktoken(paths[0], special_tokens={"<|endoftext|>": 263}),
    "gpt2": lambda paths: BPETokenizer.from_gpt2_files(paths[0], paths[1]),
    "vocab.txt": lambda paths: WordPieceTokenizer.from_vocab(paths[0]),
}


def answer(request: dict) -> dict:
    try:
        tok = LOADERS[request["loader"]](request["paths"])
        getattr(tok, "encode_ordinary", tok.encode)("the abc <|endoftext|> unaffable!")  # and it must work
    except Exception as e:  # noqa: BLE001 - every exception is reported to the test
        return {"outcome": type(e).__name__, "bases": [c.__name__ for c in type(e).__mro__], "message": str(e)[:500]}
    return {"outcome": "ok"}


def main() -> None:
    cap_address_space(int(sys.argv[1]))
    print(json.dumps({"outcome": "ready"}), flush=True)
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
