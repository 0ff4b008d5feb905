"""Fuzzing every tokenizer file loader with mutated valid files: byte flips, truncation, huge
numbers, duplicated lines, random bytes. The only outcome allowed besides loading is a
ValueError that names the file; loading runs in a child process whose address space is capped
at 1 GiB above its start, so a loader that allocates in proportion to a number in the file
fails the test (MemoryError) instead of taking the machine's memory."""

from __future__ import annotations

import base64
import json
import re
import selectors
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ._capped import ROOT
from ._toy_files import gpt2_texts, tiktoken_text, wordpiece_text

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="caps the address space with RLIMIT_AS")

ENC, MERGES = gpt2_texts()
ANSWER_TIMEOUT_S = 20  # one load of a file of a few kB; longer means a loader went quadratic or hung


def _tokenizer_json() -> bytes:
    """A small trained tokenizer's file, as BPETokenizer.save writes it."""
    from fastembed.tokenizers import BPETokenizer

    tok = BPETokenizer.train(["abc the abc thee ab  the"] * 5, vocab_size=262, special_tokens=["<|endoftext|>"],
                             progress=False)
    return json.dumps({"format": "fastembed-bpe", "version": 1, "pattern": tok.pattern,
                       "tokens": [base64.b64encode(tok.decode_single_token_bytes(i)).decode() for i in range(tok.n_vocab)],
                       "rules": tok.rules.tolist(), "special_tokens": tok.special_tokens}).encode()


TOKENIZER_JSON = _tokenizer_json()


def _hf_jsons() -> dict[str, bytes]:
    """HF tokenizer.json files (as save_pretrained writes them) of a small BPE with a template and
    offset trimming, and of a small WordPiece, one JSON entry per line."""
    from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer
    from fastembed.tokenizers.base import Template
    from fastembed.tokenizers.hf import tokenizer_json

    from ._toy_files import WORDPIECE

    bpe = BPETokenizer.train(["abc the abc thee ab  the"] * 5, vocab_size=262, special_tokens=["<|endoftext|>"],
                             progress=False)
    bpe = BPETokenizer([bpe.decode_single_token_bytes(i) for i in range(bpe.n_vocab)], bpe.rules,
                       special_tokens=bpe.special_tokens, trim_offsets=True,
                       template=Template.parse("<|endoftext|> $A", "<|endoftext|> $A <|endoftext|>:1 $B:1"))
    return {name: json.dumps(tokenizer_json(tok), indent=1).encode()
            for name, tok in (("bpe", bpe), ("wordpiece", WordPieceTokenizer(WORDPIECE)))}


HF_JSONS = _hf_jsons()


class Child:
    """The loader process (tests/tokenizers/_loader_child.py): one request, one answer."""

    def __init__(self, module: str = "tests.tokenizers._loader_child") -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", module, str(1 << 30)],
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        assert self._read()["outcome"] == "ready"

    def _read(self) -> dict:
        if not self.sel.select(ANSWER_TIMEOUT_S):
            self.proc.kill()
            pytest.fail(f"the loader gave no answer in {ANSWER_TIMEOUT_S} s")
        line = self.proc.stdout.readline()
        if not line:
            pytest.fail(f"the loader process died (exit {self.proc.wait()}): {self.proc.stderr.read()[-2000:]}")
        return json.loads(line)

    def load(self, loader: str, paths: list[str]) -> dict:
        self.proc.stdin.write(json.dumps({"loader": loader, "paths": paths}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.sel.close()
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def child():
    c = Child()
    yield c
    c.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# ---------------------------------------------------------------------- mutations

HUGE = st.sampled_from(["3" + "0" * 8, str(10**12), str(2**32), str(2**63), "9" * 40, "9" * 5000, "-1", "1e999"])


@st.composite
def mutate(draw, data: bytes) -> bytes:
    """``data`` after one to three mutations."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["flip", "truncate", "huge", "renumber", "duplicate", "random", "splice"]))
        n = len(data)
        pos = draw(st.integers(0, max(n - 1, 0)))
        if kind == "flip" and n:
            data = data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1:]
        elif kind == "truncate":
            data = data[:pos]
        elif kind == "huge":  # a huge number written in at any position
            data = data[:pos] + draw(HUGE).encode() + data[pos:]
        elif kind == "renumber":  # one of the file's numbers replaced by a huge one
            numbers = list(re.finditer(rb"\d+", data))
            if numbers:
                m = numbers[draw(st.integers(0, len(numbers) - 1))]
                data = data[:m.start()] + draw(HUGE).encode() + data[m.end():]
        elif kind == "duplicate":  # a line repeated elsewhere
            lines = data.split(b"\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines.insert(draw(st.integers(0, len(lines))), lines[k])
            data = b"\n".join(lines)
        elif kind == "random":  # a stretch replaced by random bytes
            data = data[:pos] + draw(st.binary(min_size=1, max_size=64)) + data[pos + draw(st.integers(0, 64)):]
        elif kind == "splice":  # the whole file random
            data = draw(st.binary(max_size=300))
    return data


def check(child, loader: str, paths: list) -> None:
    """The child loads the files, or answers a ValueError naming one of them."""
    answer = child.load(loader, [str(p) for p in paths])
    if answer["outcome"] == "ok":
        return
    assert answer["outcome"] == "ValueError", f"{loader}: {answer}"
    assert any(str(p) in answer["message"] for p in paths), f"{loader}: the error names no file: {answer}"


FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data())
def test_tokenizer_json_loader(child, workdir, data):
    path = workdir / "tok.json"
    path.write_bytes(data.draw(mutate(TOKENIZER_JSON)))
    check(child, "tokenizer json", [path])


@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(HF_JSONS)))
def test_hf_tokenizer_json_loader(child, workdir, data, kind):
    path = workdir / "hf.json"
    path.write_bytes(data.draw(mutate(HF_JSONS[kind])))
    check(child, "hf tokenizer.json", [path])


@FUZZ
@given(data=st.data())
def test_tiktoken_loader(child, workdir, data):
    path = workdir / "t.tiktoken"
    path.write_bytes(data.draw(mutate(tiktoken_text().encode())))
    check(child, "tiktoken", [path])


@FUZZ
@given(data=st.data(), which=st.sampled_from(["encoder.json", "vocab.bpe"]))
def test_gpt2_loader(child, workdir, data, which):
    enc, merges = workdir / "encoder.json", workdir / "vocab.bpe"
    enc.write_text(ENC, encoding="utf-8")
    merges.write_text(MERGES, encoding="utf-8")
    target = enc if which == "encoder.json" else merges
    target.write_bytes(data.draw(mutate(target.read_bytes())))
    check(child, "gpt2", [enc, merges])


@FUZZ
@given(data=st.data())
def test_wordpiece_vocab_loader(child, workdir, data):
    path = workdir / "vocab.txt"
    path.write_bytes(data.draw(mutate(wordpiece_text().encode())))
    check(child, "vocab.txt", [path])

