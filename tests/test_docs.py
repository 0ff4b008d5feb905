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


def test_readme_tour_runs():
    """The README's API tour (its ``>>>`` examples) runs and prints what it says."""
    from pathlib import Path

    pytest.importorskip("torch")
    readme = Path(__file__).resolve().parents[1] / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not beside the tests (an installed package)")
    result = doctest.testfile(str(readme), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 30 and result.failed == 0
