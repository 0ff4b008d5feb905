"""The one setting that locates the shared data, and the `data` marker."""

from __future__ import annotations

import pytest

from fastembed._data import ENV_VAR, data_dir, data_path


def test_env_var_points_at_the_data(tmp_path, monkeypatch):
    (tmp_path / "corpora").mkdir()
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert data_dir() == tmp_path
    assert data_path("corpora") == tmp_path / "corpora"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data_path("nope.txt")


def test_missing_directory_reads_as_absent(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    assert data_dir() is None
    with pytest.raises(FileNotFoundError, match=ENV_VAR):
        data_path("corpora")


@pytest.mark.data
def test_shared_data_has_its_manifest(shared_data):
    assert (shared_data / "MANIFEST.md").is_file()
    assert (shared_data / "tokenizers" / "gpt2" / "vocab.bpe").is_file()
