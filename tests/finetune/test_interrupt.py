"""Ctrl-C (SIGINT) during ``fastembed finetune``: exit 130 with one line, no traceback, no
temporary file left in the run directory."""

from __future__ import annotations

from tests._interrupt import check_interrupted, interrupt

from .conftest import WORDS


def test_sigint_during_finetuning_exits_130_with_one_line(tiny_dir, tmp_path):
    rows = [f"{WORDS[i % len(WORDS)]} {WORDS[(3 * i) % len(WORDS)]} movie\t{i % 2}" for i in range(400)]
    data = tmp_path / "train.tsv"
    data.write_text("sentence\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    argv = ["finetune", "--task", "classify", "--data", str(data), str(data), "--model", str(tiny_dir),
            "--out", str(out), "--epochs", "1000", "--batch-size", "4", "--device", "cpu"]
    status, err = interrupt(argv, r"/[\d,]+ steps \[")
    check_interrupted(status, err, "finetune", out)
    assert not (out / "results.json").exists()
