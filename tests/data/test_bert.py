"""BertPretrainingData: batches as a pure function of (seed, step), rank slices, trimming, splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastembed.data import BertPretrainingData, IGNORE_INDEX

from .conftest import word_documents

KEYS = ["attention_mask", "input_ids", "labels", "next_sentence_label", "token_type_ids"]


@pytest.fixture(scope="module")
def data(wordpiece):
    docs = word_documents(40, sentences=8, words=5)
    return BertPretrainingData.from_documents(docs, wordpiece, max_length=32, batch_size=8, seed=3)


def same(x: dict, y: dict) -> bool:
    return sorted(x) == sorted(y) and all(torch.equal(x[k], y[k]) for k in x)


def test_batch_keys_dtypes_and_layout(data, wordpiece):
    b = data.get_batch(0)
    assert sorted(b) == KEYS and all(v.dtype == torch.int64 for v in b.values())
    ids, types, att, labels = (b[k].numpy() for k in ("input_ids", "token_type_ids", "attention_mask", "labels"))
    assert ids.shape[0] == 8 and b["next_sentence_label"].shape == (8,)
    lengths = att.sum(axis=1)
    assert ids.shape[1] == lengths.max()  # trimmed to the longest row
    for row in range(8):
        n = lengths[row]
        assert (att[row, :n] == 1).all() and (att[row, n:] == 0).all()
        assert (ids[row, n:] == wordpiece.pad_id).all() and ids[row, 0] == wordpiece.cls_id
        seps = np.flatnonzero(ids[row] == wordpiece.sep_id)
        first_sep = seps[0] if labels[row, seps[0]] == IGNORE_INDEX else None
        assert first_sep is not None and ids[row, n - 1] == wordpiece.sep_id
        # [CLS] A [SEP] is segment 0, B [SEP] segment 1, padding 0
        assert (types[row, :first_sep + 1] == 0).all() and (types[row, first_sep + 1:n] == 1).all()
        assert (types[row, n:] == 0).all()
    assert (labels[att == 0] == IGNORE_INDEX).all() and (labels[:, 0] == IGNORE_INDEX).all()
    assert ((labels != IGNORE_INDEX).sum(axis=1) >= 1).all()


def test_same_step_same_batch_and_steps_differ(data):
    assert same(data.get_batch(5), data.get_batch(5))
    assert not same(data.get_batch(5), data.get_batch(6))


def test_resuming_rebuilds_the_same_batches(wordpiece, data):
    docs = word_documents(40, sentences=8, words=5)
    again = BertPretrainingData.from_documents(docs, wordpiece, max_length=32, batch_size=8, seed=3)
    for step in (0, 7, 123):
        assert same(again.get_batch(step), data.get_batch(step))
    other = BertPretrainingData.from_documents(docs, wordpiece, max_length=32, batch_size=8, seed=4)
    assert not same(other.get_batch(0), data.get_batch(0))


@pytest.mark.parametrize("world_size", [2, 4, 8])
def test_rank_slices_make_the_global_batch(data, world_size):
    for step in (0, 11):
        whole = data.get_batch(step)
        parts = [data.get_batch(step, rank=r, world_size=world_size) for r in range(world_size)]
        assert all(p["input_ids"].shape == (8 // world_size, whole["input_ids"].shape[1]) for p in parts)
        assert same({k: torch.cat([p[k] for p in parts]) for k in whole}, whole)


def test_rank_errors(data):
    with pytest.raises(ValueError, match="not divisible by world_size 3"):
        data.get_batch(0, world_size=3)
    with pytest.raises(ValueError, match="rank"):
        data.get_batch(0, rank=2, world_size=2)
    with pytest.raises(ValueError, match="step"):
        data.get_batch(-1)


def test_masking_is_dynamic(data):
    """An instance met again in the next epoch gets a fresh mask (RoBERTa's dynamic masking)."""
    whole = BertPretrainingData(data.instances, vocab_size=data.vocab_size, mask_id=data.mask_id,
                                batch_size=len(data), seed=0)  # one step = one epoch
    labels = []
    for step in (0, 1):
        b = whole.numpy_batch(step)["labels"]
        labels.append(b[np.argsort(whole.order.indices(step))])  # rows in instance order
    assert (labels[0] != labels[1]).any(axis=1).mean() > 0.9


def test_split_is_disjoint_and_keeps_settings(data):
    train, dev = data.split(0.2)
    assert len(train) + len(dev) == len(data) and abs(len(dev) - 0.2 * len(data)) <= 1
    rows = lambda d: {tuple(d.instances.ids[i].tolist()) for i in range(len(d))}  # noqa: E731
    assert not rows(train) & rows(dev)
    assert dev.batch_size == data.batch_size and dev.seed == data.seed
    batches = list(dev.eval_batches())
    assert sum(len(b["input_ids"]) for b in batches) == len(dev)
    assert same(batches[0], next(dev.eval_batches(1)))  # fixed masks: every evaluation alike
    with pytest.raises(ValueError, match="dev_fraction"):
        data.split(1.0)


def test_sizes(data):
    assert data.tokens_per_step == 8 * 32 and data.max_length == 32 and len(data) == len(data.instances)
    assert "BertPretrainingData(" in repr(data)


def test_bpe_tokenizer_and_swap(bpe):
    from .conftest import LINES

    docs = [LINES[k:] + LINES[:k] for k in range(5)]
    data = BertPretrainingData.from_documents(docs, bpe, max_length=24, nsp="swap", batch_size=4, seed=0)
    b = data.numpy_batch(0)
    assert (b["input_ids"][:, 0] == bpe.special_tokens["[CLS]"]).all()
    specials = list(bpe.special_tokens.values())
    chosen = b["labels"] != IGNORE_INDEX
    assert not np.isin(b["labels"][chosen], specials).any()
    assert not np.isin(data.random_ids, specials).any()


def test_from_file(tmp_path, wordpiece):
    path = tmp_path / "bert.txt"
    path.write_text("w1 w2 w3.\nw4 w5.\n\nw6 w7.\nw8 w9 w10.\n", encoding="utf-8")
    data = BertPretrainingData.from_file(path, wordpiece, max_length=16, batch_size=2)
    assert len(data) >= 2


@pytest.mark.data
def test_real_bert_vocabulary(bert_uncased):
    docs = [["The cat sat on the mat.", "It was warm there.", "Then it left."],
            ["Stocks fell sharply on Monday.", "Investors were worried.", "Markets recovered later."]]
    data = BertPretrainingData.from_documents(docs * 4, bert_uncased, max_length=32, batch_size=4, seed=1)
    b = data.numpy_batch(0)
    assert (b["input_ids"][:, 0] == 101).all()  # [CLS]; [SEP] = 102, [MASK] = 103, [PAD] = 0
    row = b["input_ids"][0][b["attention_mask"][0] == 1]
    text = bert_uncased.decode(row, skip_special_tokens=False)
    assert text.startswith("[CLS] ") and text.endswith(" [SEP]") and text.count("[SEP]") == 2
    # random replacements never draw the specials
    assert not np.isin(data.random_ids, [0, 100, 101, 102, 103]).any()


def test_no_text_no_instances(wordpiece):
    with pytest.raises(ValueError, match="no instances"):
        BertPretrainingData.from_documents([[""], []], wordpiece, nsp="swap")
