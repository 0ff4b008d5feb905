"""Every random number generator a training step can touch, as JSON and back.

Exact resume needs the generators to continue where they stopped: dropout draws from torch's
CPU generator (or the current GPU's), and data or user code may draw from numpy's and Python's
global generators. :func:`get_rng_state` captures all four as plain JSON values (torch states,
which are byte tensors, as base64); :func:`set_rng_state` puts them back. :func:`seed_all`
starts them afresh.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import numpy as np

from .._optional import require_torch

torch = require_torch("fastembed.training")


def _b64(t: "torch.Tensor") -> str:
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def _unb64(s: str) -> "torch.Tensor":
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8)


def seed_all(seed: int) -> None:
    """Seed torch (CPU and every GPU), numpy and Python's ``random`` with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def get_rng_state() -> dict[str, Any]:
    """This process's generator states as a JSON-serialisable dict."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state = {
        "torch": _b64(torch.get_rng_state()),
        "numpy": [kind, keys.tolist(), pos, has_gauss, gauss],
        "python": [version, list(py_state), py_gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = _b64(torch.cuda.get_rng_state())  # the current device: one per process
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` captured."""
    torch.set_rng_state(_unb64(state["torch"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, py_state, py_gauss = state["python"]
    random.setstate((version, tuple(py_state), py_gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(_unb64(state["cuda"]))
