"""The old names of max_length (BERT's max_seq_len, GPT's block_size) still work for one release,
with a DeprecationWarning; giving the old and the new name together is a TypeError."""

from __future__ import annotations

import numpy as np
import pytest

from fastembed.data import BertPretrainingData, GPTBlocks, create_instances

from .conftest import LINES, word_documents

STREAM = np.arange(200)
DOCS = [[np.arange(10 * d + 100 * s, 10 * d + 100 * s + 5) for s in range(6)] for d in range(4)]


def instances(**kw):
    return create_instances(DOCS, cls_id=1, sep_id=2, pad_id=0, rng=np.random.default_rng(0), **kw)


def bert_documents(tok, **kw):
    return BertPretrainingData.from_documents(word_documents(6, sentences=4, words=5), tok, batch_size=2, seed=1, **kw)


def bert_file(tok, tmp_path, **kw):
    path = tmp_path / "bert.txt"
    path.write_text("w1 w2 w3.\nw4 w5.\n\nw6 w7.\nw8 w9 w10.\n", encoding="utf-8")
    return BertPretrainingData.from_file(path, tok, batch_size=2, **kw)


def gpt_text(tok, **kw):
    return GPTBlocks.from_text(LINES, tok, batch_size=2, **kw)


def gpt_files(tok, tmp_path, **kw):
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(LINES), encoding="utf-8")
    return GPTBlocks.from_files(path, tok, batch_size=2, **kw)


# name in the messages -> (old keyword, build(tokenizers, tmp_path, **kw))
CASES = {
    "GPTBlocks": ("block_size", lambda t, p, **kw: GPTBlocks(STREAM, batch_size=4, **kw)),
    "GPTBlocks.from_text": ("block_size", lambda t, p, **kw: gpt_text(t["bpe"], **kw)),
    "GPTBlocks.from_files": ("block_size", lambda t, p, **kw: gpt_files(t["bpe"], p, **kw)),
    "create_instances": ("max_seq_len", lambda t, p, **kw: instances(**kw)),
    "BertPretrainingData.from_documents": ("max_seq_len", lambda t, p, **kw: bert_documents(t["wordpiece"], **kw)),
    "BertPretrainingData.from_file": ("max_seq_len", lambda t, p, **kw: bert_file(t["wordpiece"], p, **kw)),
}


def tokens_of(obj) -> np.ndarray:
    """What the object was built from and cut into: the stream for GPT, the packed ids for BERT."""
    if isinstance(obj, GPTBlocks):
        return np.stack([obj.window(i) for i in range(len(obj))])
    return getattr(obj, "instances", obj).ids


@pytest.fixture
def toks(wordpiece, bpe):
    return {"wordpiece": wordpiece, "bpe": bpe}


@pytest.mark.parametrize("where", sorted(CASES))
def test_old_keyword_warns_and_builds_the_same(where, toks, tmp_path):
    old, build = CASES[where]
    new = build(toks, tmp_path, max_length=8)
    with pytest.warns(DeprecationWarning, match=rf"^{where}\({old}=\.\.\.\) is deprecated: use max_length="):
        again = build(toks, tmp_path, **{old: 8})
    assert new.max_length == again.max_length == 8
    assert np.array_equal(tokens_of(new), tokens_of(again))


@pytest.mark.parametrize("where", sorted(CASES))
def test_old_and_new_keyword_together_is_a_type_error(where, toks, tmp_path):
    old, build = CASES[where]
    with pytest.raises(TypeError, match=rf"{where}\(\) got both {old}= and max_length="):
        build(toks, tmp_path, max_length=8, **{old: 8})


@pytest.mark.parametrize("where", ["GPTBlocks", "GPTBlocks.from_text", "GPTBlocks.from_files", "create_instances"])
def test_max_length_is_still_required_where_it_was(where, toks, tmp_path):
    with pytest.raises(TypeError, match=rf"{where}\(\) missing required keyword argument: 'max_length'"):
        CASES[where][1](toks, tmp_path)


def test_bert_default_is_128(wordpiece):
    assert bert_documents(wordpiece).max_length == 128


def test_old_attributes_warn_and_read_max_length(wordpiece):
    blocks = GPTBlocks(STREAM, max_length=8, batch_size=4)
    data = bert_documents(wordpiece, max_length=16)
    for obj, cls, old in [(blocks, "GPTBlocks", "block_size"), (data, "BertPretrainingData", "max_seq_len"),
                          (data.instances, "Instances", "max_seq_len")]:
        with pytest.warns(DeprecationWarning, match=rf"^{cls}\.{old} is deprecated: use \.max_length"):
            assert getattr(obj, old) == obj.max_length
    assert blocks.max_length == 8 and blocks.tokens_per_step == 4 * 8
    assert data.max_length == data.instances.max_length == data.instances.ids.shape[1] == 16
    assert "max_length=8" in repr(blocks) and "max_length=16" in repr(data)
