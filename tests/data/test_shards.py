"""Token shards on disk: round trip, dtype choice, atomic writes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fastembed.data import TokenShards, encode_documents, write_shards
from fastembed.data import shards as shards_module
from fastembed.tokenizers import WordPieceTokenizer

from .conftest import LINES, SPECIALS


def expected_stream(tokenizer, docs, sep):
    return np.concatenate([part for d in docs for part in (tokenizer.encode(d), [sep])])


def test_round_trip_texts_and_files(tmp_path, bpe):
    eot = bpe.special_tokens["<|endoftext|>"]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n" + LINES[0] + "\n" + LINES[1] + "\n  \n\n" + LINES[2] + "\n", encoding="utf-8")
    shards = write_shards([LINES[3], path, "   ", LINES[4]], bpe, tmp_path / "out", shard_tokens=37, progress=False)
    docs = [LINES[3], LINES[0] + "\n" + LINES[1], LINES[2], LINES[4]]
    want = expected_stream(bpe, docs, eot)
    assert len(shards) == len(want) and shards.num_shards == -(-len(want) // 37)
    assert (shards.tokens() == want).all() and shards.documents == 4
    assert shards.dtype == np.uint16 and shards.separator == eot and shards.vocab_size == bpe.vocab_size
    assert (shards.shard(0) == want[:37]).all() and not shards.shard(0).flags.writeable
    for start, stop in [(0, 0), (5, 80), (36, 38), (0, len(want)), (len(want) - 1, len(want))]:
        assert (shards.slice(start, stop) == want[start:stop]).all()
    with pytest.raises(IndexError):
        shards.slice(0, len(want) + 1)
    assert (encode_documents([LINES[3], path, LINES[4]], bpe) == want).all()
    raw = np.fromfile(tmp_path / "out" / "shard_00000.bin", dtype="<u2")
    assert (raw == want[:37]).all()


def test_no_separator_and_an_explicit_one(tmp_path, wordpiece):
    docs = ["w1 w2 w3", "w4 w5"]
    plain = write_shards(docs, wordpiece, tmp_path / "a", separator=None, progress=False)
    assert plain.tokens().tolist() == [6, 7, 8, 9, 10]  # no [CLS]/[SEP]: plain text ids
    sep = write_shards(docs, wordpiece, tmp_path / "b", separator=wordpiece.sep_token_id, progress=False)
    assert sep.tokens().tolist() == [6, 7, 8, 3, 9, 10, 3]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        write_shards(docs, wordpiece, tmp_path / "c", separator=10**6, progress=False)
    with pytest.raises(ValueError, match="<\\|endoftext\\|>"):
        write_shards(docs, wordpiece, tmp_path / "d", progress=False)


@pytest.mark.parametrize("name", ["bpe", "wordpiece"])
def test_special_token_text_in_a_document_is_text(name, request):
    """Corpus text is data: "[SEP]" or "<|endoftext|>" written in it never becomes a control token."""
    tok = request.getfixturevalue(name)
    doc = "the cat [SEP] sat <|endoftext|> [MASK]"
    stream = encode_documents([doc], tok, separator=None)
    plain = tok([doc], add_special_tokens=False, split_special_tokens=True)["input_ids"][0]
    assert stream.dtype == np.uint32 and stream.tolist() == plain.tolist()
    control = {tok.token_to_id(t) for t in ("[SEP]", "[MASK]", "<|endoftext|>")} - {None}
    assert control and not set(stream.tolist()) & control


def test_uint32_for_vocabularies_beyond_uint16(tmp_path):
    tok = WordPieceTokenizer(SPECIALS + [f"t{i}" for i in range(70_000)])
    shards = write_shards(["t0 t69999"], tok, tmp_path, separator=None, progress=False)
    assert shards.dtype == np.uint32 and shards.tokens().tolist() == [5, 70_004]
    assert json.loads((tmp_path / "index.json").read_text())["dtype"] == "uint32"


def test_missing_and_corrupt_index(tmp_path, bpe):
    with pytest.raises(FileNotFoundError, match="index.json"):
        TokenShards(tmp_path)
    write_shards(LINES, bpe, tmp_path, shard_tokens=40, progress=False)
    index = tmp_path / "index.json"
    good = index.read_text()
    index.write_text(good[: len(good) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        TokenShards(tmp_path)
    index.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a fastembed token shard index"):
        TokenShards(tmp_path)
    index.write_text(good)
    shard = tmp_path / "shard_00001.bin"
    shard.write_bytes(shard.read_bytes()[:-2])
    with pytest.raises(ValueError, match=r"shard_00001.bin has 78 bytes; the index says 40 uint16 tokens = 80"):
        TokenShards(tmp_path)
    shard.unlink()
    with pytest.raises(ValueError, match="missing"):
        TokenShards(tmp_path)


def test_index_is_written_after_every_shard(tmp_path, bpe, monkeypatch):
    seen = []
    write = shards_module.atomic_write_bytes

    def spy(path, data):
        seen.append((Path(path).name, (tmp_path / "index.json").exists()))
        write(path, data)

    monkeypatch.setattr(shards_module, "atomic_write_bytes", spy)
    write_shards(LINES * 3, bpe, tmp_path, shard_tokens=30, progress=False)
    assert len(seen) > 3 and not any(had_index for _, had_index in seen)
    assert (tmp_path / "index.json").exists()


def test_a_crash_leaves_no_index(tmp_path, bpe, monkeypatch):
    """Rewriting a shard set that fails half way leaves no index (not the old one either)."""
    write_shards(LINES, bpe, tmp_path, progress=False)
    monkeypatch.setattr(shards_module, "_CHUNK_BYTES", 10)  # one document per encode_flat call

    class Failing:
        vocab_size, token_to_id = bpe.vocab_size, bpe.token_to_id
        calls = 0

        def encode_flat(self, texts, **kwargs):
            Failing.calls += 1
            if Failing.calls == 3:
                raise RuntimeError("disk full")
            return bpe.encode_flat(texts, **kwargs)

    with pytest.raises(RuntimeError, match="disk full"):
        write_shards(LINES, Failing(), tmp_path, shard_tokens=5, progress=False)
    assert list(tmp_path.glob("shard_*.bin")) and not (tmp_path / "index.json").exists()
    with pytest.raises(FileNotFoundError, match="did not finish"):
        TokenShards(tmp_path)


def test_bad_inputs(tmp_path, bpe):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        write_shards([tmp_path / "nope.txt"], bpe, tmp_path / "out", progress=False)
    with pytest.raises(TypeError, match="pathlib.Path"):
        write_shards([b"bytes"], bpe, tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="shard_tokens"):
        write_shards(LINES, bpe, tmp_path / "out", shard_tokens=0)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        write_shards([bad], bpe, tmp_path / "out", progress=False)


def test_empty_input_gives_an_empty_set(tmp_path, bpe):
    shards = write_shards([], bpe, tmp_path, progress=False)
    assert len(shards) == 0 and shards.num_shards == 0 and len(shards.tokens()) == 0
