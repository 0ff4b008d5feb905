"""WordPieceTokenizer.train: a BERT vocabulary learned with the native BPE trainer, on the
docstrings of a few standard-library modules plus some accented, CJK and emoji text."""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections import Counter

import pytest

from fastembed.tokenizers import WordPieceTokenizer
from fastembed.tokenizers.wordpiece import SPECIALS

MODULES = ["argparse", "collections", "json", "re", "subprocess", "doctest", "textwrap", "functools", "string"]
EXTRA = [  # multi-byte characters: accents (stripped when lower-casing), CJK (words of their own), emoji
    "Café au lait, s'il vous plaît: crème brûlée et naïveté.",
    "東京は日本の首都です。北京は中国の首都です。",
    "Python 🐍 loves Unicode ✓ — “quotes” and ‘more quotes’ … ΑΒΓ αβγ Ωμέγα.",
]
SENTENCES = [
    "Return a new dictionary initialized from an optional positional argument.",
    "The ArgumentParser parses arguments; see the JSONDecoder for details!",
    "Café brûlée: 東京 🐍 naïve “quotes” — αβγ.",
    "Unseen words like zyzzyva and pneumonoultramicroscopic get split into pieces.",
    "",
]


def stdlib_corpus() -> list[str]:
    lines = []
    for name in MODULES:
        m = importlib.import_module(name)
        docs = [m.__doc__ or ""] + [inspect.getdoc(getattr(m, a)) or "" for a in sorted(dir(m)) if not a.startswith("_")]
        for d in docs:
            lines += [ln for ln in d.splitlines() if ln.strip()]
    return lines + EXTRA * 3


def train(texts, **kwargs) -> WordPieceTokenizer:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a corpus that fills the vocabulary warns about nothing
        return WordPieceTokenizer.train(texts, **kwargs)


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return stdlib_corpus()


@pytest.fixture(scope="module")
def tok(corpus) -> WordPieceTokenizer:
    return train(corpus, vocab_size=1000)


def words_of(tok: WordPieceTokenizer, texts: list[str]) -> Counter:
    counts: Counter = Counter()
    for t in texts:
        counts.update(tok.pre_tokenize(t))
    return counts


def rejoin(pieces: list[str]) -> list[str]:
    words: list[str] = []
    for p in pieces:
        if p.startswith("##"):
            words[-1] += p[2:]
        else:
            words.append(p)
    return words


def test_vocabulary_layout(tok, corpus):
    v = tok.vocab
    assert len(v) == 1000 and len(set(v)) == len(v)
    assert v[:5] == list(SPECIALS)
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 1, 2, 3, 4)
    chars = Counter(c for w, n in words_of(tok, corpus).items() for c in w * n)
    alphabet = sorted(c for c, n in chars.items() if n >= 2)
    assert v[5:5 + len(alphabet)] == alphabet  # then the alphabet, sorted
    assert "##a" in v and "##1" in v and "東" in v
    assert "##," not in v and "##東" not in v  # punctuation and CJK are always words of their own
    assert all(" " not in t and "\ufffd" not in t and t != "##" for t in v)
    assert "é" not in "".join(v)  # accents were stripped before training (lowercase=True)


def test_every_character_encodes(tok, corpus):
    counts = words_of(tok, corpus)
    chars = Counter(c for w, n in counts.items() for c in w * n)
    for c, n in chars.items():
        assert (tok.tokenize(c) == ["[UNK]"]) == (n < 2), c  # rarer than min_frequency: [UNK], as in BERT
        assert tok.tokenize("a" + c)[-1] != "[UNK]" or n < 2, c
    # With min_frequency=1 every word of the training text encodes without [UNK].
    tok1 = train(corpus, vocab_size=1000, min_frequency=1)
    ids = tok1.encode(" ".join(corpus), add_special_tokens=False)
    assert tok1.unk_id not in ids.tolist()


def test_frequent_words_are_single_tokens(tok, corpus):
    for word, _ in words_of(tok, corpus).most_common(50):
        assert tok.tokenize(word) == [word]


def test_pieces_rejoin_into_the_words(tok, corpus):
    tok1 = train(corpus, vocab_size=1000, min_frequency=1)
    for t in corpus[::7] + SENTENCES:
        pieces = tok1.convert_ids_to_tokens(tok1.encode(t, add_special_tokens=False))
        assert rejoin(pieces) == tok1.pre_tokenize(t)
        assert tok1.decode(tok1.encode(t)) == " ".join(tok1.pre_tokenize(t))


def test_save_and_reload(tok, tmp_path):
    path = tmp_path / "vocab.txt"
    tok.save(path)
    assert path.read_text(encoding="utf-8").split("\n")[:-1] == tok.vocab
    again = WordPieceTokenizer.from_vocab(path)
    assert again.vocab == tok.vocab
    for s in SENTENCES:
        assert again.encode(s).tolist() == tok.encode(s).tolist()
        assert again.encode(s, SENTENCES[0]).tolist() == tok.encode(s, SENTENCES[0]).tolist()


