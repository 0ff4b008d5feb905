"""The examples in fastembed's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import fastembed

MODULES = sorted(m.name for m in pkgutil.walk_packages(fastembed.__path__, "fastembed.")
                 if not m.name.rsplit(".", 1)[-1].startswith("_C") and m.name != "fastembed.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_some_examples_exist():
    attempted = sum(doctest.testmod(importlib.import_module(n)).attempted for n in MODULES)
    assert attempted >= 3
