"""Tokenizers survive pickle, copy and deepcopy (their native tables are rebuilt from what they
were made of), and so go to multiprocessing workers under fork, spawn and forkserver."""

from __future__ import annotations

import copy
import functools
import multiprocessing
import pickle

import numpy as np
import pytest

from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer

from . import _pool_worker
from ._pool_worker import TEXTS
from ._toy_files import WORDPIECE, tiktoken_text, write

COPIES = {"pickle": lambda t: pickle.loads(pickle.dumps(t)), "copy": copy.copy, "deepcopy": copy.deepcopy}


@pytest.fixture(scope="module")
def wordpiece():
    # Options away from the defaults, so a copy that forgot one encodes differently.
    return WordPieceTokenizer(WORDPIECE + ["Un", "##affable"], lowercase=False, max_chars_per_word=9,
                              unk_token="!", mask_token="un")


def bpe_kinds(trained, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tok")
    gaps = BPETokenizer.from_tiktoken(write(tmp, "t.tiktoken", tiktoken_text()), special_tokens={"<|endoftext|>": 270})
    vocab = [trained.decode_single_token_bytes(i) for i in range(trained.n_vocab)]
    custom = BPETokenizer(vocab, trained.rules, pattern=r"\w+|\W", special_tokens=trained.special_tokens)
    return {"trained": trained, "tiktoken with unused ids": gaps, "custom pattern": custom}


@pytest.mark.parametrize("how", COPIES)
def test_bpe_copies_encode_identically(trained, tmp_path_factory, how):
    for name, tok in bpe_kinds(trained, tmp_path_factory).items():
        other = COPIES[how](tok)
        assert other is not tok and other.n_vocab == tok.n_vocab and other.pattern == tok.pattern, name
        assert other.special_tokens == tok.special_tokens and np.array_equal(other.rules, tok.rules), name
        for text in TEXTS:
            assert np.array_equal(other.encode(text, allowed_special="all"), tok.encode(text, allowed_special="all")), \
                (name, text)
        assert other.decode(tok.encode(TEXTS[2])) == TEXTS[2]


def test_bpe_copy_keeps_the_training_trace():
    tok = BPETokenizer.train(["low lower lowest"] * 10, vocab_size=260, trace=True, progress=False)
    assert pickle.loads(pickle.dumps(tok)).trace == tok.trace and tok.trace


@pytest.mark.parametrize("how", COPIES)
def test_wordpiece_copies_encode_identically(wordpiece, how):
    other = COPIES[how](wordpiece)
    assert other is not wordpiece and other.vocab == wordpiece.vocab
    assert other.special_tokens == wordpiece.special_tokens and other.lowercase is False
    for text in TEXTS + ["Unaffable unaffablee", "pair"]:
        assert np.array_equal(other.encode(text, "Un"), wordpiece.encode(text, "Un")), text
    assert other.tokenize("Unaffable Unaffablee") == ["Un", "##affable", "!"]  # 10 chars > 9: unk_token "!"


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_pool_workers_get_working_tokenizers(trained, wordpiece, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} start method here")
    expected = [_pool_worker.encode_both((trained, wordpiece, t)) for t in TEXTS]
    with multiprocessing.get_context(method).Pool(2) as pool:
        assert pool.map(_pool_worker.encode_both, [(trained, wordpiece, t) for t in TEXTS]) == expected
        # A bound method (with its tokenizer) as the function itself.
        got = pool.map(functools.partial(trained.encode, allowed_special="all"), TEXTS)
        assert [g.tolist() for g in got] == [e[0] for e in expected]
        assert [g.tolist() for g in pool.map(wordpiece.encode, TEXTS)] == [e[1] for e in expected]
