"""Extractive QA (SQuAD): questions and contexts to windows, and start/end scores back to answer text.

Encoding (:func:`encode_qa`). Each row is ``[CLS] question [SEP] window [SEP]`` (segments 0, then
1 from the window on). A context longer than the room left next to the question is cut into
windows of ``room`` tokens whose starts are ``doc_stride`` tokens apart (BERT's run_squad
convention: the stride is the step, so neighbours overlap by ``room - doc_stride`` tokens), and
every window is a row of its own. Each row keeps the character offsets of its context tokens
(the tokenizer's ``return_offsets=True``: code-point spans into the original text, as HF's) so a
predicted span maps back to the original context. The windows are BERT's (run_squad.py), not
those of ``tokenizer(..., return_overflowing=True, stride=...)``: HF's ``stride`` is the overlap,
not the step, and the question is never cut to ``max_query_length`` there.

Training targets: the answer's first and last token when the whole answer lies inside the
window, else position 0 ([CLS]) for both: "not in this window". Answers are located from
``answer_start``; one whose text is not at that offset is searched for in the context
(the nearest occurrence is used and counted as ``relocated``); one that is nowhere in the
context is counted in ``answers_not_found`` and its question is left out of the training rows.
Nothing is dropped without being counted, and the counts are in the report.

Decoding (:func:`best_span`, :func:`decode_answers`): for each question, over all its windows,
the span (s, e) with the highest ``start[s] + end[e]`` such that ``s <= e``, both are context
tokens of that window and ``e - s + 1 <= max_answer_length``; its text is
``context[offset[s].start : offset[e].end]``.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..tokenizers.base import Tokenizer
from .encoding import new_report
from .readers import QAExample


def locate_answer(context: str, text: str, start: int) -> tuple[Optional[int], str]:
    """(character start, how) of an answer: ``"exact"`` at ``start``, ``"relocated"`` to the
    nearest occurrence of ``text``, or (None, ``"not_found"``)."""
    if text and context[start:start + len(text)] == text:
        return start, "exact"
    if not text.strip():
        return None, "not_found"
    hits, i = [], context.find(text)
    while i >= 0:
        hits.append(i)
        i = context.find(text, i + 1)
    if not hits:
        return None, "not_found"
    return min(hits, key=lambda h: abs(h - start)), "relocated"


def answer_tokens(offsets: np.ndarray, start: int, end: int) -> Optional[tuple[int, int]]:
    """First and last token (indices into ``offsets``) that overlap characters [start, end)."""
    hit = np.flatnonzero((offsets[:, 1] > start) & (offsets[:, 0] < end))
    return (int(hit[0]), int(hit[-1])) if len(hit) else None


def encode_qa(examples: Sequence[QAExample], tokenizer: Tokenizer, *, max_length: int = 384, doc_stride: int = 128,
              max_query_length: int = 64, train: bool = True) -> tuple[list[dict], dict]:
    """Windows of every question as features, and a report of what was truncated or not found.

    Each feature: ``input_ids``, ``token_type_ids``, ``example_index``, ``offsets`` (T, 2) with
    (-1, -1) outside the context, ``context_mask`` (T,) bool, and with ``train=True``
    ``start_positions``/``end_positions`` (0 when the answer is not in this window).
    """
    room = max_length - min(max_query_length, max_length) - 3
    if room < 1:
        raise ValueError(f"max_length={max_length} leaves no room for context after a question of up to "
                         f"max_query_length={max_query_length} tokens and 3 special tokens")
    if not 1 <= doc_stride <= room:
        raise ValueError(f"doc_stride={doc_stride} must be in [1, {room}] (the context room per window), "
                         "or windows would skip context tokens")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    if cls is None or sep is None:
        raise ValueError(f"extractive QA builds [CLS] question [SEP] context [SEP] rows; {type(tokenizer).__name__} "
                         "has no cls_token_id / sep_token_id (use BERT's WordPiece tokenizer)")
    report = new_report(len(examples))
    report.update(questions_truncated=0, windows=0, answers_relocated=0, answers_not_found=0,
                  answers_in_no_window=0, not_found=[])
    for ex in examples:
        where = f"question {ex.id!r}"
        if not ex.context.strip():
            raise ValueError(f"{where}: the context is empty")
        if not ex.question.strip():
            raise ValueError(f"{where}: the question is empty")
    # two native calls: the questions, and each distinct context with its tokens' character spans
    questions = tokenizer([ex.question for ex in examples], add_special_tokens=False)["input_ids"] if examples else []
    contexts = list(dict.fromkeys(ex.context for ex in examples))
    enc = tokenizer(contexts, add_special_tokens=False, return_offsets=True, split_special_tokens=True) \
        if contexts else {"input_ids": [], "offset_mapping": []}
    cache = dict(zip(contexts, zip(enc["input_ids"], enc["offset_mapping"])))
    features: list[dict] = []
    for n, ex in enumerate(examples):
        where = f"question {ex.id!r}"
        q = questions[n]
        if len(q) > max_query_length:
            q = q[:max_query_length]
            report["questions_truncated"] += 1
        ctx_ids, ctx_off = cache[ex.context]
        if len(ctx_ids) == 0:
            raise ValueError(f"{where}: the context has no tokens once normalized")
        target = None
        if train:
            if not ex.answers:
                raise ValueError(f"{where}: a training question needs an answer")
            a = ex.answers[0]
            s, how = locate_answer(ex.context, a.text, a.start)
            span = answer_tokens(ctx_off, s, s + len(a.text)) if s is not None else None
            if span is None:
                report["answers_not_found"] += 1
                report["not_found"].append(ex.id)
                continue
            report["answers_relocated"] += how == "relocated"
            target = span
        room_here = max_length - len(q) - 3
        starts = [0]
        while starts[-1] + room_here < len(ctx_ids):                # the last window reaches the end
            starts.append(starts[-1] + doc_stride)
        found = False
        for w in starts:
            win = slice(w, min(w + room_here, len(ctx_ids)))
            k = win.stop - win.start
            head = len(q) + 2                                      # [CLS] q [SEP]
            ids = np.r_[cls, q, sep, ctx_ids[win], sep].astype(np.int64)
            T = len(ids)
            offsets = np.full((T, 2), -1, np.int64)
            offsets[head:head + k] = ctx_off[win]
            mask = np.zeros(T, bool)
            mask[head:head + k] = True
            f = {"input_ids": ids, "token_type_ids": np.r_[np.zeros(head, np.int64), np.ones(k + 1, np.int64)],
                 "example_index": n, "offsets": offsets, "context_mask": mask}
            if target is not None:
                ts, te = target
                inside = win.start <= ts and te < win.stop
                found |= inside
                f["start_positions"] = head + ts - w if inside else 0
                f["end_positions"] = head + te - w if inside else 0
            features.append(f)
        report["answers_in_no_window"] += target is not None and not found
    report["features"] = report["windows"] = len(features)
    msgs = report["messages"]
    if report["questions_truncated"]:
        msgs.append(f"{report['questions_truncated']} questions were longer than max_query_length={max_query_length} "
                    "tokens and were truncated")
    if report["answers_relocated"]:
        msgs.append(f"{report['answers_relocated']} answers were not at their answer_start; the nearest occurrence "
                    "of their text was used")
    if report["answers_not_found"]:
        shown = ", ".join(report["not_found"][:5]) + (" ..." if len(report["not_found"]) > 5 else "")
        msgs.append(f"{report['answers_not_found']} answers are not in their context; those questions were left out "
                    f"of training: {shown}")
    if report["answers_in_no_window"]:
        msgs.append(f"{report['answers_in_no_window']} answers are longer than any window (max_length={max_length}, "
                    f"doc_stride={doc_stride}); all their windows point at [CLS]")
    return features, report


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, context_mask: np.ndarray,
              max_answer_length: int) -> tuple[float, int, int]:
    """(score, s, e) of the best valid span of one row: s <= e, both where ``context_mask`` is
    True, e - s + 1 <= max_answer_length. (-inf, -1, -1) if the row has no context token."""
    if max_answer_length < 1:
        raise ValueError(f"max_answer_length must be >= 1, got {max_answer_length}")
    idx = np.flatnonzero(context_mask)
    if len(idx) == 0:
        return float("-inf"), -1, -1
    s = np.asarray(start_logits, np.float64)[idx]
    e = np.asarray(end_logits, np.float64)[idx]
    scores = s[:, None] + e[None, :]                               # (n, n): start i, end j
    gap = idx[None, :] - idx[:, None]                              # token distance e - s
    scores[(gap < 0) | (gap >= max_answer_length)] = -np.inf
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[i, j]), int(idx[i]), int(idx[j])


def best_spans(features: Sequence[dict], start_logits: Sequence[np.ndarray], end_logits: Sequence[np.ndarray],
               num_examples: int, max_answer_length: int = 30) -> list[Optional[tuple[float, int, int, int]]]:
    """For each example (question) n, (score, k, s, e): its best span over all its windows,
    found in ``features[k]`` from token s to token e, scored ``start[s] + end[e]``; None for an
    example without a window or a context token. The rule of :func:`decode_answers`, which
    ``fastembed.predict`` shares to report character spans and scores as well."""
    best: list[Optional[tuple[float, int, int, int]]] = [None] * num_examples
    for k, f in enumerate(features):
        score, s, e = best_span(start_logits[k], end_logits[k], f["context_mask"], max_answer_length)
        n = f["example_index"]
        if s >= 0 and (best[n] is None or score > best[n][0]):
            best[n] = (score, k, s, e)
    return best


def decode_answers(examples: Sequence[QAExample], features: Sequence[dict], start_logits: Sequence[np.ndarray],
                   end_logits: Sequence[np.ndarray], max_answer_length: int = 30) -> dict[str, str]:
    """Question id -> predicted answer text, the best span over all of the question's windows.

    ``start_logits[k]``/``end_logits[k]`` are the scores of ``features[k]``'s tokens."""
    out = {}
    for ex, hit in zip(examples, best_spans(features, start_logits, end_logits, len(examples), max_answer_length)):
        if hit is None:
            out[ex.id] = ""
            continue
        _, k, s, e = hit
        off = features[k]["offsets"]
        out[ex.id] = ex.context[off[s, 0]:off[e, 1]]
    return out
