"""How ``fastembed`` ends when the outside world intervenes: a reader that closes the pipe
(``... | head``) ends the command quietly, as Unix tools do; warnings are one line each."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from fastembed.cli import EXIT_BROKEN_PIPE, main
from fastembed.tokenizers import BPETokenizer
from tests._interrupt import ROOT, cli_env


def test_broken_pipe_ends_quietly(tmp_path):
    tok = BPETokenizer.train(["hello world the cat"] * 50, vocab_size=270, progress=False)
    tok.save(tmp_path / "tok.json")
    (tmp_path / "text.txt").write_text("hello world the cat " * 200_000)
    # `head -c 10`: read a little, then close the pipe while fastembed is still writing
    cmd = (f"{sys.executable} -m fastembed.cli tokenizer encode -t {tmp_path / 'tok.json'} "
           f"--input {tmp_path / 'text.txt'} 2>{tmp_path / 'err.txt'} | head -c 10 >/dev/null; "
           "echo ${PIPESTATUS[0]}")
    out = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == str(EXIT_BROKEN_PIPE), out
    assert (tmp_path / "err.txt").read_text() == ""      # was "error: [Errno 32] Broken pipe", exit 1


def test_a_warning_is_one_line(monkeypatch, capsys):
    def warn(args):
        warnings.warn("the checkpoint named by latest is missing; using step_00000002", UserWarning)
        return 0

    import argparse

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args",
                        lambda self, argv=None: argparse.Namespace(command="pretrain", func=warn))
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)   # put Python's back afterwards
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["pretrain"]) == 0
    err = capsys.readouterr().err
    assert err == "fastembed pretrain: warning: the checkpoint named by latest is missing; using step_00000002\n"


def test_embed_input_that_is_a_directory_or_not_utf8(tmp_path, capsys):
    from fastembed.cli._common import read_lines

    with pytest.raises(IsADirectoryError, match="is a directory, expected a text file"):
        read_lines(tmp_path)
    (tmp_path / "latin1.txt").write_bytes("ok\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"not UTF-8: byte 0xe9 at offset 6 \(line 2\).*iconv"):
        read_lines(tmp_path / "latin1.txt")
