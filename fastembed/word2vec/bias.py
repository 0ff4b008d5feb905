"""The lecture's aside on learned biases: find the gender direction of word vectors, measure bias
along it and with WEAT, and remove it by hard debiasing.

All cosines use unit-normalised vectors (a zero vector stays zero, and its cosines are 0).

**Gender direction** (Bolukbasi, Chang, Zou, Saligrama & Kalai, "Man is to Computer Programmer as
Woman is to Homemaker? Debiasing Word Embeddings", NeurIPS 2016). For each definitional pair
(f, m) of unit vectors, centre both on the pair mean μ = (f + m)/2; the direction g is the first
principal component of the stacked centred vectors f − μ, m − μ (method ``"pca"``, the paper's
choice), or the normalised mean of the differences f − m (method ``"mean"``). Its sign is fixed
so that g points from male to female: mean(f − m) · g ≥ 0.

**Projection**: a word's bias is cos(w, g) = ŵ · g.

**WEAT** (Caliskan, Bryson & Narayanan, "Semantics derived automatically from language corpora
contain human-like biases", Science 2017). For target sets X, Y and attribute sets A, B:

    s(w, A, B)    = mean_{a∈A} cos(w, a) − mean_{b∈B} cos(w, b)
    s(X, Y, A, B) = Σ_{x∈X} s(x, A, B) − Σ_{y∈Y} s(y, A, B)                      (the test statistic)
    effect size   = (mean_{x∈X} s(x, A, B) − mean_{y∈Y} s(y, A, B)) / std_{w∈X∪Y} s(w, A, B)
    p             = Pr_i[ s(X_i, Y_i, A, B) > s(X, Y, A, B) ]                  (one-sided)

over the re-partitions (X_i, Y_i) of X ∪ Y into sets of sizes |X| and |Y|.

**Hard debiasing** (Bolukbasi et al. 2016, "Neutralize and Equalize"), with g the unit direction:

    neutralise   w ← (w − (w·g) g) / ‖w − (w·g) g‖                     for every gender-neutral w
    equalise     μ = (a + b)/2,  ν = μ − (μ·g) g,  z = sqrt(1 − ‖ν‖²) · sign((a − b)·g)
                 a ← ν + z g,   b ← ν − z g                                  for every pair (a, b)

(the paper's w ← ν + sqrt(1 − ‖ν‖²) (w_B − μ_B)/‖w_B − μ_B‖ with one direction, w_B = (w·g) g).
Afterwards a and b are unit vectors, a − b = 2 z g is parallel to g, and so every neutralised
word n (n ⊥ g) has n·a = n·ν = n·b: it is equally far from both words of each pair.

>>> kv = KeyedVectors(["she", "he", "her", "his", "nurse"], np.array(
...     [[1, 1, 0], [-1, 1, 0], [1, 0, 1], [-1, 0, 1], [0.5, 1, 1]], dtype=np.float32))
>>> g = gender_direction(kv, [("she", "he"), ("her", "his")])
>>> bool(np.allclose(g, [1, 0, 0]))
True
>>> round(kv.similarity("nurse", "she"), 3), round(kv.similarity("nurse", "he"), 3)
(0.707, 0.236)
>>> fair = debias(kv, g, equalize=[("she", "he"), ("her", "his")])
>>> round(fair.similarity("nurse", "she"), 3), round(fair.similarity("nurse", "he"), 3)
(0.5, 0.5)
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Iterable, Sequence

import numpy as np

from .keyedvectors import KeyedVectors

__all__ = [
    "DEFINITIONAL_PAIRS",
    "EQUALIZE_PAIRS",
    "GENDER_SPECIFIC",
    "OCCUPATIONS",
    "gender_direction",
    "used_pairs",
    "project",
    "weat_score",
    "weat_effect_size",
    "weat_p_value",
    "debias",
]

Key = Any
Pair = tuple[Any, Any]

# ------------------------------------------------------------------------------------ word lists

#: Bolukbasi et al. 2016's ten definitional pairs, (female, male).
DEFINITIONAL_PAIRS: tuple[Pair, ...] = (
    ("she", "he"), ("her", "his"), ("woman", "man"), ("mary", "john"), ("herself", "himself"),
    ("daughter", "son"), ("mother", "father"), ("gal", "guy"), ("girl", "boy"), ("female", "male"),
)

#: Pairs to equalise by default, (female, male): the definitional pairs and common gendered pairs.
EQUALIZE_PAIRS: tuple[Pair, ...] = DEFINITIONAL_PAIRS + (
    ("queen", "king"), ("queens", "kings"), ("princess", "prince"), ("sister", "brother"),
    ("sisters", "brothers"), ("wife", "husband"), ("wives", "husbands"), ("women", "men"),
    ("girls", "boys"), ("daughters", "sons"), ("mothers", "fathers"), ("females", "males"),
    ("aunt", "uncle"), ("niece", "nephew"), ("lady", "gentleman"), ("ladies", "gentlemen"),
    ("mom", "dad"), ("moms", "dads"), ("grandmother", "grandfather"), ("granddaughter", "grandson"),
    ("schoolgirl", "schoolboy"), ("spokeswoman", "spokesman"), ("chairwoman", "chairman"),
    ("businesswoman", "businessman"), ("congresswoman", "congressman"),
)

#: Words gendered by definition (lower case), left alone by :func:`debias`'s neutralising step.
#: Conservative: words such as "actor" or "doctor" that are used for everyone are not in it.
GENDER_SPECIFIC: frozenset[str] = frozenset(w for pair in EQUALIZE_PAIRS for w in pair) | frozenset({
    "hers", "mum", "mummy", "mommy", "daddy", "grandma", "grandpa", "granny", "stepmother",
    "stepfather", "girlfriend", "boyfriend", "bride", "groom", "widow", "widower", "actress",
    "waitress", "hostess", "heroine", "nun", "monk", "sorority", "fraternity", "motherhood",
    "fatherhood", "sisterhood", "brotherhood", "maternal", "paternal", "maternity", "paternity",
    "womanhood", "manhood", "feminine", "masculine", "mr", "mrs", "ms", "madam", "sir",
})

#: Common occupations, the words whose projection on the gender direction the lecture shows.
OCCUPATIONS: tuple[str, ...] = (
    "nurse", "engineer", "programmer", "homemaker", "doctor", "teacher", "scientist", "librarian",
    "receptionist", "architect", "lawyer", "secretary", "surgeon", "hairdresser", "carpenter",
    "accountant", "pilot", "dancer", "mechanic", "banker", "chef", "firefighter", "nanny", "plumber",
    "professor",
)

# --------------------------------------------------------------------------------------- helpers


def _check_kv(kv: Any, fn: str) -> None:
    if not all(hasattr(kv, a) for a in ("index_to_key", "key_to_index", "vectors")):
        raise TypeError(f"{fn}: kv must be a KeyedVectors (index_to_key, key_to_index, vectors), "
                        f"got {type(kv).__name__}")


def _words(words: Iterable[Key], fn: str, what: str) -> list[Key]:
    """``words`` as a list; a single string is refused (it would be read letter by letter)."""
    if isinstance(words, (str, bytes)):
        raise TypeError(f"{fn}: {what} must be a list of words, got the single string {words!r} "
                        f"(write [{words!r}])")
    try:
        return list(words)
    except TypeError:
        raise TypeError(f"{fn}: {what} must be a list of words, got {type(words).__name__}") from None


def _pairs(pairs: Iterable[Pair], fn: str) -> list[Pair]:
    out = []
    for p in _words(pairs, fn, "pairs"):
        if isinstance(p, (str, bytes)) or not hasattr(p, "__len__") or len(p) != 2:
            raise TypeError(f"{fn}: each pair must be a (female, male) pair of two words, got {p!r}")
        out.append((p[0], p[1]))
    return out


def _missing(kv: Any, words: Iterable[Key]) -> list[Key]:
    """The words not in ``kv``, each once, in order."""
    return list(dict.fromkeys(w for w in words if w not in kv.key_to_index))


def _check_present(kv: Any, words: Sequence[Key], fn: str, what: str) -> None:
    missing = _missing(kv, words)
    if missing:
        raise KeyError(f"{fn}: {len(missing)} word(s) of {what} not in the vocabulary: "
                       f"{', '.join(map(repr, missing))}")


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in place; zero rows stay zero."""
    n = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, n, out=x, where=n > 0)
    return x


