"""Old names of public arguments and attributes, kept for one release.

One name per concept, transformers' where a user would look for it: the tokens per sequence are
``max_length`` (once ``max_seq_len``, ``block_size``, ``seq_len``), generation's ``eos_token_id`` and
``pad_token_id`` (once ``stop_tokens``, ``pad_id``), pretraining's ``warmup_steps`` (once
``warmup``). The old spellings still work and warn, so code written against the previous release
keeps running while it is moved over; giving an old and a new name together is a TypeError.
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
