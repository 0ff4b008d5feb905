"""What the demo asks about, chosen from the corpus itself when the user gives one (``--input``).

The built-in corpus (CPython's documentation) keeps the demo's curated lists (neighbours of
``list``, ``function -> functions`` prompts, ...). On any other text those words may not occur,
so every probe is found in the text instead, deterministically (the same text gives the same
choices, with no randomness at all):

* **probe words**: frequent content words (not in :data:`STOP`, 4+ letters) of the word2vec
  vocabulary, spread over the 60 most frequent ones;
* **relations**: word pairs that exist in the text, found by spelling rules among words seen at
  least ``min_count`` times: singular -> plural (``-s``, ``-es``, ``y -> ies``; not for a word
  mostly used as a verb, whose ``-s`` is its third person), verb -> past
  (``-ed``, ``e -> ed``), verb -> ``-ing``; and the gender pairs of the lecture that occur
  (Bolukbasi et al.'s definitional pairs, man/woman, king/queen, ...). Each relation's pairs are
  ordered by how often their rarer word occurs;
* **analogies** ``a : b :: c : d``: two pairs of one relation, most frequent pairs first;
* **few-shot examples**: three pairs of the most frequent relation, and a fourth pair's first
  word as the query (its answer is in the text too);
* **fill-in-the-blank sentences**: from the held-out tail of the text (:func:`.corpus.hold_out`),
  which no model trained on.
"""

from __future__ import annotations

import collections
from typing import Any, Iterable, Sequence

from .corpus import Corpus, words

STOP = frozenset("""a an the of to in on for and or not is are be been was were it its this that these those with as
by at from if then else when which who what can will may must should would could do does did has have had
there their they them we you he she his her i our your than so such into also only each all any some no
him me my us upon said one very more much about out up down over now well like just""".split())

GENDER = (("he", "she"), ("his", "her"), ("him", "her"), ("himself", "herself"), ("man", "woman"),
          ("men", "women"), ("king", "queen"), ("father", "mother"), ("son", "daughter"), ("brother", "sister"),
          ("boy", "girl"), ("husband", "wife"), ("lord", "lady"), ("prince", "princess"), ("sir", "madam"),
          ("uncle", "aunt"), ("gentleman", "lady"), ("mr", "mrs"))

PLURAL, PAST, ING, GENDER_REL = "singular → plural", "verb → past (-ed)", "verb → -ing", "male → female"


def word_counts(corpus: Corpus) -> collections.Counter:
    """Lower-cased word counts of the whole corpus (:func:`.corpus.words`)."""
    return collections.Counter(w for s in corpus.sentences for w in words(s))


def is_content(w: str) -> bool:
    return w.isalpha() and len(w) >= 4 and w not in STOP


def probe_words(vocab: Iterable[str], n: int = 6, *, top: int = 60) -> list[str]:
    """``n`` content words spread over the ``top`` most frequent content words of ``vocab``
    (a frequency-ordered list, as ``KeyedVectors.index_to_key``): the 1st, then every
    ``top // n``-th, so the probes are common but not all the very commonest."""
    content = [w for w in vocab if is_content(w)][:top]
    if len(content) <= n:
        return content
    step = len(content) / n
    return [content[int(i * step)] for i in range(n)]


def _plural_forms(w: str) -> list[str]:
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return [w + "es"]
    if w.endswith("y") and len(w) > 3 and w[-2] not in "aeiou":
        return [w[:-1] + "ies"]
    return [w + "s"]


def _past_forms(w: str) -> list[str]:
    return [w + "d"] if w.endswith("e") else [w + "ed"]


def _ing_forms(w: str) -> list[str]:
    return [w[:-1] + "ing"] if w.endswith("e") and not w.endswith("ee") else [w + "ing"]


def _verb_like(w: str, counts: collections.Counter) -> bool:
    """True when ``w`` is used as a verb often enough that ``w + s`` is more likely its third
    person ("know -> knows") than a plural: its -ing form is at least 5% as frequent as ``w``, or
    its past (-ed) form at least 10%. Nouns keep theirs ("hand -> hands": "handing" is rare)."""
    n = counts[w]
    return (max(counts[f] for f in _ing_forms(w)) >= 0.05 * n
            or max(counts[f] for f in _past_forms(w)) >= 0.10 * n)


def relation_pairs(counts: collections.Counter, *, min_count: int = 3, per_relation: int = 12) -> dict[str, list]:
    """{relation: [(a, b), ...]} of pairs found in the text (module docstring): both words seen
    at least ``min_count`` times, at most ``per_relation`` pairs each, those whose rarer word is
    most frequent first (ties alphabetical). Relations with no pair are left out."""
    ok = {w for w, c in counts.items() if c >= min_count and w.isalpha()}
    rules = {PLURAL: _plural_forms, PAST: _past_forms, ING: _ing_forms}
    out: dict[str, list] = {}
    for name, forms in rules.items():
        found = {(w, f) for w in ok if len(w) >= 3 and w not in STOP for f in forms(w) if f in ok and f not in STOP}
        if name == PLURAL:                                   # "ring -> rings" is fine, "bles -> blesses" is not
            found = {(a, b) for a, b in found if not a.endswith("ing") and not _verb_like(a, counts)}
        if found:
            out[name] = sorted(found, key=lambda p: (-min(counts[p[0]], counts[p[1]]), p))[:per_relation]
    gender = [p for p in GENDER if p[0] in ok and p[1] in ok]
    if gender:
        out[GENDER_REL] = gender[:per_relation]
    return out


def analogies(relations: dict[str, list], *, per_relation: int = 3) -> list[tuple[str, str, str, str]]:
    """``a : b :: c : d`` from consecutive pairs of each relation (pairs 1 and 2, 3 and 4, ...),
    no word used twice in one analogy; at most ``per_relation`` per relation."""
    out = []
    for pairs in relations.values():
        got = 0
        for (a, b), (c, d) in zip(pairs[0::2], pairs[1::2]):
            if len({a, b, c, d}) == 4 and got < per_relation:
                out.append((a, b, c, d))
                got += 1
    return out


def few_shot(relations: dict[str, list]) -> tuple[list[tuple[str, str]], str, str]:
    """(three example pairs, the query word, its answer) from the relation with the most pairs
    (plural first on a tie); ValueError when no relation has four pairs."""
    usable = [(name, pairs) for name, pairs in relations.items() if len(pairs) >= 4 and name != GENDER_REL] or \
             [(name, pairs) for name, pairs in relations.items() if len(pairs) >= 4]
    if not usable:
        raise ValueError("the corpus has no relation with four word pairs for a few-shot prompt")
    name, pairs = max(usable, key=lambda t: len(t[1]))
    return list(pairs[:3]), pairs[3][0], pairs[3][1]


def present(kv: Any, items: Sequence[Any]) -> list[Any]:
    """The items (words or tuples of words) all of whose words are in ``kv``."""
    return [w for w in items if all(x in kv for x in (w if isinstance(w, tuple) else (w,)))]
