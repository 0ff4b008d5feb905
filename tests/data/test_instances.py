"""NSP / sentence-order instances: labels, segments, truncation, where negatives come from.

The corpus for most tests has token ids that are consecutive in reading order across a whole
document, so "B continues A" is just "the ids run on without a gap".
"""

from __future__ import annotations

import numpy as np
import pytest

from fastembed.data import create_instances, truncate_pair
from fastembed.data.instances import truncation_counts

CLS, SEP, PAD = 1, 2, 0


def counting_corpus(n_docs=30, n_sent=12, sent_len=(3, 9), seed=0):
    """Documents of sentences whose ids count up: doc d owns a range of ids of its own."""
    rng = np.random.default_rng(seed)
    docs, next_id, owner = [], 10, {}
    for d in range(n_docs):
        doc = []
        for _ in range(n_sent):
            n = int(rng.integers(*sent_len))
            doc.append(np.arange(next_id, next_id + n))
            next_id += n
        owner.update({i: d for i in range(int(doc[0][0]), next_id)})
        docs.append(doc)
    return docs, owner


def build(docs, nsp, seed=0, max_length=64, short_seq_prob=0.1):
    return create_instances(docs, max_length=max_length, cls_id=CLS, sep_id=SEP, pad_id=PAD,
                            rng=np.random.default_rng(seed), short_seq_prob=short_seq_prob, nsp=nsp)


def runs_on(x: np.ndarray) -> bool:
    return bool((np.diff(x) == 1).all())


@pytest.mark.parametrize("nsp", ["random", "swap"])
def test_layout_and_segment_ids(nsp):
    docs, _ = counting_corpus()
    inst = build(docs, nsp)
    assert len(inst) > 50 and inst.ids.shape == (len(inst), 64)
    for i in range(len(inst)):
        row, n, s = inst.ids[i], inst.lengths[i], inst.segment_start[i]
        a, b = inst.segments(i)
        assert row[0] == CLS and row[s - 1] == SEP and row[n - 1] == SEP
        assert len(a) >= 1 and len(b) >= 1 and n == len(a) + len(b) + 3 <= 64
        assert (row[n:] == PAD).all()
        assert not np.isin(np.concatenate([a, b]), [CLS, SEP, PAD]).any()


@pytest.mark.parametrize("nsp", ["random", "swap"])
def test_labels_are_balanced(nsp):
    docs, _ = counting_corpus(n_docs=300, n_sent=20)
    inst = build(docs, nsp, max_length=32, short_seq_prob=0.0)
    assert len(inst) > 1000
    # std of the mean ~0.015. In "random" mode a chunk of one sentence has no B of its own and
    # is always a negative (as in BERT's script): here ~1 document in 5 ends with one, which
    # leans the share of negatives a few points above 1/2.
    high = 0.05 if nsp == "swap" else 0.09
    assert 0.45 < inst.labels.mean() < 0.5 + high, inst.labels.mean()


def test_random_mode_positives_continue_and_negatives_come_from_another_document():
    docs, owner = counting_corpus()
    inst = build(docs, "random", max_length=512)  # long enough that nothing is truncated
    for i in range(len(inst)):
        a, b = inst.segments(i)
        assert runs_on(a) and runs_on(b)
        if inst.labels[i] == 0:
            assert b[0] == a[-1] + 1  # the true next sentence
        else:
            assert owner[int(b[0])] != owner[int(a[0])]
            assert {owner[int(t)] for t in b} == {owner[int(b[0])]}  # one other document


def test_random_mode_puts_unused_sentences_back():
    docs, _ = counting_corpus()
    inst = build(docs, "random", max_length=512)
    a_tokens = np.concatenate([inst.segments(i)[0] for i in range(len(inst))])
    b_true = np.concatenate([inst.segments(i)[1] for i in range(len(inst)) if inst.labels[i] == 0])
    used = np.concatenate([a_tokens, b_true])
    everything = np.concatenate([s for d in docs for s in d])
    assert len(np.unique(used)) == len(used)  # no sentence is used twice as A or true B
    # the sentences a negative's chunk did not use come back, so nothing of a document is lost
    # except a trailing single sentence that became a lone A (rare): almost everything is used
    assert np.isin(everything, used).mean() > 0.9


