"""Test configuration: markers that skip cleanly, and shared fixtures.

Markers (declared in pyproject.toml, --strict-markers is on):
  cuda      needs a visible GPU and fastembed._C_cuda: skipped otherwise.
  cuda_emu  the CUDA kernels on the CPU emulator (fastembed._C_cuda_emu): skipped when not built.
  slow  runs by default; deselect with -m "not slow".
  data  needs the shared data directory (FASTEMBED_DATA, default ../shared/data): skipped when absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fastembed import _native
from fastembed._data import ENV_VAR, data_dir


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _native.cuda_available():
        reason = ("no CUDA GPU visible" if _native.cuda_is_built()
                  else f"fastembed._C_cuda is {_native.CUDA_STATUS.split(':')[0]}")
        skip_cuda = pytest.mark.skip(reason=reason)
        for item in items:
            if item.get_closest_marker("cuda"):  # not item.keywords: that holds the tests/cuda folder's name
                item.add_marker(skip_cuda)
    if not _native.cuda_emu_is_built():
        skip_emu = pytest.mark.skip(reason=f"fastembed._C_cuda_emu is {_native.CUDA_EMU_STATUS}")
        for item in items:
            if item.get_closest_marker("cuda_emu"):
                item.add_marker(skip_emu)
    if data_dir() is None:
        skip_data = pytest.mark.skip(reason=f"shared data not found (set {ENV_VAR})")
        for item in items:
            if "data" in item.keywords:
                item.add_marker(skip_data)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data directory (tests using it must carry the `data` marker)."""
    root = data_dir()
    assert root is not None, "tests using shared_data must be marked @pytest.mark.data"
    return root


@pytest.fixture
def restore_threads():
    """Put the native thread count back after a test that changes it."""
    before = _native.get_num_threads()
    yield before
    _native.set_num_threads(before)
