"""Ctrl-C (SIGINT) during the commands and calls that run native threads: the native work
stops, the threads are joined, and the process exits 130 with one line, never SIGABRT
("terminate called without an active exception" came from a worker thread that was still in
C++ when the interpreter shut down), and leaves no output file behind.

Pretraining and fine-tuning have their own tests (tests/training/test_faults.py,
tests/finetune/test_interrupt.py)."""

from __future__ import annotations

import random

import pytest

from tests._interrupt import check_interrupted, cli_env, interrupt

THREADS = {"OMP_NUM_THREADS": "2"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Plenty of text for word2vec and BPE training to be still busy when the signal comes."""
    rng = random.Random(0)
    words = [f"w{i}x{rng.randrange(10**6)}" for i in range(3000)]
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(60_000):
            f.write(" ".join(rng.choice(words) for _ in range(15)) + "\n")
    return path


def test_word2vec_train(corpus, tmp_path):
    out = tmp_path / "vectors.txt"
    argv = ["word2vec", "train", str(corpus), "-o", str(out), "--epochs", "1000", "--min-count", "1",
            "--workers", "2"]
    status, err = interrupt(argv, r"word2vec \(1000 epochs\): ", cli_env(**THREADS))
    check_interrupted(status, err, "word2vec", tmp_path)
    assert not out.exists()


@pytest.fixture(scope="module")
def many_words(tmp_path_factory):
    """200,000 distinct random words: BPE training has seconds of merging to do."""
    rng = random.Random(1)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randrange(8, 21))) for _ in range(200_000)]
    path = tmp_path_factory.mktemp("words") / "words.txt"
    path.write_text("\n".join(" ".join(words[i:i + 20]) for i in range(0, len(words), 20)) + "\n")
    return path


def test_tokenizer_train(many_words, tmp_path):
    out = tmp_path / "tok.json"
    argv = ["tokenizer", "train", str(many_words), "--vocab-size", "3000000", "-o", str(out)]
    status, err = interrupt(argv, r"BPE merges: ", cli_env(**THREADS))
    check_interrupted(status, err, "tokenizer", tmp_path)
    assert not out.exists()


def test_embed(tmp_path):
    torch = pytest.importorskip("torch")
    from fastembed.models.bert import BertConfig, BertModel
    from fastembed.models.hf import save_bert

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat"]
    torch.manual_seed(0)
    cfg = BertConfig.preset("tiny", vocab_size=len(vocab), hidden_size=64, num_heads=2, intermediate_size=128,
                            max_position=128)
    save_bert(BertModel(cfg), tmp_path / "model", vocab=vocab)
    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(" ".join(["the cat sat on the mat"] * 20) for _ in range(200_000)) + "\n")
    out = tmp_path / "out" / "v.npy"
    out.parent.mkdir()
    argv = ["embed", "--model", str(tmp_path / "model"), "--input", str(lines), "--output", str(out),
            "--batch-size", "8"]
    status, err = interrupt(argv, r"^embed: ", cli_env(**THREADS))
    check_interrupted(status, err, "embed", out.parent)
    assert not out.exists()


# The Python API: the interrupt reaches the caller as KeyboardInterrupt once the native threads
# have stopped; the process can go on (here: trains again, briefly) and exits normally.
API_SCRIPT = """
import sys, time
from fastembed.word2vec import Word2Vec
try:
    Word2Vec(corpus_file=sys.argv[1], epochs=1000, min_count=1, workers=2, vector_size=32)
except KeyboardInterrupt:
    print("caught", file=sys.stderr)
model = Word2Vec([["a", "b", "c"]] * 50, min_count=1, epochs=1, vector_size=8, progress=False)
print("trained again", len(model.wv), file=sys.stderr)
"""


def test_word2vec_api_raises_keyboard_interrupt_and_the_process_goes_on(corpus, tmp_path):
    script = tmp_path / "api.py"
    script.write_text(API_SCRIPT)
    status, err = interrupt([str(corpus)], r"word2vec \(1000 epochs\): ", cli_env(**THREADS), script=script)
    assert status == 0, err
    assert "caught" in err and "trained again 3" in err and "terminate called" not in err, err


def test_demo(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "demo"
    status, err = interrupt(["demo", "--quick", "--out", str(out)], r"\[\d+\.\ds, ", cli_env(**THREADS))
    check_interrupted(status, err, "demo", tmp_path)
