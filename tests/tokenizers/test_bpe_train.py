"""BPE training: the native trainer against the reference, inputs, tie-breaks and bad input."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from fastembed import _native
from fastembed.tokenizers import BPETokenizer, count_words
from fastembed.tokenizers import _reference as ref

_C = _native._C


def native_merges(word_counts: dict[bytes, int], num_merges: int, min_frequency: int = 1) -> list[tuple]:
    words = list(word_counts)
    counts = np.array([word_counts[w] for w in words], dtype=np.int64)
    return [tuple(row) for row in _C.bpe_train(words, counts, num_merges, min_frequency).tolist()]


def synthetic_counts(seed: int, alphabet: str, n_words: int) -> dict[bytes, int]:
    rng = random.Random(seed)
    words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9))) for _ in range(n_words)]
    return {w.encode(): rng.randint(1, 5) for w in words}


@pytest.mark.parametrize("seed,alphabet", [(0, "ab"), (1, "abc"), (2, "abcdefgh"), (3, "aaab"), (4, "éa中")])
def test_native_equals_reference_on_synthetic_corpora(seed, alphabet):
    # Tiny alphabets give long repeated runs ("aaaa"), overlapping pairs and many count ties.
    wc = synthetic_counts(seed, alphabet, 300)
    assert native_merges(wc, 120) == ref.train(wc, 120)


def test_native_equals_reference_on_real_text(small_corpus):
    wc = Counter(p for line in small_corpus for p in ref.pretokenize(line))
    assert native_merges(dict(wc), 250, 2) == ref.train(dict(wc), 250, 2)


def test_native_counting_equals_reference(small_corpus):
    pieces, counts = count_words(small_corpus, progress=False).items()
    expected = Counter(p for line in small_corpus for p in ref.pretokenize(line))
    assert dict(zip(pieces, counts.tolist())) == dict(expected)
    assert pieces == sorted(pieces)


def test_ties_go_to_the_smallest_pair():
    # (a,b), (c,d) and (x,y) all occur twice: the smallest ids win, one after the other.
    wc = {b"xy": 2, b"cd": 2, b"ab": 2}
    assert native_merges(wc, 3) == [(97, 98, 256, 2), (99, 100, 257, 2), (120, 121, 258, 2)]


def test_overlapping_runs_merge_left_to_right():
    # "aaaaa": pair (a,a) occurs 4 times (overlaps counted); merging gives [aa, aa, a]. Then
    # (aa, aa) and (aa, a) tie at 1 and the smaller pair (256, 97) wins: [aa, aaa], then [aaaaa].
    expected = [(97, 97, 256, 4), (256, 97, 257, 1), (256, 257, 258, 1)]
    assert native_merges({b"aaaaa": 1}, 5) == expected == ref.train({b"aaaaa": 1}, 5)


def test_min_frequency_stops_training():
    merges = native_merges({b"ab": 3, b"cd": 1}, 10, min_frequency=2)
    assert merges == [(97, 98, 256, 3)]


def test_texts_files_and_counts_train_the_same(tmp_path, small_corpus):
    path = tmp_path / "corpus.txt"
    path.write_text("".join(small_corpus), encoding="utf-8")
    pieces, counts = count_words(small_corpus, progress=False).items()
    a = BPETokenizer.train(small_corpus, vocab_size=400, progress=False)
    b = BPETokenizer.train(files=[path], vocab_size=400, progress=False)
    c = BPETokenizer.train(counts=dict(zip(pieces, counts.tolist())), vocab_size=400, progress=False)
    assert np.array_equal(a.rules, b.rules) and np.array_equal(a.rules, c.rules)


def test_training_on_counts_in_place_equals_training_on_their_items(small_corpus):
    wc = count_words(small_corpus, progress=False)
    pieces, counts = wc.items()
    want = _C.bpe_train(pieces, counts, 150, 2)
    got = _C.bpe_train_counts(wc, 150, 2)
    assert np.array_equal(got, want)
    assert len(wc) == 0                      # the table moved into training


def test_non_ascii_texts_count_as_their_utf8(small_corpus):
    texts = ["naïve café ", "naïve ", "über alles ", "日本語 日本語 "]
    from_str = count_words(texts, progress=False).items()
    from_bytes = count_words([t.encode("utf-8") for t in texts], progress=False).items()
    assert from_str[0] == from_bytes[0] and np.array_equal(from_str[1], from_bytes[1])
    assert b" caf\xc3\xa9" in from_str[0]


def test_counts_merge_like_a_map_reduce(small_corpus):
    half = len(small_corpus) // 2
    left, right = count_words(small_corpus[:half], progress=False), count_words(small_corpus[half:], progress=False)
    left.merge(right)
    whole = count_words(small_corpus, progress=False)
    assert left.items()[0] == whole.items()[0]
    assert np.array_equal(left.items()[1], whole.items()[1])


def test_training_does_not_depend_on_thread_count(small_corpus, restore_threads):
    _native.set_num_threads(1)
    one = BPETokenizer.train(small_corpus, vocab_size=500, progress=False)
    _native.set_num_threads(max(2, restore_threads))
    many = BPETokenizer.train(small_corpus, vocab_size=500, progress=False)
    assert np.array_equal(one.rules, many.rules)


def test_trace_records_each_merge():
    tok = BPETokenizer.train(["hug hug hug pug pun bun"], vocab_size=260, trace=True, min_frequency=1, progress=False)
    first = tok.trace[0]
    assert first == {"pair": (117, 103), "token": 256, "bytes": b"ug", "count": 4}
    assert [s["token"] for s in tok.trace] == list(range(256, 256 + len(tok.trace)))
    assert all(tok.decode_single_token_bytes(s["token"]) == s["bytes"] for s in tok.trace)


def test_special_tokens_take_the_last_ids(small_corpus):
    tok = BPETokenizer.train(small_corpus, vocab_size=300, special_tokens=["<|a|>", "[SEP]"], progress=False)
    assert tok.n_vocab == 300
    assert tok.special_tokens == {"<|a|>": 298, "[SEP]": 299}


def test_progress_bar_is_drawn_when_asked(small_corpus, capsys):
    BPETokenizer.train(small_corpus, vocab_size=300, progress=True)
    err = capsys.readouterr().err
    assert "BPE merges" in err and "100.0%" in err


def test_cancelled_native_call_stops():
    progress = _C.Progress()
    progress.cancel()
    with pytest.raises(RuntimeError, match="cancelled"):
        _C.bpe_train([b"ab" * i for i in range(2, 40)], np.ones(38, dtype=np.int64), 30, 1, progress)


@pytest.mark.parametrize("kwargs,exc,message", [
    (dict(texts=[], vocab_size=300), ValueError, "no training text"),
    (dict(texts=["", ""], vocab_size=300), ValueError, "no training text"),
    (dict(texts=["abc"], vocab_size=255), ValueError, r"vocab_size must be at least 256 .* got 255"),
    (dict(texts=["abc"], vocab_size=256, special_tokens=["<s>"]), ValueError, "at least 256 .* 1 special"),
    (dict(texts=["abc"], vocab_size=300, special_tokens=["<s>", "<s>"]), ValueError, "given twice"),
    (dict(texts=["abc"], vocab_size=300, special_tokens=["hello"]), ValueError, "single piece of ordinary text"),
    (dict(texts=["abc"], vocab_size=300, special_tokens=[""]), ValueError, "non-empty"),
    (dict(texts="abc", vocab_size=300), TypeError, "single string"),
    (dict(texts=[1, 2], vocab_size=300), TypeError, "str or bytes, got int"),
    (dict(texts=["abc"], vocab_size=300.0), TypeError, "vocab_size must be an int"),
    (dict(texts=["abc"], vocab_size=300, pattern=""), ValueError, "pattern must be"),
    (dict(counts={"ab": -1}, vocab_size=300), ValueError, r"'count' must be in \[0"),
    (dict(counts=[("ab", 1)], vocab_size=300), TypeError, "mapping"),
    (dict(files=["/nonexistent/corpus.txt"], vocab_size=300), FileNotFoundError, "does not exist"),
])
def test_bad_training_input_is_a_clear_error(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        BPETokenizer.train(progress=False, **kwargs)


def test_custom_pattern_path_agrees_with_the_native_scanner(small_corpus):
    # The GPT-2 pattern given as a plain regular expression takes the slower Python path.
    custom = BPETokenizer.train(small_corpus, vocab_size=500, pattern=ref.GPT2_PATTERN, progress=False)
    native = BPETokenizer.train(small_corpus, vocab_size=500, pattern="gpt2", progress=False)
    assert np.array_equal(custom.rules, native.rules)
    for line in small_corpus[:300]:
        assert np.array_equal(custom.encode(line), native.encode(line))


def test_custom_pattern_round_trips_and_saves(small_corpus, tmp_path):
    tok = BPETokenizer.train(small_corpus, vocab_size=400, pattern=r"\w+|[^\w\s]+", progress=False)
    text = "Hello,  world!\n\tbytes \xff"  # white space matches nothing: kept as its own pieces
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode_bytes(tok.encode(b"a\xffb")) == b"a\xffb"
    tok.save(tmp_path / "t.json")
    assert np.array_equal(BPETokenizer.load(tmp_path / "t.json").encode(text), tok.encode(text))


def test_invalid_custom_pattern_is_a_value_error():
    with pytest.raises(ValueError, match="not a valid regular expression"):
        BPETokenizer.train(["abc"], vocab_size=300, pattern="(unclosed", progress=False)
