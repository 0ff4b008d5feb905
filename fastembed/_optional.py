"""Optional dependencies: import them where a feature needs them, with a message that says what
is missing and how to install it. ``import fastembed`` itself needs only numpy."""

from __future__ import annotations

import importlib
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
    return require("torch", feature)
