"""Old names of the data layer's arguments and attributes, kept for one release.

The tokens per sequence were ``max_seq_len`` (BERT) and ``block_size`` (GPT); they are now
``max_length``, as in transformers and the rest of fastembed. The old spellings still work and
warn, so code written against the previous release keeps running while it is moved over.
"""

from __future__ import annotations

import warnings
from typing import Any


class _Unset:
    """Default of a deprecated keyword: tells "not given" apart from any value a caller may pass."""

    def __repr__(self) -> str:
        return "<not given>"


UNSET: Any = _Unset()


def renamed_arg(where: str, old: str, old_value: Any, new: str, new_value: Any, *, required: bool = False) -> Any:
    """The value of keyword ``new`` of ``where`` (e.g. "GPTBlocks"), taken from its old name ``old``
    when that was given instead. ``new_value`` None means not given; giving both is a TypeError,
    and so is giving neither when ``required``."""
    if old_value is UNSET:
        if required and new_value is None:
            raise TypeError(f"{where}() missing required keyword argument: '{new}'")
        return new_value
    if new_value is not None:
        raise TypeError(f"{where}() got both {old}= and {new}=; {old} is the deprecated name of {new}: "
                        f"pass {new}= only")
    warnings.warn(f"{where}({old}=...) is deprecated: use {new}= (the old name goes in the next release)",
                  DeprecationWarning, stacklevel=3)
    return old_value


def renamed_attribute(cls: str, old: str, new: str) -> property:
    """A read-only property ``old`` that warns and returns attribute ``new``."""

    def get(self: Any) -> Any:
        warnings.warn(f"{cls}.{old} is deprecated: use .{new} (the old name goes in the next release)",
                      DeprecationWarning, stacklevel=2)
        return getattr(self, new)

    get.__doc__ = f"Deprecated name of ``{new}``."
    return property(get)
