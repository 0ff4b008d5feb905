"""GPTBlocks: windows of max_length + 1, shifted labels, separators, batches, splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fastembed.data import GPTBlocks, write_shards

from .conftest import LINES


def test_labels_are_the_inputs_shifted_by_one():
    tokens = np.arange(1000, dtype=np.uint16)
    blocks = GPTBlocks(tokens, max_length=16, batch_size=4, seed=0)
    assert len(blocks) == (1000 - 1) // 16
    b = blocks.get_batch(3)
    assert b["input_ids"].dtype == torch.int64 and b["input_ids"].shape == (4, 16) == b["labels"].shape
    assert torch.equal(b["labels"], b["input_ids"] + 1)  # the stream counts up
    assert (b["input_ids"][:, 0] % 16 == 0).all()  # windows start at multiples of max_length


def test_every_token_but_the_first_is_a_label_once_per_epoch():
    tokens = np.arange(1 + 16 * 10)
    blocks = GPTBlocks(tokens, max_length=16, batch_size=5, seed=0)
    labels = np.concatenate([blocks.numpy_batch(s)["labels"].ravel() for s in range(2)])
    assert sorted(labels.tolist()) == list(range(1, len(tokens)))


def test_separators_between_documents(bpe):
    docs = LINES[:3]
    blocks = GPTBlocks.from_text(docs, bpe, max_length=8, batch_size=2)
    eot = bpe.special_tokens["<|endoftext|>"]
    stream = np.asarray(blocks.tokens)
    expected = np.concatenate([part for d in docs for part in (bpe.encode(d), [eot])])
    assert (stream == expected).all() and (stream == eot).sum() == 3
    assert any((blocks.window(i) == eot).any() for i in range(len(blocks)))


def test_from_files_splits_documents_at_blank_lines(tmp_path, bpe):
    path = tmp_path / "corpus.txt"
    path.write_text(f"{LINES[0]}\n{LINES[1]}\n\n{LINES[2]}\n", encoding="utf-8")
    blocks = GPTBlocks.from_files(path, bpe, max_length=4, batch_size=1)
    eot = bpe.special_tokens["<|endoftext|>"]
    first = bpe.encode(f"{LINES[0]}\n{LINES[1]}")
    assert (np.asarray(blocks.tokens)[:len(first) + 1] == np.append(first, eot)).all()
    assert (np.asarray(blocks.tokens) == eot).sum() == 2


def test_too_small_corpus_says_how_small():
    with pytest.raises(ValueError, match=r"has 8 tokens; one block of max_length=8 needs 9"):
        GPTBlocks(np.arange(8), max_length=8, batch_size=1)
    assert len(GPTBlocks(np.arange(9), max_length=8, batch_size=1)) == 1


def test_determinism_and_rank_slices():
    blocks = GPTBlocks(np.random.default_rng(0).integers(0, 500, 5000), max_length=32, batch_size=8, seed=5)
    assert all(torch.equal(blocks.get_batch(9)[k], blocks.get_batch(9)[k]) for k in ("input_ids", "labels"))
    assert not torch.equal(blocks.get_batch(9)["input_ids"], blocks.get_batch(10)["input_ids"])
    whole = blocks.get_batch(4)
    parts = [blocks.get_batch(4, rank=r, world_size=4) for r in range(4)]
    assert torch.equal(torch.cat([p["input_ids"] for p in parts]), whole["input_ids"])
    with pytest.raises(ValueError, match="divisible"):
        blocks.get_batch(0, world_size=3)


def test_split_holds_out_the_tail():
    blocks = GPTBlocks(np.arange(1 + 10 * 4), max_length=4, batch_size=2)
    train, dev = blocks.split(0.2)
    assert len(train) == 8 and len(dev) == 2
    assert not set(train.starts.tolist()) & set(dev.starts.tolist())
    assert dev.starts.min() > train.starts.max()
    evals = list(dev.eval_batches())
    assert len(evals) == 1 and evals[0]["input_ids"][:, 0].tolist() == [32, 36]
    assert train.tokens_per_step == 8


def test_token_shards_give_the_same_batches(tmp_path, bpe):
    docs = LINES * 6
    shards = write_shards(docs, bpe, tmp_path, shard_tokens=50, progress=False)
    assert shards.num_shards > 2
    a = GPTBlocks(shards, max_length=8, batch_size=4, seed=1)
    b = GPTBlocks(shards.tokens(), max_length=8, batch_size=4, seed=1)
    for step in range(6):  # windows cross shard boundaries
        assert (a.numpy_batch(step)["input_ids"] == b.numpy_batch(step)["input_ids"]).all()
