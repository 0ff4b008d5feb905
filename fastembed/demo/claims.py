"""The report's conclusions, each worded from the numbers it rests on.

A demo that prints "the lecture's trade-off, measured" under two scores that are both at chance
teaches the wrong thing. Every sentence here first asks whether the numbers can carry the claim:
a dev accuracy counts as above chance only when it beats chance by two standard errors of a
binomial proportion on the dev set (sqrt(p (1 - p) / n)), and two accuracies differ only when
their gap beats two standard errors of the difference. Otherwise the sentence says what the
numbers do show: the model is too small or too briefly trained for the comparison, or the two
are within noise of each other.
"""

from __future__ import annotations

import math


def margin(p: float, n: int) -> float:
    """Two standard errors of an accuracy near ``p`` measured on ``n`` examples."""
    p = min(max(p, 1e-3), 1 - 1e-3)
    return 2.0 * math.sqrt(p * (1 - p) / max(n, 1))


def above_chance(acc: float, chance: float, n: int) -> bool:
    """True when ``acc`` on ``n`` dev examples beats ``chance`` by more than two standard errors."""
    return acc > chance + margin(chance, n)


def differ(a: float, b: float, n: int) -> bool:
    """True when accuracies ``a`` and ``b`` (each on the same ``n`` examples) are further apart
    than two standard errors of their difference (treated as independent: a cautious bound)."""
    p = (a + b) / 2
    return abs(a - b) > math.sqrt(2) * margin(p, n)


def finetune_sentence(frozen: float, end_to_end: float, chance: float, n: int) -> str:
    """The conclusion of the frozen-vs-end-to-end comparison (accuracies in [0, 1] on ``n`` dev
    examples, ``chance`` the score of a constant guess)."""
    f_ok, e_ok = above_chance(frozen, chance, n), above_chance(end_to_end, chance, n)
    gap = f"{100 * (end_to_end - frozen):+.1f} points"
    if not (f_ok or e_ok):
        return (f"Both scores are at or below chance ({100 * chance:.0f}% ± {100 * margin(chance, n):.0f} on "
                f"{n} sentences): this model is too small or too briefly pretrained for the task, so this run "
                "does not measure the trade-off. A longer run (the default instead of --quick) or a bigger model "
                "is needed for that.")
    if not differ(frozen, end_to_end, n):
        return (f"End to end scores {gap} against frozen, within the noise of {n} dev sentences "
                f"(± {100 * math.sqrt(2) * margin((frozen + end_to_end) / 2, n):.0f} points): on this task and "
                "model the two ways are not told apart.")
    if end_to_end > frozen:
        return (f"End to end scores {gap} against frozen, more than the noise of {n} dev sentences: adapting "
                "every layer paid off here, at the cost of training the whole encoder.")
    return (f"Frozen scores {100 * (frozen - end_to_end):.1f} points above end to end, more than the noise of {n} "
            "dev sentences: with this little data, training every weight hurt (it can overfit or disturb what "
            "pretraining learned).")


def best_sentence(scores: dict[str, float], chance: float, n: int) -> str:
    """Which of several feature choices did best, said only as far as the numbers go."""
    if not scores:
        return "No scores to compare."
    best = max(scores, key=lambda k: scores[k])
    if not above_chance(scores[best], chance, n):
        return (f"None of these features beats chance ({100 * chance:.0f}%) by more than the noise of {n} dev "
                "examples: the model is too small or too briefly trained for this probe.")
    ties = [k for k in scores if k != best and not differ(scores[k], scores[best], n)]
    if ties:
        return (f"Best here: {best} ({100 * scores[best]:.1f}%), within noise of "
                f"{', '.join(ties)} on {n} dev examples.")
    return f"Best here: {best} ({100 * scores[best]:.1f}%), ahead of the others by more than the noise."
