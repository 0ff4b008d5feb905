"""Ctrl-C (SIGINT) during the commands and calls that run native threads: the native work
stops, the threads are joined, and the process exits 130 with one line, never SIGABRT
("terminate called without an active exception" came from a worker thread that was still in
C++ when the interpreter shut down), and leaves no output file behind.

Pretraining and fine-tuning have their own tests (tests/training/test_faults.py,
tests/finetune/test_interrupt.py)."""

from __future__ import annotations

import random
import re

import pytest

from tests._interrupt import check_interrupted, cli_env, interrupt
from tests._tiny import save_tiny_bert

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
    pytest.importorskip("torch")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat"]
    save_tiny_bert(tmp_path / "model", vocab, hidden_size=64, num_heads=2, intermediate_size=128, max_position=128)
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


# encode_batch hands the native encoder BATCH_CHUNK texts at a time: Ctrl-C gets through within a
# chunk. The script times one whole batch, then starts it again; the signal comes 1 s later, when
# the native encoder is at work (Python's own preparation of the batch takes a fraction of that).
ENCODE_SCRIPT = """
import sys, time
from fastembed.tokenizers import BPETokenizer
tok = BPETokenizer.train(["hello world the cat sat on the mat"] * 50, vocab_size=280, progress=False)
texts = ["the cat sat on the mat hello world %d" % i for i in range(3_000_000)]
t = time.perf_counter(); tok.encode_batch(texts); whole = time.perf_counter() - t
print(f"again after {whole:.2f}s", file=sys.stderr, flush=True)
t = time.perf_counter()
try:
    tok.encode_batch(texts)
    print("not interrupted", file=sys.stderr)
except KeyboardInterrupt:
    print(f"interrupted after {time.perf_counter() - t:.2f}s of {whole:.2f}s", file=sys.stderr)
"""


def test_encode_batch_stops_within_a_chunk(tmp_path):
    script = tmp_path / "encode.py"
    script.write_text(ENCODE_SCRIPT)
    status, err = interrupt([], r"again after", cli_env(**THREADS), script=script, delay=1.0)
    assert status == 0 and "terminate called" not in err, err
    m = re.search(r"interrupted after ([\d.]+)s of ([\d.]+)s", err)
    if m is None and "not interrupted" in err:
        pytest.skip(f"this machine encodes the whole batch in under a second: {err}")
    assert m, err
    stopped, whole = float(m.group(1)), float(m.group(2))
    assert stopped < 1.0 + 0.5 * (whole - 1.0), err   # within a 4096-text chunk of the signal, not at the end
