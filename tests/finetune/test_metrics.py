"""Metrics against hand-computed examples: conlleval's entity rules (edge cases included),
SQuAD v1.1's answer normalization, exact match and F1, accuracy."""

from __future__ import annotations

import pytest

from fastembed.finetune.metrics import (accuracy, entities, entity_scores, normalize_answer, squad_exact, squad_f1,
                                        squad_scores)


@pytest.mark.parametrize("tags, want", [
    (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 1), ("LOC", 3, 3)]),
    (["O", "I-PER", "I-PER", "O"], [("PER", 1, 2)]),                    # I- after O opens an entity
    (["I-ORG"], [("ORG", 0, 0)]),                                       # ... also at the sentence start
    (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 2)]),      # I- of another type opens one too
    (["B-PER", "B-PER", "I-PER"], [("PER", 0, 0), ("PER", 1, 2)]),      # B- always opens a new one
    (["I-PER", "B-PER"], [("PER", 0, 0), ("PER", 1, 1)]),
    (["O", "O"], []),
    (["B-MISC", "I-MISC"], [("MISC", 0, 1)]),                           # closed by the sentence end
    (["S-PER", "B-LOC", "E-LOC", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 2), ("LOC", 3, 3)]),  # IOBES: I- after E-
])
def test_entities_follow_conlleval(tags, want):
    assert entities(tags) == want


def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG"], ["O", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"],      # PER boundary wrong, LOC right
            ["I-ORG", "I-ORG"],                # I-I after the sentence start = the same ORG: right
            ["B-MISC", "O"]]                   # a false positive
    s = entity_scores(gold, pred)
    assert (s["correct"], s["predicted"], s["gold"]) == (2, 4, 3)
    assert s["precision"] == pytest.approx(0.5)
    assert s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert s["per_type"]["PER"]["f1"] == 0.0 and s["per_type"]["LOC"]["f1"] == 1.0
    assert s["per_type"]["MISC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_entity_scores_errors():
    with pytest.raises(ValueError, match="2 predicted tags for 1 gold"):
        entity_scores([["O"]], [["O", "O"]])
    with pytest.raises(ValueError, match="not 'O' or PREFIX-TYPE"):
        entities(["PER"])
    assert entity_scores([["O"]], [["O"]])["f1"] == 0.0          # no entities anywhere: 0, not a division error


@pytest.mark.parametrize("raw, want", [
    ("The  Eiffel-Tower!", "eiffeltower"),      # punctuation removed without a space, then "the" dropped
    ("An apple a day", "apple day"),
    ("theatre of the absurd", "theatre of absurd"),  # articles only as whole words
    ("  1,000 (approx.)  ", "1000 approx"),
    ("Ça\tva", "ça va"),
])
def test_squad_normalization(raw, want):
    assert normalize_answer(raw) == want


def test_squad_exact_and_f1_by_hand():
    assert squad_exact("the Denver Broncos.", "Denver Broncos") == 1.0
    assert squad_f1("the cat sat on the mat", "a cat on a mat") == pytest.approx(6 / 7)   # P 3/4, R 1
    assert squad_f1("", "Paris") == 0.0
    assert squad_f1("the", "a") == 0.0 and squad_exact("the", "a") == 1.0   # v1.1: both normalize to ""
    s = squad_scores({"q1": "Paris", "q2": "in 1887"}, {"q1": ["Paris", "Lyon"], "q2": ["1889", "in 1887 and 1889"],
                                                      "q3": ["missing"]})
    assert s["exact_match"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx((1 + 2 * 1 * 0.5 / 1.5 + 0) / 3)      # q2: P 2/2, R 2/4


def test_accuracy():
    assert accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == 0.5
    with pytest.raises(ValueError, match="3 predictions for 2"):
        accuracy([1, 0, 1], [1, 0])