def test_huggingface_reads_the_same_vocabulary(tok, corpus, tmp_path):
    transformers = pytest.importorskip("transformers")
    tok.save(tmp_path / "vocab.txt")
    # from_pretrained reads vocab.txt in transformers 4 and 5 (5 ignores a vocab_file= argument).
    hf = transformers.BertTokenizerFast.from_pretrained(str(tmp_path), do_lower_case=True)
    assert len(hf) == tok.vocab_size
    for s in SENTENCES:
        assert hf(s)["input_ids"] == tok.encode(s).tolist(), s
        assert hf(s, SENTENCES[1])["input_ids"] == tok.encode(s, SENTENCES[1]).tolist(), s
    lines = corpus[::3]
    assert hf(lines)["input_ids"] == [ids.tolist() for ids in tok.encode_batch(lines)]


def test_training_from_files_equals_training_from_texts(corpus, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("\n".join(corpus[:1000]) + "\n", encoding="utf-8")
    b.write_text("\n".join(corpus[1000:]), encoding="utf-8")
    assert train(None, files=[a, b], vocab_size=500).vocab == train(corpus, vocab_size=500).vocab
    mixed = train(corpus[:1000], files=[b], vocab_size=500)
    assert mixed.vocab == train(corpus, vocab_size=500).vocab


def test_deterministic(corpus):
    assert train(corpus, vocab_size=700).vocab == train(list(corpus), vocab_size=700).vocab


def test_cased_and_accented(corpus):
    tok = train(corpus, vocab_size=1000, lowercase=False)
    assert tok.lowercase is False and tok.strip_accents is False
    assert "A" in tok.vocab and "é" in tok.vocab
    assert "[UNK]" not in tok.tokenize("Café Brûlée")
    assert tok.tokenize("The") == ["The"]


def test_small_corpus_gives_a_smaller_vocabulary():
    with pytest.warns(UserWarning, match=r"has \d+ entries, not vocab_size=500.*min_frequency=2"):
        tok = WordPieceTokenizer.train(["low lower lowest newer newest"] * 5, vocab_size=500)
    assert len(tok.vocab) < 500
    assert tok.tokenize("lowest newer") == ["lowest", "newer"]


def test_custom_special_tokens(corpus):
    specials = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[unused0]", "<doc>")
    tok = train(corpus[:500], vocab_size=300, special_tokens=specials)
    assert tok.vocab[:7] == list(specials)
    assert tok.token_to_id("<doc>") not in tok.encode("<doc>").tolist()  # not an added token: text, as in HF


def test_bad_input(corpus, tmp_path):
    with pytest.raises(ValueError, match=r"vocab_size=20 is too small for this corpus: it needs at least \d+ entries"):
        WordPieceTokenizer.train(corpus, vocab_size=20)
    with pytest.raises(ValueError, match="vocab_size must be at least 6"):
        WordPieceTokenizer.train(corpus, vocab_size=5)
    with pytest.raises(ValueError, match="no training text: pass texts and/or files"):
        WordPieceTokenizer.train(vocab_size=100)
    for empty in ([], ["", "  \t", "\x00\x07"]):
        with pytest.raises(ValueError, match="no training text"):
            WordPieceTokenizer.train(empty, vocab_size=100)
    with pytest.raises(ValueError, match="no character occurs min_frequency=5 times"):
        WordPieceTokenizer.train(["abc"], vocab_size=100, min_frequency=5)
    with pytest.raises(ValueError, match="special token '\\[PAD\\]' is given twice"):
        WordPieceTokenizer.train(corpus, vocab_size=100, special_tokens=SPECIALS + ("[PAD]",))
    with pytest.raises(ValueError, match="lack the mask_token '\\[MASK\\]'"):
        WordPieceTokenizer.train(corpus, vocab_size=100, special_tokens=SPECIALS[:4])
    with pytest.raises(ValueError, match="non-empty strings without white space"):
        WordPieceTokenizer.train(corpus, vocab_size=100, special_tokens=SPECIALS + ("",))
    with pytest.raises(ValueError, match="min_frequency must be at least 1"):
        WordPieceTokenizer.train(corpus, vocab_size=100, min_frequency=0)
    with pytest.raises(TypeError, match="wrap it in a list"):
        WordPieceTokenizer.train("just one string", vocab_size=100)
    with pytest.raises(TypeError, match="vocab_size must be an int"):
        WordPieceTokenizer.train(corpus, vocab_size=100.0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        WordPieceTokenizer.train(files=[tmp_path / "missing.txt"], vocab_size=100)
    with pytest.raises(ValueError, match="line break"):
        WordPieceTokenizer([*SPECIALS, "a\nb"]).save(tmp_path / "vocab.txt")