def _unit_rows(kv: Any, words: Sequence[Key]) -> np.ndarray:
    """The unit vectors (float64, zero stays zero) of ``words``, which must all be in ``kv``."""
    idx = [kv.key_to_index[w] for w in words]
    x = np.asarray(kv.vectors[idx], dtype=np.float64).reshape(len(idx), -1)
    return _normalise_rows(x)


def _direction(direction: Any, dim: int, fn: str) -> np.ndarray:
    """``direction`` as a unit float64 vector of length ``dim``."""
    try:
        g = np.asarray(direction, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: direction must be a vector of numbers, got {type(direction).__name__}") from None
    if g.shape != (dim,):
        raise ValueError(f"{fn}: direction must have the vectors' dimension, shape ({dim},), got {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"{fn}: direction has NaN or infinite entries")
    n = float(np.linalg.norm(g))
    if n == 0.0:
        raise ValueError(f"{fn}: direction is the zero vector; give a nonzero direction")
    return g / n


def _fold(w: Key) -> Key:
    return w.lower() if isinstance(w, str) else w


# ------------------------------------------------------------------------------------ direction


def used_pairs(kv: Any, pairs: Iterable[Pair] = DEFINITIONAL_PAIRS) -> list[Pair]:
    """The pairs of ``pairs`` whose two words are both in ``kv`` (keys compared exactly).

    >>> kv = KeyedVectors(["she", "he", "her"], np.eye(3, dtype=np.float32))
    >>> used_pairs(kv, [("she", "he"), ("her", "his")])
    [('she', 'he')]
    """
    _check_kv(kv, "used_pairs")
    return [p for p in _pairs(pairs, "used_pairs") if p[0] in kv.key_to_index and p[1] in kv.key_to_index]


def gender_direction(kv: Any, pairs: Iterable[Pair] = DEFINITIONAL_PAIRS, *, method: str = "pca") -> np.ndarray:
    """The unit direction (float64, shape ``(D,)``) from male to female words of ``pairs``.

    ``pairs`` are (female, male) words; a pair with a word missing from ``kv`` is skipped. The
    unit vectors f, m of each pair give, with ``method="pca"`` (Bolukbasi et al.), the first
    principal component (by SVD, no further centring: the rows already have mean zero) of the
    stacked f − μ, m − μ with μ = (f + m)/2; with ``method="mean"``, the normalised mean of
    f − m. The sign is chosen so that mean(f − m) · g ≥ 0 (if that is exactly 0, so that the
    largest entry of g is positive).

    ``"pca"`` needs 2 usable pairs, ``"mean"`` 1; fewer raise ValueError naming the missing words.
    """
    _check_kv(kv, "gender_direction")
    if method not in ("pca", "mean"):
        raise ValueError(f"gender_direction: method must be 'pca' or 'mean', got {method!r}")
    pairs = _pairs(pairs, "gender_direction")
    usable = [p for p in pairs if p[0] in kv.key_to_index and p[1] in kv.key_to_index]
    need = 2 if method == "pca" else 1
    if len(usable) < need:
        missing = _missing(kv, [w for p in pairs for w in p])
        raise ValueError(f"gender_direction: method={method!r} needs at least {need} pair(s) with both words in "
                         f"the vocabulary, found {len(usable)} of {len(pairs)}; missing words: "
                         f"{', '.join(map(repr, missing)) or '(none)'}")
    f = _unit_rows(kv, [p[0] for p in usable])
    m = _unit_rows(kv, [p[1] for p in usable])
    diff = (f - m).mean(axis=0)
    if method == "mean":
        n = float(np.linalg.norm(diff))
        if n == 0.0:
            raise ValueError("gender_direction: the pairs' differences (female - male) cancel out; no direction")
        g = diff / n
    else:
        half = (f - m) / 2.0                      # f − μ = (f − m)/2 and m − μ = −(f − m)/2
        _, sv, vt = np.linalg.svd(np.concatenate([half, -half]), full_matrices=False)
        if sv[0] == 0.0:
            raise ValueError("gender_direction: the two words of every pair have the same direction; no direction")
        g = vt[0] / np.linalg.norm(vt[0])
    side = float(diff @ g)
    if side < 0 or (side == 0 and g[np.argmax(np.abs(g))] < 0):
        g = -g
    return g


def project(kv: Any, words: Iterable[Key], direction: Any, *, skip_missing: bool = False) -> list[tuple[Key, float]]:
    """(word, cos(word, direction)) for each word: its unit vector's dot product with the unit
    ``direction``. Missing words raise KeyError listing them, or with ``skip_missing=True`` are
    left out.

    >>> kv = KeyedVectors(["nurse", "pilot"], np.array([[3, 4], [0, 2]], dtype=np.float32))
    >>> project(kv, ["nurse", "pilot"], [1, 0])
    [('nurse', 0.6), ('pilot', 0.0)]
    """
    _check_kv(kv, "project")
    words = _words(words, "project", "words")
    g = _direction(direction, int(kv.vectors.shape[1]), "project")
    if skip_missing:
        words = [w for w in words if w in kv.key_to_index]
    else:
        _check_present(kv, words, "project", "words")
    cos = _unit_rows(kv, words) @ g
    return [(w, float(c)) for w, c in zip(words, cos)]


# ------------------------------------------------------------------------------------------ WEAT


def _weat_s(kv: Any, X: Iterable[Key], Y: Iterable[Key], A: Iterable[Key], B: Iterable[Key],
            fn: str) -> tuple[np.ndarray, int]:
    """s(w, A, B) for the words of X then Y (float64), and |X|."""
    sets = {}
    for name, words in (("X", X), ("Y", Y), ("A", A), ("B", B)):
        words = _words(words, fn, name)
        if not words:
            raise ValueError(f"{fn}: the set {name} is empty; every one of X, Y, A, B needs at least one word")
        _check_present(kv, words, fn, f"set {name}")
        sets[name] = words
    targets = _unit_rows(kv, sets["X"] + sets["Y"])
    s = (targets @ _unit_rows(kv, sets["A"]).T).mean(axis=1) - (targets @ _unit_rows(kv, sets["B"]).T).mean(axis=1)
    return s, len(sets["X"])


def weat_score(kv: Any, X: Iterable[Key], Y: Iterable[Key], A: Iterable[Key], B: Iterable[Key]) -> float:
    """WEAT's test statistic s(X, Y, A, B) = Σ_x s(x, A, B) − Σ_y s(y, A, B) (Caliskan et al. 2017).

    >>> kv = KeyedVectors(["x", "y", "a", "b"], np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32))
    >>> weat_score(kv, ["x"], ["y"], ["a"], ["b"])
    2.0
    """
    _check_kv(kv, "weat_score")
    s, nx = _weat_s(kv, X, Y, A, B, "weat_score")
    return float(s[:nx].sum() - s[nx:].sum())


def weat_effect_size(kv: Any, X: Iterable[Key], Y: Iterable[Key], A: Iterable[Key], B: Iterable[Key]) -> float:
    """WEAT's effect size (mean_x s(x, A, B) − mean_y s(y, A, B)) / std_{w∈X∪Y} s(w, A, B)
    (Caliskan et al. 2017): a Cohen's d, between −2 and 2.

    The standard deviation is the sample one (ddof=1) over the |X| + |Y| words of X then Y (a word
    in both counts twice). Raises ValueError when it is 0 (every target word equally associated).
    """
    _check_kv(kv, "weat_effect_size")
    s, nx = _weat_s(kv, X, Y, A, B, "weat_effect_size")
    std = float(np.std(s, ddof=1))
    if not std > 0.0:
        raise ValueError("weat_effect_size: s(w, A, B) is the same for every word of X and Y (zero standard "
                         "deviation); the effect size is undefined")
    return float((s[:nx].mean() - s[nx:].mean()) / std)


def _partition_stats(s: np.ndarray, first: np.ndarray) -> np.ndarray:
    """s(X_i, Y_i) = Σ_{X_i} s − Σ_{Y_i} s = 2 Σ_{X_i} s − Σ s, for the rows of indices ``first``."""
    return 2.0 * s[first].sum(axis=1) - s.sum()


def weat_p_value(kv: Any, X: Iterable[Key], Y: Iterable[Key], A: Iterable[Key], B: Iterable[Key], *,
                 permutations: int = 10000, seed: int = 0) -> float:
    """WEAT's one-sided permutation p-value Pr_i[s(X_i, Y_i, A, B) > s(X, Y, A, B)] (Caliskan et
    al. 2017), over the re-partitions (X_i, Y_i) of X ∪ Y into sets of sizes |X| and |Y|.

    Exact (every partition, the observed one included, once each) when there are at most
    ``permutations`` of them; otherwise estimated from ``permutations`` random partitions drawn
    with ``numpy.random.default_rng(seed)``. Ties (within rounding) do not count as greater.

    >>> kv = KeyedVectors(["x", "y", "a", "b"], np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32))
    >>> weat_p_value(kv, ["x"], ["y"], ["a"], ["b"])          # 2 partitions: (x | y) and (y | x)
    0.0
    """
    _check_kv(kv, "weat_p_value")
    if isinstance(permutations, bool) or not isinstance(permutations, (int, np.integer)) or permutations < 1:
        raise ValueError(f"weat_p_value: permutations must be a positive integer, got {permutations!r}")
    s, nx = _weat_s(kv, X, Y, A, B, "weat_p_value")
    n = len(s)
    observed = _partition_stats(s, np.arange(nx)[None, :])[0]
    tol = 1e-9 * max(1.0, float(np.abs(s).sum()))
    total = math.comb(n, nx)
    chunk = 8192
    greater = 0
    if total <= permutations:
        combos = itertools.combinations(range(n), nx)
        while block := list(itertools.islice(combos, chunk)):
            greater += int((_partition_stats(s, np.array(block, dtype=np.intp)) > observed + tol).sum())
        return greater / total
    rng = np.random.default_rng(seed)
    for start in range(0, permutations, chunk):
        rows = min(chunk, permutations - start)
        perm = rng.permuted(np.tile(np.arange(n), (rows, 1)), axis=1)
        greater += int((_partition_stats(s, perm[:, :nx]) > observed + tol).sum())
    return greater / permutations


# --------------------------------------------------------------------------------------- debias


def _variants(pair: Pair) -> list[Pair]:
    """The pair as given, then lower-cased, Title-cased and UPPER-cased (strings only), each once."""
    a, b = pair
    out = [pair]
    if isinstance(a, str) and isinstance(b, str):
        out += [(a.lower(), b.lower()), (a.title(), b.title()), (a.upper(), b.upper())]
    return list(dict.fromkeys(out))


def debias(kv: Any, direction: Any, *, neutral: Iterable[Key] | None = None,
           equalize: Iterable[Pair] = EQUALIZE_PAIRS,
           gender_specific: Iterable[str] = GENDER_SPECIFIC) -> KeyedVectors:
    """Bolukbasi et al. 2016's hard debiasing: a NEW KeyedVectors (same keys and counts; ``kv`` is
    left unchanged) whose vectors are all unit-normalised (a zero vector stays zero).

    1. Neutralise: every word of ``neutral`` (default: every key of ``kv`` whose lower-cased form
       is neither in ``gender_specific`` nor a word of an ``equalize`` pair) becomes
       (w − (w·g) g)/‖·‖, with g the unit ``direction``: orthogonal to g. Given explicitly,
       ``neutral`` words are keys compared exactly, and missing ones raise KeyError.
    2. Equalise: each pair (a, b) of ``equalize`` present in ``kv`` (the pair as given, and also
       lower-cased, Title-cased and UPPER-cased, as Bolukbasi et al.'s code does) becomes
       a = ν + z g, b = ν − z g with μ = (a + b)/2, ν = μ − (μ·g) g and
       z = sqrt(1 − ‖ν‖²) · sign((a − b)·g) (+ when (a − b)·g = 0): a and b are unit vectors
       that differ only along g, so every neutralised word has the same cosine with both. Pairs
       are equalised in order, after neutralising; a pair with a zero vector is left as it is.

    The other words (gender-specific ones) are only normalised.
    """
    _check_kv(kv, "debias")
    vectors = np.asarray(kv.vectors)
    n_words, dim = vectors.shape
    g = _direction(direction, dim, "debias")
    pairs = _pairs(equalize, "debias")
    if neutral is None:
        keep = {_fold(w) for w in _words(gender_specific, "debias", "gender_specific")}
        keep |= {_fold(w) for p in pairs for w in p}
        rows = np.array([i for i, k in enumerate(kv.index_to_key) if _fold(k) not in keep], dtype=np.intp)
    else:
        neutral = _words(neutral, "debias", "neutral")
        _check_present(kv, neutral, "debias", "neutral")
        rows = np.unique(np.array([kv.key_to_index[w] for w in neutral], dtype=np.intp))
    is_neutral = np.zeros(n_words, dtype=bool)
    is_neutral[rows] = True

    out = np.empty((n_words, dim), dtype=np.float32)
    step = 65536                                  # float64 work in blocks of rows
    for start in range(0, n_words, step):
        block = _normalise_rows(np.asarray(vectors[start:start + step], dtype=np.float64))
        sel = is_neutral[start:start + step]
        block[sel] -= np.outer(block[sel] @ g, g)
        out[start:start + step] = _normalise_rows(block)

    done: set[Pair] = set()
    for pair in pairs:
        for a, b in _variants(pair):
            if (a, b) in done or a not in kv.key_to_index or b not in kv.key_to_index:
                continue
            done.add((a, b))
            ia, ib = kv.key_to_index[a], kv.key_to_index[b]
            va, vb = out[ia].astype(np.float64), out[ib].astype(np.float64)
            if not (va.any() and vb.any()):
                continue
            mu = (va + vb) / 2.0
            nu = mu - (mu @ g) * g
            z = math.sqrt(max(0.0, 1.0 - float(nu @ nu)))
            if (va - vb) @ g < 0:
                z = -z
            out[ia], out[ib] = nu + z * g, nu - z * g
    counts = None if getattr(kv, "counts", None) is None else np.array(kv.counts, copy=True)
    return KeyedVectors(list(kv.index_to_key), out, counts=counts)
