"""Extractive QA: windows over long contexts (doc_stride), answer positions per window, counted
(never silent) answer problems, span decoding that stays valid for any scores, and offsets that
give back the exact answer text on real XQuAD questions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastembed.finetune.qa import answer_tokens, best_span, decode_answers, encode_qa, locate_answer
from fastembed.finetune.readers import Answer, QAExample, read_squad

CONTEXT = ("john smith lives in paris . paris is the capital of france . the river in the city was good . "
           "who works in the city ? a film plot was very bad .")


def qa(id, question, answer, start=None, context=CONTEXT):
    return QAExample(id, question, context, [Answer(answer, context.index(answer) if start is None else start)])


def test_windows_cover_the_context_and_target_the_answer(tiny_tok):
    ex = [qa("q1", "who lives in paris ?", "john smith"), qa("q2", "what is the capital of france ?", "paris", 28)]
    features, report = encode_qa(ex, tiny_tok, max_length=20, doc_stride=5, max_query_length=8)
    ids = tiny_tok.encode(CONTEXT, add_special_tokens=False)
    for n, e in enumerate(ex):
        rows = [f for f in features if f["example_index"] == n]
        assert len(rows) > 2                                           # a long context: several windows
        seen = set()
        for f in rows:
            assert len(f["input_ids"]) <= 20
            assert f["input_ids"][0] == tiny_tok.cls_token_id and f["input_ids"][-1] == tiny_tok.sep_token_id
            ctx = np.flatnonzero(f["context_mask"])
            assert bool((f["token_type_ids"][ctx] == 1).all()) and f["token_type_ids"][0] == 0
            seen |= {tuple(o) for o in f["offsets"][ctx]}
            s, t = f["start_positions"], f["end_positions"]
            if s:                                                      # the answer is inside: its text
                assert e.context[f["offsets"][s, 0]:f["offsets"][t, 1]] == e.answers[0].text
            else:
                assert t == 0
        assert len(seen) == len(ids)                                   # every context token in some window
        assert sum(f["start_positions"] > 0 for f in rows) >= 1
    assert report["answers_not_found"] == 0 and report["answers_relocated"] == 0


def test_answer_problems_are_counted(tiny_tok):
    ex = [qa("moved", "what is the capital of france ?", "paris", start=3),   # wrong answer_start
          qa("absent", "who ?", "london", start=0),                          # not in the context at all
          qa("ok", "who lives in paris ?", "john smith")]
    features, report = encode_qa(ex, tiny_tok, max_length=64, doc_stride=16, max_query_length=8)
    assert report["answers_relocated"] == 1 and report["answers_not_found"] == 1
    assert report["not_found"] == ["absent"]
    assert any("not in their context" in m and "absent" in m for m in report["messages"])
    assert {f["example_index"] for f in features} == {0, 2}            # left out of training, and said so
    assert locate_answer(CONTEXT, "paris", 3) == (20, "relocated")      # the occurrence nearest to 3
    dev, _ = encode_qa(ex, tiny_tok, max_length=64, doc_stride=16, max_query_length=8, train=False)
    assert {f["example_index"] for f in dev} == {0, 1, 2}               # dev keeps every question


def test_long_answers_and_bad_settings(tiny_tok):
    ex = [qa("long", "what ?", "paris is the capital of france")]
    _, report = encode_qa(ex, tiny_tok, max_length=10, doc_stride=2, max_query_length=4)
    assert report["answers_in_no_window"] == 1                           # 6 tokens, windows of 10 - 2 - 3
    with pytest.raises(ValueError, match="doc_stride"):
        encode_qa(ex, tiny_tok, max_length=12, doc_stride=9, max_query_length=4)
    with pytest.raises(ValueError, match="no room for context"):
        encode_qa(ex, tiny_tok, max_length=8, max_query_length=6)
    q = qa("q", "what is the capital of france and the river in the city ?", "paris")
    _, report = encode_qa([q], tiny_tok, max_length=32, doc_stride=8, max_query_length=4)
    assert report["questions_truncated"] == 1


def test_a_tokenizer_without_cls_and_sep_is_refused():
    from fastembed.tokenizers import BPETokenizer

    bpe = BPETokenizer.train([CONTEXT] * 5, vocab_size=270, progress=False)
    with pytest.raises(ValueError, match=r"\[CLS\] question \[SEP\] context \[SEP\] rows; BPETokenizer has no"):
        encode_qa([qa("q", "who ?", "paris")], bpe)


def test_context_offsets_are_the_tokenizers(tiny_tok):
    """Each row's context offsets are the tokenizer's (``return_offsets=True``), window by window."""
    ex = [qa("q1", "who lives in paris ?", "john smith")]
    features, _ = encode_qa(ex, tiny_tok, max_length=20, doc_stride=5, max_query_length=8)
    enc = tiny_tok(CONTEXT, add_special_tokens=False, return_offsets=True)
    ids, offsets = enc["input_ids"][0].tolist(), enc["offset_mapping"][0].tolist()
    for f in features:
        ctx = np.flatnonzero(f["context_mask"])
        got = f["offsets"][ctx].tolist()
        start = offsets.index(got[0])
        assert got == offsets[start:start + len(got)] and f["input_ids"][ctx].tolist() == ids[start:start + len(got)]


def brute_force(start, end, mask, L):
    best = (-np.inf, -1, -1)
    for s in range(len(start)):
        for e in range(s, min(s + L, len(start))):
            if mask[s] and mask[e] and start[s] + end[e] > best[0]:
                best = (start[s] + end[e], s, e)
    return best


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 24).flatmap(lambda T: st.tuples(
    st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=T, max_size=T),
    st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=T, max_size=T),
    st.integers(1, T - 1), st.integers(1, T), st.integers(1, 8))))
def test_best_span_is_always_valid(args):
    start, end, a, b, L = args
    T = len(start)
    mask = np.zeros(T, bool)
    mask[a:max(a + 1, b)] = True                       # the context: a contiguous run after [CLS]
    score, s, e = best_span(np.array(start), np.array(end), mask, L)
    assert s <= e and mask[s] and mask[e] and e - s + 1 <= L
    assert score == pytest.approx(brute_force(start, end, mask, L)[0])


def test_best_span_picks_across_windows(tiny_tok):
    ex = [qa("q1", "who lives in paris ?", "john smith")]
    features, _ = encode_qa(ex, tiny_tok, max_length=20, doc_stride=5, max_query_length=8, train=False)
    starts = [np.zeros(len(f["input_ids"])) for f in features]
    ends = [np.zeros(len(f["input_ids"])) for f in features]
    k = len(features) - 2                                   # the last window but one says "the city ?" strongly
    pos = np.flatnonzero(features[k]["context_mask"])
    text = [ex[0].context[o0:o1] for o0, o1 in features[k]["offsets"][pos]]
    i = len(text) - 1 - text[::-1].index("city")          # "the city ?" near the end
    starts[k][pos[i - 1]], ends[k][pos[i]] = 10.0, 10.0
    starts[k][0] = ends[k][0] = 100.0                      # [CLS] is never an answer
    assert decode_answers(ex, features, starts, ends)["q1"] == "the city"
    assert decode_answers(ex, features, starts, ends, max_answer_length=1)["q1"] in ("the", "city")
    assert best_span(np.zeros(4), np.zeros(4), np.zeros(4, bool), 3) == (float("-inf"), -1, -1)


@pytest.mark.data
def test_xquad_offsets_give_back_the_answer_text(shared_data, bert_tok):
    examples = read_squad(shared_data / "qa" / "xquad" / "xquad.en.json")
    assert len(examples) == 1190
    cache, mismatched = {}, []
    for ex in examples:
        a = ex.answers[0]
        assert locate_answer(ex.context, a.text, a.start) == (a.start, "exact")
        if ex.context not in cache:
            cache[ex.context] = bert_tok(ex.context, add_special_tokens=False, return_offsets=True)["offset_mapping"][0]
        off = cache[ex.context]
        s, e = answer_tokens(off, a.start, a.start + len(a.text))
        got = ex.context[off[s, 0]:off[e, 1]]
        if got != a.text:
            mismatched.append((a.text, got))
    # One gold answer ends inside a number: '... (2,70' for '(2,700 ...'; the tokens can only give the whole number.
    assert mismatched == [("7,000,000 square kilometres (2,70", "7,000,000 square kilometres (2,700")]
    features, report = encode_qa(examples[:200], bert_tok, max_length=128, doc_stride=48)
    assert report["answers_not_found"] == 0 and len(features) > 200      # long contexts split into windows
    for f in features:
        if f["start_positions"]:
            ex = examples[f["example_index"]]
            text = ex.context[f["offsets"][f["start_positions"], 0]:f["offsets"][f["end_positions"], 1]]
            assert text == ex.answers[0].text or ex.answers[0].text in text