def test_swap_mode_really_swaps():
    docs, owner = counting_corpus()
    inst = build(docs, "swap", max_length=512)
    assert 0 < inst.labels.sum() < len(inst)
    for i in range(len(inst)):
        a, b = inst.segments(i)
        assert owner[int(a[0])] == owner[int(b[0])]  # both segments from one document
        first, second = (a, b) if inst.labels[i] == 0 else (b, a)
        assert runs_on(np.concatenate([first, second]))  # in document order once un-swapped
        if inst.labels[i] == 1:
            assert a[0] > b[-1]  # as presented, the later text comes first


def test_swap_label_one_is_the_in_order_pair_with_segments_exchanged():
    """Un-swapping every label-1 instance gives back the in-order construction: the pairs, read
    in order, are each document's text exactly once, cut at sentence boundaries."""
    docs, _ = counting_corpus()
    inst = build(docs, "swap", max_length=512)  # nothing is truncated
    boundaries = {int(s[0]) for doc in docs for s in doc}
    text = []
    for i in range(len(inst)):
        a, b = inst.segments(i)
        first, second = (a, b) if inst.labels[i] == 0 else (b, a)
        assert int(first[0]) in boundaries and int(second[0]) in boundaries
        text += [first, second]
    assert (np.concatenate(text) == np.concatenate([s for doc in docs for s in doc])).all()


def test_truncation_keeps_the_limit_and_cuts_the_longer_side():
    docs, _ = counting_corpus(n_sent=6, sent_len=(20, 60))
    for nsp in ("random", "swap"):
        inst = build(docs, nsp, max_length=32)
        assert (inst.lengths <= 32).all() and (inst.lengths == 32).mean() > 0.5


def test_truncate_pair_matches_the_one_token_at_a_time_rule():
    rng = np.random.default_rng(0)
    for la, lb, m in [(10, 3, 8), (3, 10, 8), (6, 6, 7), (7, 6, 5), (4, 4, 8), (30, 29, 10)]:
        a, b = list(range(la)), list(range(lb))
        while len(a) + len(b) > m:  # BERT's truncate_seq_pair, always from the back
            (a if len(a) > len(b) else b).pop()
        assert truncation_counts(la, lb, m) == (la - len(a), lb - len(b))
        ta, tb = truncate_pair(np.arange(la), np.arange(lb), m, rng)
        assert (len(ta), len(tb)) == (len(a), len(b))
        assert runs_on(ta) and runs_on(tb)  # cut only at the ends


def test_truncation_takes_from_both_ends():
    rng = np.random.default_rng(0)
    fronts = [truncate_pair(np.arange(100), np.arange(10), 20, rng)[0][0] for _ in range(200)]
    assert min(fronts) < max(fronts) and 40 < np.mean(fronts) < 50  # binomial(90, 1/2): mean 45, std 4.7


def test_short_sequences_appear_with_short_seq_prob():
    docs, _ = counting_corpus(n_docs=200)
    long_only = build(docs, "swap", max_length=64, short_seq_prob=0.0)
    some_short = build(docs, "swap", max_length=64, short_seq_prob=1.0)
    assert some_short.lengths.mean() < long_only.lengths.mean() - 10


def test_errors():
    docs, _ = counting_corpus(n_docs=1)
    with pytest.raises(ValueError, match="at least 2"):
        build(docs, "random")
    assert len(build(docs, "swap")) > 0
    with pytest.raises(ValueError, match="nsp"):
        build(docs, "next")
    with pytest.raises(ValueError, match="max_length"):
        build(docs, "swap", max_length=4)


def test_empty_sentences_and_documents_are_skipped():
    docs = [[np.array([5, 6]), np.array([], int), np.array([7, 8])], [], [np.array([9, 10, 11])]]
    inst = build(docs, "random")
    assert len(inst) >= 2 and (inst.lengths >= 5).all()
