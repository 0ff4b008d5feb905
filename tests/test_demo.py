"""`fastembed demo`: the quick run goes end to end with no shared data and writes a report that
names every picture, each a real PNG; bad input fails with one clear line before any long work."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

SECTIONS = ("native core self-check", "tokenizers", "word2vec", "GPT", "BERT", "fine-tuning", "features",
            "biases")


def demo(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, FASTEMBED_DATA="/nonexistent/shared-data")     # the demo must not need it
    return subprocess.run([sys.executable, "-m", "fastembed", "demo", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    run = demo("--quick", "--out", str(out))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out, run


def test_quick_demo_writes_every_section(quick_run):
    out, run = quick_run
    report = (out / "report.md").read_text(encoding="utf-8")
    heads = re.findall(r"^## (\d+)\. (.+)$", report, flags=re.M)
    assert [int(n) for n, _ in heads] == list(range(8))
    for (_, title), want in zip(heads, SECTIONS):
        assert want.lower() in title.lower()
    assert "CPython" in report and "pydoc_data" in report          # says what text it used
    assert "*Finished after" in report
    for key in ("frozen", "end to end", "scalar_mix", "WEAT", "[MASK]", "merge"):
        assert key in report, key
    assert "WRONG" not in run.stdout and "FAILED" not in run.stdout


def test_every_picture_is_named_in_the_report_and_is_a_real_png(quick_run):
    out, _ = quick_run
    report = (out / "report.md").read_text(encoding="utf-8")
    named = set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", report))
    on_disk = {p.name for p in out.glob("*.png")}
    assert named == on_disk
    assert {"bpe_merges.png", "word2vec_pairs.png", "bert_attention.png", "loss_curves.png",
            "contextual_vs_static.png"} <= on_disk
    import matplotlib.image as mpimg

    for name in on_disk:
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
        pixels = mpimg.imread(out / name)
        assert pixels.std() > 0.01, f"{name} is a blank image"


def test_models_and_tokenizers_are_saved_in_formats_that_load(quick_run):
    out, _ = quick_run
    from fastembed.generate import load_generator
    from fastembed.models.hf import load_bert, load_wordpiece
    from fastembed.tokenizers import BPETokenizer

    assert BPETokenizer.load(out / "bpe.json").n_vocab > 256
    model, tok = load_generator(out / "gpt" / "model")
    assert tok.n_vocab == model.config.vocab_size
    bert = load_bert(out / "bert" / "model")
    assert bert.config.num_layers == 4 and load_wordpiece(out / "bert" / "model").vocab_size == bert.config.vocab_size
    assert (out / "corpus.txt").stat().st_size > 500_000


def test_a_rerun_into_the_same_folder_is_allowed_but_a_foreign_folder_is_not(quick_run, tmp_path):
    out, _ = quick_run
    from fastembed.demo import prepare_out

    assert prepare_out(out) == out and not (out / "gpt").exists()    # the demo's own folder: parts cleared
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    run = demo("--quick", "--out", str(foreign))
    assert run.returncode == 1 and "did not write" in run.stderr
    assert (foreign / "thesis.tex").read_text() == "precious"


@pytest.mark.parametrize("case", ["missing", "empty", "binary", "tiny", "directory"])
def test_bad_corpus_fails_before_any_work(tmp_path, case):
    path = tmp_path / "corpus.txt"
    if case == "empty":
        path.write_text("  \n\n")
    elif case == "binary":
        path.write_bytes(b"\xff\xfe\x00 not utf-8 \x80")
    elif case == "tiny":
        path.write_text("A short text. It has two sentences.\n")
    elif case == "directory":
        path.mkdir()
    run = demo("--quick", "--corpus", str(path), "--out", str(tmp_path / "out"), timeout=120)
    want = {"missing": "no such file", "empty": "is empty", "binary": "not UTF-8", "tiny": "too small",
            "directory": "is a directory"}[case]
    assert run.returncode == 1 and want in run.stderr, run.stderr
    assert "[1/7]" not in run.stdout                                  # no step had started


def test_unwritable_output_and_oversized_vocabulary_fail_clearly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = demo("--quick", "--out", str(blocker / "sub"), timeout=120)
    assert run.returncode == 1 and "cannot be written" in run.stderr, run.stderr
    run = demo("--quick", "--out", str(tmp_path / "o"), "--vocab-size", "200000", timeout=300)
    assert run.returncode == 1 and "too small for a BPE vocabulary" in run.stderr, run.stderr
    assert "[2/7]" not in run.stdout
