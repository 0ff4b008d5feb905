"""A child process that loads model directories on request, under a cap on its address space
(the protocol of tests/tokenizers/_loader_child.py: JSON requests on stdin, answers on stdout).

Run as ``python -m tests.models._dir_child EXTRA_BYTES`` from the repository root."""

from __future__ import annotations

import json
import sys

import torch

from fastembed.embedder import Embedder
from fastembed.models.hf import load_bert, load_gpt2

from ..tokenizers._capped import cap_address_space

LOADERS = {
    "bert": lambda path: load_bert(path)(torch.tensor([[2, 5, 3]])),
    "gpt2": lambda path: load_gpt2(path)(torch.tensor([[1, 2, 3]])),
    "embedder": lambda path: Embedder(path).encode(["the cat"], progress=False),
}


def answer(request: dict) -> dict:
    try:
        LOADERS[request["loader"]](request["paths"][0])
    except Exception as e:  # noqa: BLE001 - every exception is reported to the test
        return {"outcome": type(e).__name__, "bases": [c.__name__ for c in type(e).__mro__], "message": str(e)[:500]}
    return {"outcome": "ok"}


def main() -> None:
    torch.set_num_threads(1)
    cap_address_space(int(sys.argv[1]))
    print(json.dumps({"outcome": "ready"}), flush=True)
    for line in sys.stdin:
        print(json.dumps(answer(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
