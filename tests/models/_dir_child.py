"""A child process that loads model directories on request, under a cap on its address space
(the protocol of tests/tokenizers/_loader_child.py: JSON requests on stdin, answers on stdout).

Run as ``python -m tests.models._dir_child EXTRA_BYTES`` from the repository root."""

from __future__ import annotations

import torch

from fastembed.embedder import Embedder
from fastembed.models.hf import load_bert, load_gpt2

from ..tokenizers._capped import serve

LOADERS = {
    "bert": lambda paths: load_bert(paths[0])(torch.tensor([[2, 5, 3]])),
    "gpt2": lambda paths: load_gpt2(paths[0])(torch.tensor([[1, 2, 3]])),
    "embedder": lambda paths: Embedder(paths[0]).encode(["the cat"], progress=False),
}


if __name__ == "__main__":
    torch.set_num_threads(1)
    serve(LOADERS)
