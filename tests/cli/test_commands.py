"""The `fastembed` command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastembed
from fastembed.cli import main


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastembed", *args], capture_output=True, text=True, timeout=timeout)


def test_version():
    out = cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"fastembed {fastembed.__version__}"


def test_console_script_is_installed():
    exe = shutil.which("fastembed")
    if exe is None:
        pytest.skip("the fastembed console script is not on PATH (not pip-installed)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == f"fastembed {fastembed.__version__}"


def test_info_json_is_build_info():
    out = cli("info", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    expected = fastembed.build_info()
    for key in ("version", "compiler", "flags", "openmp", "simd", "cuda", "default_threads"):
        assert info[key] == expected[key]


def test_info_text_names_each_fact(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    for label in ("fastembed", "compiler", "SIMD", "OpenMP", "threads", "CUDA", "torch"):
        assert any(line.startswith(label) for line in text.splitlines()), label


def test_pretrain_is_listed_and_its_help_runs_as_torchrun_runs_it(capsys):
    assert main([]) == 0
    assert "pretrain" in capsys.readouterr().out
    # torchrun runs the command as `python -m fastembed.cli`
    out = subprocess.run([sys.executable, "-m", "fastembed.cli", "pretrain", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "--input" in out.stdout and "--resume" in out.stdout


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_demo_help_lists_its_options():
    out = cli("demo", "--help")
    assert out.returncode == 0, out.stderr
    for flag in ("--quick", "--input", "--out", "--vocab-size"):
        assert flag in out.stdout


def test_bench_list_reaches_the_benchmarks():
    out = cli("bench", "list")
    assert out.returncode == 0, out.stderr
    assert "axpy" in out.stdout


def test_unknown_command_is_a_usage_error():
    out = cli("frobnicate")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_tokenizer_train_encode_decode_explain(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("low lower lowest\nnew newer newest\n" * 100, encoding="utf-8")
    tok = tmp_path / "tok.json"
    out = cli("tokenizer", "train", "--input", str(corpus), "--vocab-size", "280", "--special", "<|endoftext|>",
              "-o", str(tok), "--show-merges", "3")
    assert out.returncode == 0, out.stderr
    assert "wrote" in out.stdout and "->" in out.stdout
    enc = cli("tokenizer", "encode", "-t", str(tok), "lower newest")
    ids = enc.stdout.split()
    assert enc.returncode == 0 and ids and all(i.isdigit() for i in ids)
    dec = cli("tokenizer", "decode", "-t", str(tok), *ids)
    assert dec.stdout == "lower newest\n"
    exp = cli("tokenizer", "explain", "-t", str(tok), "lowest")
    assert exp.returncode == 0 and exp.stdout.startswith("start: b'l' b'o' b'w' b'e' b's' b't'")
    npy = tmp_path / "ids.npy"
    assert cli("tokenizer", "encode", "-t", str(tok), "--input", str(corpus), "-o", str(npy)).returncode == 0
    import numpy as np

    assert np.load(npy).dtype == np.uint32


def test_tokenizer_errors_are_messages_not_tracebacks(tmp_path):
    out = cli("tokenizer", "encode", "-t", str(tmp_path / "missing.json"), "x")
    assert out.returncode == 1
    assert "error:" in out.stderr and "Traceback" not in out.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    out = cli("tokenizer", "decode", "-t", str(bad), "1")
    assert out.returncode == 1 and "not a fastembed tokenizer file" in out.stderr


def test_bench_finds_the_benchmarks_of_a_checkout_or_says_where_they_are(tmp_path, monkeypatch, caplog):
    """An installed wheel (no source tree beside the package) runs the benchmarks of the clone it
    is run from; elsewhere the command says where the benchmarks are, exit 2."""
    from fastembed.cli import bench

    here = Path(__file__).resolve().parents[2]                                  # this checkout (or its copy)
    monkeypatch.setattr(bench, "SOURCE_ROOT", tmp_path / "site-packages")      # as installed from a wheel
    monkeypatch.chdir(here)
    assert bench.benchmarks_root() == here
    monkeypatch.chdir(tmp_path)
    assert bench.benchmarks_root() is None
    with caplog.at_level("ERROR", logger="fastembed"):
        assert bench.run(bench.argparse.Namespace(bench_args=["list"])) == 2
    assert "run this from a clone of the repository" in caplog.text
