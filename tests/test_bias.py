"""fastembed.word2vec.bias: gender direction, projection, WEAT and hard debiasing."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from fastembed.word2vec import KeyedVectors
from fastembed.word2vec import bias
from fastembed.word2vec.bias import (DEFINITIONAL_PAIRS, EQUALIZE_PAIRS, GENDER_SPECIFIC, OCCUPATIONS, debias,
                                     gender_direction, project, used_pairs, weat_effect_size, weat_p_value,
                                     weat_score)

D = 20
EXTRA_SPECIFIC = ["actress", "waitress", "nun"]          # gender-specific, in no equalize pair


def unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def random_kv():
    """200 random words, every equalize word, a few other gender-specific words, a Title-cased
    pair, and a zero vector; random lengths so that normalising matters."""
    rng = np.random.default_rng(1234)
    pair_words = [w for p in EQUALIZE_PAIRS for w in p]
    keys = [f"w{i:03d}" for i in range(200)] + list(dict.fromkeys(pair_words)) + EXTRA_SPECIFIC \
        + ["Queen", "King", "nurse", "zero"]
    vecs = rng.normal(size=(len(keys), D))
    # Give the gendered words a shared female/male component so there is a bias to remove.
    e = unit(rng.normal(size=D))
    for f, m in EQUALIZE_PAIRS + (("Queen", "King"),):
        vecs[keys.index(f)] += 3.0 * e
        vecs[keys.index(m)] -= 3.0 * e
    vecs[keys.index("nurse")] += 3.0 * e
    vecs *= rng.uniform(0.5, 3.0, size=(len(keys), 1))
    vecs[keys.index("zero")] = 0.0
    counts = np.arange(len(keys))[::-1] + 5
    return KeyedVectors(keys, vecs.astype(np.float32), counts=counts)


def neutral_keys(kv):
    """Written out independently of debias: keys whose lower case is neither gender-specific nor paired."""
    paired = {w.lower() for p in EQUALIZE_PAIRS for w in p}
    return [k for k in kv.index_to_key if k.lower() not in GENDER_SPECIFIC and k.lower() not in paired]


# --------------------------------------------------------------------------------- word lists


def test_word_lists():
    assert DEFINITIONAL_PAIRS == (("she", "he"), ("her", "his"), ("woman", "man"), ("mary", "john"),
                                  ("herself", "himself"), ("daughter", "son"), ("mother", "father"),
                                  ("gal", "guy"), ("girl", "boy"), ("female", "male"))
    assert set(DEFINITIONAL_PAIRS) <= set(EQUALIZE_PAIRS)
    assert ("queen", "king") in EQUALIZE_PAIRS and ("sister", "brother") in EQUALIZE_PAIRS
    assert len(set(EQUALIZE_PAIRS)) == len(EQUALIZE_PAIRS)
    assert isinstance(GENDER_SPECIFIC, frozenset)
    assert {w for p in EQUALIZE_PAIRS for w in p} <= GENDER_SPECIFIC
    assert all(w == w.lower() for w in GENDER_SPECIFIC)
    assert "actor" not in GENDER_SPECIFIC
    assert 18 <= len(OCCUPATIONS) <= 30 and len(set(OCCUPATIONS)) == len(OCCUPATIONS)
    assert {"nurse", "engineer", "programmer", "homemaker"} <= set(OCCUPATIONS)
    assert not set(OCCUPATIONS) & GENDER_SPECIFIC
    for name in bias.__all__:
        assert hasattr(bias, name), name


# ----------------------------------------------------------------------------- gender_direction


def constructed_kv(c=1.0, noise=0.01, seed=0):
    """female_i = base_i + c e, male_i = base_i − c e (+ noise), base_i ⊥ e."""
    rng = np.random.default_rng(seed)
    e = unit(rng.normal(size=D))
    keys, vecs = [], []
    for f, m in DEFINITIONAL_PAIRS:
        base = rng.normal(size=D)
        base -= (base @ e) * e
        keys += [f, m]
        vecs += [base + c * e + noise * rng.normal(size=D), base - c * e + noise * rng.normal(size=D)]
    return KeyedVectors(keys, np.array(vecs, dtype=np.float32)), e


@pytest.mark.parametrize("method", ["pca", "mean"])
def test_gender_direction_recovers_e(method):
    kv, e = constructed_kv()
    g = gender_direction(kv, method=method)
    assert g.dtype == np.float64 and g.shape == (D,)
    assert abs(np.linalg.norm(g) - 1.0) < 1e-12
    assert g @ e > 0.99                     # ≈ +e: pointing from male to female


@pytest.mark.parametrize("method", ["pca", "mean"])
def test_gender_direction_orientation(method):
    kv, e = constructed_kv(c=0.3, noise=0.2, seed=3)
    g = gender_direction(kv, method=method)
    diffs = [unit(kv[f]) - unit(kv[m]) for f, m in DEFINITIONAL_PAIRS]
    assert np.mean(diffs, axis=0) @ g > 0
    swapped = gender_direction(kv, [(m, f) for f, m in DEFINITIONAL_PAIRS], method=method)
    np.testing.assert_allclose(swapped, -g, atol=1e-12)


def test_gender_direction_pca_is_top_eigenvector():
    kv, _ = constructed_kv(c=0.3, noise=0.3, seed=5)
    # Bolukbasi's PCA by hand: the centred vectors are ±(f − m)/2; top eigenvector of their scatter.
    rows = []
    for f, m in DEFINITIONAL_PAIRS:
        fu, mu = unit(kv[f]), unit(kv[m])
        centre = (fu + mu) / 2
        rows += [fu - centre, mu - centre]
    rows = np.array(rows)
    w, v = np.linalg.eigh(rows.T @ rows)
    top = v[:, np.argmax(w)]
    g = gender_direction(kv, method="pca")
    assert abs(abs(g @ top) - 1.0) < 1e-9
    mean = unit(np.mean([unit(kv[f]) - unit(kv[m]) for f, m in DEFINITIONAL_PAIRS], axis=0))
    np.testing.assert_allclose(gender_direction(kv, method="mean"), mean, atol=1e-12)


def test_gender_direction_skips_missing_pairs():
    kv, _ = constructed_kv()
    g = gender_direction(kv)
    np.testing.assert_allclose(gender_direction(kv, list(DEFINITIONAL_PAIRS) + [("queen", "king")]), g, atol=1e-12)
    assert used_pairs(kv, list(DEFINITIONAL_PAIRS) + [("queen", "king"), ("she", "lord")]) == list(DEFINITIONAL_PAIRS)


def test_gender_direction_too_few_pairs():
    kv = KeyedVectors(["she", "he", "her"], np.array([[1, 1, 0], [-1, 1, 0], [1, 0, 1]], dtype=np.float32))
    with pytest.raises(ValueError) as err:
        gender_direction(kv)
    msg = str(err.value)
    assert "'his'" in msg and "'mary'" in msg and "'john'" in msg and "'she'" not in msg
    # One pair is enough for "mean": the normalised difference.
    np.testing.assert_allclose(gender_direction(kv, method="mean"), [1, 0, 0], atol=1e-12)
    with pytest.raises(ValueError, match="'woman'"):
        gender_direction(kv, [("woman", "man")], method="mean")


def test_gender_direction_bad_arguments():
    kv, _ = constructed_kv()
    with pytest.raises(ValueError, match="method"):
        gender_direction(kv, method="svd")
    with pytest.raises(TypeError, match="pair"):
        gender_direction(kv, ["she", "he"])
    with pytest.raises(TypeError, match="KeyedVectors"):
        gender_direction(np.zeros((3, 3)))


# ------------------------------------------------------------------------------------- project


def test_project_values_are_dot_products():
    kv = KeyedVectors(["nurse", "pilot", "chef"], np.array([[3, 4, 0], [0, 2, 0], [1, 2, 2]], dtype=np.float32))
    res = project(kv, ["pilot", "nurse", "chef"], [2, 0, 0])     # direction normalised to (1, 0, 0)
    assert [w for w, _ in res] == ["pilot", "nurse", "chef"]
    expected = [0.0, 3 / 5, 1 / 3]                               # x / ‖v‖ by hand
    for (_, got), want in zip(res, expected):
        assert abs(got - want) < 1e-7
    res = project(kv, ["chef"], [0, 1, 1])
    assert abs(res[0][1] - (2 + 2) / (3 * math.sqrt(2))) < 1e-7


def test_project_missing_words():
    kv = KeyedVectors(["nurse", "pilot"], np.array([[3, 4], [0, 2]], dtype=np.float32))
    with pytest.raises(KeyError) as err:
        project(kv, ["nurse", "plumber", "chef"], [1, 0])
    assert "'plumber'" in str(err.value) and "'chef'" in str(err.value) and "'nurse'" not in str(err.value)
    assert project(kv, ["plumber", "pilot"], [0, 1], skip_missing=True) == [("pilot", 1.0)]
    with pytest.raises(ValueError, match="dimension"):
        project(kv, ["nurse"], [1, 0, 0])
    with pytest.raises(ValueError, match="zero"):
        project(kv, ["nurse"], [0, 0])
    with pytest.raises(TypeError, match="single string"):
        project(kv, "nurse", [1, 0])


# ---------------------------------------------------------------------------------------- WEAT


@pytest.fixture(scope="module")
def weat_kv():
    # Unit vectors except x1 (length 3) and y1 (length 2): cosines are the dot products of the
    # unit vectors x1 = (1, 0), x2 = (0.8, 0.6), y1 = (0, 1), y2 = (0.6, 0.8),
    # a1 = (1, 0), a2 = (0.6, 0.8), b1 = (0, 1), b2 = (-0.6, 0.8).
    words = {"x1": (3, 0), "x2": (0.8, 0.6), "y1": (0, 2), "y2": (0.6, 0.8),
             "a1": (1, 0), "a2": (0.6, 0.8), "b1": (0, 1), "b2": (-0.6, 0.8)}
    return KeyedVectors(list(words), np.array(list(words.values()), dtype=np.float32))


# s(w) = mean(cos(w, a1), cos(w, a2)) − mean(cos(w, b1), cos(w, b2)), by hand:
S_X1 = (1.0 + 0.6) / 2 - (0.0 + -0.6) / 2          # 0.8 + 0.3 = 1.1
S_X2 = (0.8 + 0.96) / 2 - (0.6 + 0.0) / 2           # 0.88 − 0.3 = 0.58
S_Y1 = (0.0 + 0.8) / 2 - (1.0 + 0.8) / 2            # 0.4 − 0.9 = −0.5
S_Y2 = (0.6 + 1.0) / 2 - (0.8 + 0.28) / 2           # 0.8 − 0.54 = 0.26
A, B = ["a1", "a2"], ["b1", "b2"]


def test_weat_hand_computation(weat_kv):
    assert abs(S_X1 - 1.1) < 1e-12 and abs(S_Y2 - 0.26) < 1e-12
    score = weat_score(weat_kv, ["x1", "x2"], ["y1", "y2"], A, B)
    assert abs(score - ((S_X1 + S_X2) - (S_Y1 + S_Y2))) < 1e-6
    assert abs(score - 1.92) < 1e-6
    mean_all = (S_X1 + S_X2 + S_Y1 + S_Y2) / 4                       # 0.36
    std = math.sqrt(sum((s - mean_all) ** 2 for s in (S_X1, S_X2, S_Y1, S_Y2)) / 3)   # ddof = 1
    want = ((S_X1 + S_X2) / 2 - (S_Y1 + S_Y2) / 2) / std             # 0.96 / 0.6697... = 1.4334...
    got = weat_effect_size(weat_kv, ["x1", "x2"], ["y1", "y2"], A, B)
    assert abs(got - want) < 1e-6
    assert abs(got - 1.43341) < 1e-4
    # Swapping the targets (or the attributes) flips the signs.
    assert abs(weat_effect_size(weat_kv, ["y1", "y2"], ["x1", "x2"], A, B) + want) < 1e-6
    assert abs(weat_score(weat_kv, ["x1", "x2"], ["y1", "y2"], B, A) + 1.92) < 1e-6


def test_weat_p_value_hand_enumeration(weat_kv):
    # X = {x1, y1}, Y = {x2, y2}: observed 1.1 − 0.5 − 0.58 − 0.26 = −0.24. The six partitions of the
    # four s values into two pairs give Σ_X − Σ_Y = ±1.92, ±1.28, ±0.24; strictly above −0.24 are
    # 1.92, 1.28 and 0.24: p = 3/6.
    assert weat_p_value(weat_kv, ["x1", "y1"], ["x2", "y2"], A, B) == 0.5
    # The original split is the most extreme one: nothing is above it.
    assert weat_p_value(weat_kv, ["x1", "x2"], ["y1", "y2"], A, B) == 0.0
    # Unequal sizes: X = {y1}, Y = the other three: observed −0.5 − 1.94 = −2.44; the four
    # one-word choices give 2·s − 1.44 = 0.76, −0.28, −2.44, −0.92: three above.
    assert weat_p_value(weat_kv, ["y1"], ["x1", "x2", "y2"], A, B) == 0.75


def exact_p(s, nx):
    """The exact one-sided permutation p-value, by enumerating every split."""
    n = len(s)
    observed = sum(s[:nx]) - sum(s[nx:])
    above = total = 0
    for chosen in itertools.combinations(range(n), nx):
        stat = sum(s[i] for i in chosen) - sum(s[i] for i in range(n) if i not in chosen)
        above += stat > observed + 1e-12
        total += 1
    return above / total


@pytest.fixture(scope="module")
def random_weat():
    rng = np.random.default_rng(7)
    keys = [f"x{i}" for i in range(6)] + [f"y{i}" for i in range(6)] + [f"a{i}" for i in range(4)] \
        + [f"b{i}" for i in range(4)]
    vecs = rng.normal(size=(len(keys), 5))
    vecs[:6, 0] += 0.5                    # a mild bias of X towards A
    vecs[12:16, 0] += 1.0
    kv = KeyedVectors(keys, vecs.astype(np.float32))
    sets = keys[:6], keys[6:12], keys[12:16], keys[16:]
    unit_of = {k: unit(kv[k]) for k in keys}
    s = [np.mean([unit_of[w] @ unit_of[a] for a in sets[2]]) - np.mean([unit_of[w] @ unit_of[b] for b in sets[3]])
         for w in sets[0] + sets[1]]
    return kv, sets, s


def test_weat_p_value_exact_matches_enumeration(random_weat):
    kv, (X, Y, A_, B_), s = random_weat
    x3, y3 = X[:3], Y[:3]
    s3 = s[:3] + s[6:9]
    assert weat_p_value(kv, x3, y3, A_, B_) == exact_p(s3, 3)                 # 20 splits
    want = exact_p(s, 6)                                                         # 924 splits
    assert weat_p_value(kv, X, Y, A_, B_, permutations=924) == want
    assert 0.0 < want < 0.5
    assert abs(weat_score(kv, X, Y, A_, B_) - (sum(s[:6]) - sum(s[6:]))) < 1e-5


def test_weat_p_value_sampled(random_weat):
    kv, (X, Y, A_, B_), s = random_weat
    exact = exact_p(s, 6)
    p = weat_p_value(kv, X, Y, A_, B_, permutations=400, seed=1)      # 400 < 924 splits: sampled
    assert p == weat_p_value(kv, X, Y, A_, B_, permutations=400, seed=1)
    assert abs(p * 400 - round(p * 400)) < 1e-9
    assert abs(p - exact) < 0.1
    assert p != exact                    # the sampled estimate is not the enumeration


def test_weat_errors(weat_kv):
    with pytest.raises(ValueError, match="set B is empty"):
        weat_effect_size(weat_kv, ["x1"], ["y1"], A, [])
    with pytest.raises(ValueError, match="set X is empty"):
        weat_score(weat_kv, [], ["y1"], A, B)
    with pytest.raises(KeyError) as err:
        weat_p_value(weat_kv, ["x1"], ["y1", "y9"], A, B)
    assert "set Y" in str(err.value) and "'y9'" in str(err.value)
    with pytest.raises(ValueError, match="zero standard deviation"):
        weat_effect_size(weat_kv, ["x1"], ["x1"], A, B)
    with pytest.raises(ValueError, match="permutations"):
        weat_p_value(weat_kv, ["x1"], ["y1"], A, B, permutations=0)
    with pytest.raises(TypeError, match="single string"):
        weat_score(weat_kv, "x1", ["y1"], A, B)


# -------------------------------------------------------------------------------------- debias


@pytest.fixture(scope="module")
def debiased(random_kv):
    before = random_kv.vectors.copy()
    g = gender_direction(random_kv)
    fair = debias(random_kv, g)
    return random_kv, before, g, fair


def test_debias_leaves_input_alone(debiased):
    kv, before, _, fair = debiased
    assert np.array_equal(kv.vectors, before)
    assert fair is not kv and fair.vectors is not kv.vectors
    assert fair.index_to_key == kv.index_to_key and fair.vectors.dtype == np.float32
    assert np.array_equal(fair.counts, kv.counts) and fair.counts is not kv.counts


def test_debias_neutralises(debiased):
    kv, _, g, fair = debiased
    neutral = neutral_keys(kv)
    assert len(neutral) == 202 and "zero" in neutral and "nurse" in neutral
    assert abs(project(kv, ["nurse"], g)[0][1]) > 0.2          # biased before
    for w in neutral:
        v = fair[w].astype(np.float64)
        if w == "zero":
            assert not v.any()                                   # stays zero, no NaN
            continue
        assert abs(v @ g) <= 1e-6, w
        assert abs(np.linalg.norm(v) - 1.0) <= 1e-6, w
        # Only the g component was removed.
        want = unit(unit(kv[w]) - (unit(kv[w]) @ g) * g)
        np.testing.assert_allclose(v, want, atol=1e-6)
    assert np.all(np.isfinite(fair.vectors))


def test_debias_equalises(debiased):
    kv, _, g, fair = debiased
    neutral = [w for w in neutral_keys(kv) if w != "zero"]
    n = fair[neutral].astype(np.float64)
    for a, b in list(EQUALIZE_PAIRS) + [("Queen", "King")]:
        va, vb = fair[a].astype(np.float64), fair[b].astype(np.float64)
        assert abs(np.linalg.norm(va) - 1) <= 1e-6 and abs(np.linalg.norm(vb) - 1) <= 1e-6
        np.testing.assert_allclose(n @ va, n @ vb, atol=1e-6, err_msg=f"{a}/{b}")
        diff = va - vb
        assert np.linalg.norm(diff - (diff @ g) * g) <= 1e-6               # a' − b' ∥ g
        assert np.sign(diff @ g) == np.sign((unit(kv[a]) - unit(kv[b])) @ g)
        # The paper's formula, written out: ν = μ − (μ·g)g, a' = ν ± sqrt(1 − ‖ν‖²) g.
        mu = (unit(kv[a]) + unit(kv[b])) / 2
        nu = mu - (mu @ g) * g
        z = math.sqrt(1 - nu @ nu) * np.sign((unit(kv[a]) - unit(kv[b])) @ g)
        np.testing.assert_allclose(va, nu + z * g, atol=1e-6)
        np.testing.assert_allclose(vb, nu - z * g, atol=1e-6)


def test_debias_keeps_gender_specific(debiased):
    kv, _, _, fair = debiased
    for w in EXTRA_SPECIFIC:
        np.testing.assert_allclose(fair[w], unit(kv[w]), atol=1e-6)


def test_debias_explicit_neutral_and_errors(random_kv):
    g = gender_direction(random_kv)
    fair = debias(random_kv, g, neutral=["w000", "nurse"], equalize=[("queen", "king")], gender_specific=())
    assert abs(fair["nurse"] @ g) <= 1e-6 and abs(fair["w000"] @ g) <= 1e-6
    np.testing.assert_allclose(fair["w001"], unit(random_kv["w001"]), atol=1e-6)     # not listed: only normalised
    np.testing.assert_allclose(fair["she"], unit(random_kv["she"]), atol=1e-6)       # not equalised this time
    np.testing.assert_allclose(fair["nurse"] @ fair["queen"], fair["nurse"] @ fair["king"], atol=1e-6)
    np.testing.assert_allclose(fair["nurse"] @ fair["Queen"], fair["nurse"] @ fair["King"], atol=1e-6)
    with pytest.raises(KeyError, match="'surgeon'"):
        debias(random_kv, g, neutral=["nurse", "surgeon"])
    with pytest.raises(ValueError, match="dimension"):
        debias(random_kv, g[:-1])
    with pytest.raises(ValueError, match="zero"):
        debias(random_kv, np.zeros(D))
    with pytest.raises(TypeError, match="single string"):
        debias(random_kv, g, neutral="nurse")


def test_debias_default_neutral_is_case_insensitive():
    kv = KeyedVectors(["She", "he", "Nurse", "ACTRESS"], np.array(
        [[1, 1, 0], [-1, 1, 0], [1, 1, 1], [2, 1, 1]], dtype=np.float32))
    fair = debias(kv, [1, 0, 0], equalize=[("she", "he")])
    np.testing.assert_allclose(fair["Nurse"], unit([0, 1, 1]), atol=1e-6)          # neutralised
    np.testing.assert_allclose(fair["ACTRESS"], unit([2, 1, 1]), atol=1e-6)        # gender-specific
    np.testing.assert_allclose(fair["She"], unit([1, 1, 0]), atol=1e-6)            # exact key "she" absent


def test_debias_equalize_words_are_not_neutralised_first(random_kv):
    # With no gender-specific list, the equalize words are still kept out of the neutral set, so
    # equalising starts from their original unit vectors and keeps each pair's orientation.
    g = gender_direction(random_kv)
    fair = debias(random_kv, g, equalize=[("king", "queen")], gender_specific=())
    ua, ub = unit(random_kv["king"]), unit(random_kv["queen"])
    assert (ua - ub) @ g < 0                                   # male − female points against g
    mu = (ua + ub) / 2
    nu = mu - (mu @ g) * g
    z = -math.sqrt(1 - nu @ nu)
    np.testing.assert_allclose(fair["king"], nu + z * g, atol=1e-6)
    np.testing.assert_allclose(fair["queen"], nu - z * g, atol=1e-6)
    assert abs(fair["she"] @ g) <= 1e-6                        # not in equalize: neutralised now
