"""fastembed.io: atomic writes end with a plain open()'s permissions, and a target that cannot be
written is reported by its own name (not the hidden temporary file's), with nothing left behind."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from fastembed.io import atomic_write_bytes, atomic_write_text


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda m: os.umask(m)
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _plain_open_mode(tmp_path, name: str) -> int:
    p = tmp_path / name
    with open(p, "w") as f:
        f.write("x")
    return _mode(p)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027], ids=oct)
def test_new_file_gets_the_mode_a_plain_open_gives(tmp_path, umask, mask):
    umask(mask)
    atomic_write_text(tmp_path / "out.txt", "hello")
    assert _mode(tmp_path / "out.txt") == _plain_open_mode(tmp_path, "plain.txt") == 0o666 & ~mask


def test_replacing_a_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "out.json"
    target.write_text("{}")
    os.chmod(target, 0o640)
    atomic_write_bytes(target, b"[]")
    assert target.read_bytes() == b"[]" and _mode(target) == 0o640


def test_missing_folder_is_named(tmp_path):
    target = tmp_path / "no" / "such" / "out.txt"
    with pytest.raises(FileNotFoundError, match=r"folder .*no/such does not exist") as e:
        atomic_write_text(target, "x")
    assert ".tmp" not in str(e.value) and str(target) in str(e.value)


def test_directory_as_target_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match="it is a directory, expected a file path"):
        atomic_write_text(tmp_path, "x")
    assert list(tmp_path.iterdir()) == []


def test_file_as_folder_is_refused(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        atomic_write_text(tmp_path / "f" / "out.txt", "x")


def test_full_disk_names_the_target_and_leaves_nothing(tmp_path, monkeypatch):
    def full(fd, mode):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fchmod", full)
    with pytest.raises(OSError, match=r"cannot write .*out\.bin: No space left on device") as e:
        atomic_write_bytes(tmp_path / "out.bin", b"data")
    assert e.value.errno == errno.ENOSPC and ".tmp" not in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_outputs_of_real_writers_are_not_owner_only(tmp_path, umask):
    """The tokenizer's JSON and a PNG plot: the files users share and serve were -rw-------."""
    from fastembed.tokenizers import BPETokenizer

    umask(0o022)
    tok = BPETokenizer.train(["low lower lowest"] * 20, vocab_size=260, progress=False)
    tok.save(tmp_path / "tok.json")
    assert _mode(tmp_path / "tok.json") == 0o644
    pytest.importorskip("matplotlib")
    from fastembed.plots import merge_steps, plot_merge_trace

    plot_merge_trace(merge_steps(tok, "lowest"), tmp_path / "merges.png")
    assert _mode(tmp_path / "merges.png") == 0o644
