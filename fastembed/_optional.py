"""Optional dependencies: import them where a feature needs them, with a message that says what
is missing and how to install it. ``import fastembed`` itself needs only numpy."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

# module name -> (pip extra that provides it, what to tell people)
_EXTRAS = {
    "torch": ("torch", "PyTorch"),
    "matplotlib": ("plot", "matplotlib"),
}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature`` or raise ImportError naming both and the install command."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        extra, pretty = _EXTRAS.get(module, (None, module))
        how = f"pip install 'fastembed[{extra}]'" if extra else f"pip install {module}"
        raise ImportError(f"{feature} needs {pretty} ({module}), which is not installed. Install it with: {how}") from e


def require_torch(feature: str) -> ModuleType:
    """PyTorch for a torch-only feature (models, training, fine-tuning, the attention op)."""
    torch = require("torch", feature)
    _make_torch_fork_safe(torch)
    return torch


_fork_handler_installed = False


def _make_torch_fork_safe(torch: ModuleType) -> None:
    """A child forked after the parent ran a parallel torch op hangs in its first parallel op:
    GNU OpenMP's thread pool (which torch's CPU wheels use) does not survive fork, and the child
    waits for threads it does not have. In the child, torch is set to one thread before anything
    else runs, so its ops never enter the dead pool (what torch's own DataLoader workers do).
    fastembed's native code guards itself the same way (csrc/common/parallel.h). Spawn and
    forkserver start fresh processes and need none of this."""
    global _fork_handler_installed
    if _fork_handler_installed or not hasattr(os, "register_at_fork"):
        return
    os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))
    _fork_handler_installed = True
