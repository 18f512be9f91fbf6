"""idealssl.stats against brute force, closed forms and SciPy (theory/statements.md, S9).

The permutation test is checked against an explicit enumeration of every combination of within-group
arrangements (per-group coefficients from scipy.stats), against SciPy's own permutation test for one group, for
calibration under H0, for invariance to how the groups are named, and on a case where scipy.stats.spearmanr on
group-centred values is anti-conservative. Intervals are checked against SciPy's t intervals and bootstrap, and
the cluster bootstrap for coverage on clustered data."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from idealssl import stats as S
from idealssl.errors import InputError

# ---------------------------------------------------------------- brute force (independent of idealssl.stats)


def _coef(x, y, method):
    """scipy's coefficient of one group; None when undefined (constant x or y, fewer than 2 rows)."""
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    if method == "spearman":
        return sps.spearmanr(x, y)[0]
    return sps.kendalltau(x, y)[0]  # tau-b


def _pooled_terms(x, y, method):
    """(numerator, X, Y) of the pooled coefficient, written out from the definition."""
    n = len(x)
    if method == "spearman":
        rx, ry = sps.rankdata(x) - (n + 1) / 2, sps.rankdata(y) - (n + 1) / 2
        return float(rx @ ry), float(rx @ rx), float(ry @ ry)
    num = sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i in range(n) for j in range(i + 1, n))
    dx = sum(x[i] != x[j] for i in range(n) for j in range(i + 1, n))
    dy = sum(y[i] != y[j] for i in range(n) for j in range(i + 1, n))
    return float(num), float(dx), float(dy)


def _brute_force(x, y, groups, method, weighting, alternative):
    """(statistic, p) by listing every combination of within-group arrangements of y."""
    x, y, groups = np.asarray(x, float), np.asarray(y, float), np.asarray(groups)
    parts = [np.flatnonzero(groups == g) for g in dict.fromkeys(groups.tolist())]
    parts = [ix for ix in parts if _coef(x[ix], y[ix], method) is not None]

    def stat(ys):
        if weighting == "mean":
            return np.mean([_coef(x[ix], yy, method) for ix, yy in zip(parts, ys)])
        terms = np.array([_pooled_terms(x[ix], yy, method) for ix, yy in zip(parts, ys)])
        return terms[:, 0].sum() / math.sqrt(terms[:, 1].sum() * terms[:, 2].sum())

    t = stat([y[ix] for ix in parts])
    per_group = [[y[ix][list(p)] for p in itertools.permutations(range(len(ix)))] for ix in parts]
    null = np.array([stat(list(combo)) for combo in itertools.product(*per_group)])
    tol = 1e-9 * max(1.0, abs(t))
    hit = {"two-sided": np.abs(null) >= abs(t) - tol, "greater": null >= t - tol, "less": null <= t + tol}[alternative]
    return t, hit.mean()


grouped = st.integers(1, 3).flatmap(
    lambda G: st.tuples(
        *[st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=4) for _ in range(G)]
    )
)


@settings(max_examples=25)
@given(
    data=grouped,
    method=st.sampled_from(S.CORRELATIONS),
    weighting=st.sampled_from(("mean", "pooled")),
    alternative=st.sampled_from(("two-sided", "greater", "less")),
)
@example(data=(((0, 0), (1, 1), (2, 2)), ((0, 1), (1, 0), (2, 2), (3, 3))), method="spearman",
         weighting="mean", alternative="two-sided")  # fmt: skip
@example(data=(((0, 0), (1, 1)), ((0, 0), (0, 1)), ((1, 2), (2, 2), (3, 0))), method="kendall",
         weighting="pooled", alternative="less")  # fmt: skip
def test_exact_p_value_equals_brute_force_enumeration(data, method, weighting, alternative):
    x = [a for grp in data for a, _ in grp]
    y = [b for grp in data for _, b in grp]
    g = [k for k, grp in enumerate(data) for _ in grp]
    informative = [grp for grp in data if _coef([a for a, _ in grp], [b for _, b in grp], method) is not None]
    if not informative:
        with pytest.raises(InputError):
            S.within_group_permutation_test(x, y, g, method, weighting, alternative)
        assert math.isnan(S.within_group_correlation(x, y, g, method, weighting))
        return
    res = S.within_group_permutation_test(x, y, g, method, weighting, alternative)
    t, p = _brute_force(x, y, g, method, weighting, alternative)
    assert res.exact and res.seed is None
    assert res.statistic == pytest.approx(t, abs=1e-12)
    assert res.p_value == pytest.approx(p, abs=1e-9)
    assert res.n_informative == len(informative) and res.n_groups == len(data) and res.n == len(x)
    assert res.n_permutations == math.prod(math.factorial(len(grp)) for grp in informative)
    assert S.within_group_correlation(x, y, g, method, weighting) == pytest.approx(t, abs=1e-12)


def test_per_group_coefficients_are_scipys_with_ties():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(6), [2, 3, 5, 7, 4, 9])
    x, y = rng.integers(0, 4, len(g)).astype(float), rng.integers(0, 5, len(g)).astype(float)
    for method in S.CORRELATIONS:
        res = S.within_group_permutation_test(x, y, g, method, exact=False, n_resamples=10)
        for k, r in res.per_group.items():
            ref = _coef(x[g == k], y[g == k], method)
            assert (math.isnan(r) and ref is None) or r == pytest.approx(ref, abs=1e-12)
        used = [r for r in res.per_group.values() if not math.isnan(r)]
        assert res.statistic == pytest.approx(np.mean(used), abs=1e-12)


@pytest.mark.parametrize("method", S.CORRELATIONS)
def test_one_group_is_the_ordinary_permutation_test(method):
    """One group: scipy.stats.permutation_test over all 6! pairings gives the same one-sided p-values."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=6), rng.normal(size=6) + 0.5 * np.arange(6)
    f = (lambda a: sps.spearmanr(a, y)[0]) if method == "spearman" else (lambda a: sps.kendalltau(a, y)[0])
    for alt in ("greater", "less"):
        ref = sps.permutation_test((x,), f, permutation_type="pairings", alternative=alt, n_resamples=np.inf)
        res = S.within_group_permutation_test(x, y, np.zeros(6), method, alternative=alt)
        assert res.exact and res.n_permutations == 720
        assert res.p_value == pytest.approx(ref.pvalue, abs=1e-12)


def test_monte_carlo_p_value_is_b_plus_one_over_m_plus_one_and_close_to_exact():
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(8), 4)
    x = rng.normal(size=32)
    y = 0.6 * x + rng.normal(size=32)
    exact = S.within_group_permutation_test(x, y, g)
    m = 4999
    mc = S.within_group_permutation_test(x, y, g, n_resamples=m, exact=False, seed=11)
    assert not mc.exact and mc.seed == 11 and mc.n_permutations == m
    b = mc.p_value * (m + 1) - 1
    assert b == pytest.approx(round(b), abs=1e-6) and b >= 0
    se = math.sqrt(exact.p_value * (1 - exact.p_value) / m)
    assert abs(mc.p_value - exact.p_value) < 4 * se + 1 / m
    assert mc == S.within_group_permutation_test(x, y, g, n_resamples=m, exact=False, seed=11)  # seeded


def test_exact_is_refused_or_replaced_when_groups_are_large():
    rng = np.random.default_rng(1)
    x, y, g = rng.normal(size=20), rng.normal(size=20), np.repeat([0, 1], 10)
    with pytest.raises(InputError, match="exact null is too large"):
        S.within_group_permutation_test(x, y, g, exact=True)
    res = S.within_group_permutation_test(x, y, g, n_resamples=99)
    assert not res.exact and res.n_permutations == 99


def test_calibrated_under_h0():
    """H0 (within each group, y independent of x): P(p ≤ α) ≤ α up to binomial noise, and not far below it."""
    rng = np.random.default_rng(2026)
    R = 300
    exact, mc = [], []
    for r in range(R):
        g = np.repeat(np.arange(6), 4)
        x, y = rng.normal(size=24) + g, rng.normal(size=24) * (1 + g)
        exact.append(S.within_group_permutation_test(x, y, g, "kendall" if r % 2 else "spearman").p_value)
        if r < 100:
            mc.append(S.within_group_permutation_test(x, y, g, exact=False, n_resamples=199, seed=r).p_value)
    for ps, n in ((np.array(exact), R), (np.array(mc), 100)):
        for a in (0.05, 0.1, 0.25, 0.5):
            sd = math.sqrt(a * (1 - a) / n)
            assert (ps <= a).mean() <= a + 3 * sd
            assert (ps <= a).mean() >= a - 4 * sd - 0.03  # discreteness makes it a little conservative


def test_pooled_spearmanr_on_centred_values_is_anti_conservative_the_grouped_test_is_not():
    """Groups of 3 with their own level and spread (like seeds of methods), x and y independent inside each:
    scipy.stats.spearmanr on group-centred values rejects H0 at 5 % far more than 5 % of the time."""
    rng = np.random.default_rng(1)
    G, n, R = 10, 3, 200
    g = np.repeat(np.arange(G), n)
    naive, grouped = [], []
    for _ in range(R):
        scale, level = np.exp(rng.normal(0, 1.5, G)), rng.normal(0, 5, G)
        x = level[g] + scale[g] * rng.normal(size=G * n)
        y = 2 * level[g] + scale[g] * rng.normal(size=G * n)
        centred = [v - np.array([v[g == k].mean() for k in range(G)])[g] for v in (x, y)]
        naive.append(sps.spearmanr(*centred)[1])
        grouped.append(S.within_group_permutation_test(x, y, g).p_value)
    sd = math.sqrt(0.05 * 0.95 / R)
    assert np.mean(np.array(naive) <= 0.05) > 0.10
    assert np.mean(np.array(grouped) <= 0.05) <= 0.05 + 3 * sd


def test_invariant_to_renaming_groups_and_reordering_rows():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(5), 4)
    x = rng.normal(size=20)
    y = x + rng.normal(size=20)
    names = np.array(["e", "b", "d", "a", "c"])[g]
    order = rng.permutation(20)
    for method in S.CORRELATIONS:
        ref = S.within_group_permutation_test(x, y, g, method)
        other = S.within_group_permutation_test(x[order], y[order], names[order], method)
        assert other.statistic == pytest.approx(ref.statistic, abs=1e-12)
        assert other.p_value == pytest.approx(ref.p_value, abs=1e-12)
        mc = S.within_group_permutation_test(x, y, g, method, exact=False, n_resamples=499)
        assert S.within_group_permutation_test(x, y, g + 7, method, exact=False, n_resamples=499).p_value == mc.p_value
        assert S.within_group_permutation_test(x, y, names, method, exact=False, n_resamples=499).p_value == (
            mc.p_value
        )


def test_constant_groups_are_left_out_and_all_constant_is_refused():
    x = [1, 2, 3, 5, 5, 5, 1, 2, 3]
    y = [1, 2, 3, 1, 2, 3, 3, 3, 3]
    g = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    res = S.within_group_permutation_test(x, y, g)
    assert res.n_groups == 3 and res.n_informative == 1 and res.statistic == pytest.approx(1.0)
    assert math.isnan(res.per_group[1]) and math.isnan(res.per_group[2])
    assert res.p_value == pytest.approx(2 / 6)  # one group of 3: ρ = ±1 each in 1 of 6 arrangements
    with pytest.raises(InputError, match="no group"):
        S.within_group_permutation_test([1, 1, 2, 2], [3, 4, 5, 6], [0, 0, 1, 1])
    assert math.isnan(S.within_group_correlation([1, 2], [3, 4], [0, 1]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": [1, 2, 3], "y": [1, 2]}, "same length"),
        ({"x": [1, float("nan"), 3]}, "non-finite"),
        ({"x": []}, "non-empty"),
        ({"x": ["a", "b", "c"]}, "numbers"),
        ({"groups": [0, 1]}, "one label per row"),
        ({"groups": [None, 1, "a"]}, "comparable"),
        ({"method": "pearson"}, "method must be one of"),
        ({"weighting": "median"}, "weighting must be one of"),
        ({"alternative": "both"}, "alternative must be one of"),
        ({"n_resamples": 0}, "positive integer"),
    ],
)
def test_bad_input_is_one_line_input_error(kwargs, match):
    args = {"x": [1, 2, 3], "y": [3, 1, 2], "groups": [0, 0, 0], **kwargs}
    with pytest.raises(InputError, match=match) as e:
        S.within_group_permutation_test(**args)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- t intervals and the verdict


def test_t_interval_critical_value_and_scipy():
    v = [0.1, 0.5, 0.9]
    iv = S.t_interval(v)
    se = np.std(v, ddof=1) / math.sqrt(3)
    assert (iv.high - iv.estimate) / se == pytest.approx(4.303, abs=5e-4)  # t_{0.975, 2}
    assert iv.df == 2 and iv.n == 3
    ref = sps.ttest_1samp(v, 0).confidence_interval(0.95)
    assert (iv.low, iv.high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    # "more than 2 standard errors above 0" holds here (0.5 - 2 * 0.23 > 0); the t interval cannot tell
    assert 0.5 - 2 * se > 0 and S.verdict(iv) == "cannot discriminate"
    assert S.t_interval(v, 0.99).high - 0.5 == pytest.approx(sps.t.ppf(0.995, 2) * se)


def test_welch_interval_matches_scipy():
    a, b = [0.30, 0.28, 0.35, 0.31], [0.22, 0.25, 0.20]
    iv = S.welch_interval(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (iv.low, iv.high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert iv.estimate == pytest.approx(np.mean(a) - np.mean(b)) and iv.method == "welch-t"
    one = S.welch_interval([0.3], b)
    assert one.low == -math.inf and one.high == math.inf and S.verdict(one) == "cannot discriminate"


def test_one_value_cannot_discriminate_and_no_value_is_refused():
    iv = S.t_interval([0.7])
    assert iv.low == -math.inf and iv.high == math.inf and iv.estimate == 0.7
    assert S.verdict(iv, 0.5) == "cannot discriminate"
    assert iv.as_dict()["low"] is None  # JSON-safe
    with pytest.raises(InputError):
        S.t_interval([])
    with pytest.raises(InputError, match="confidence"):
        S.t_interval([1.0, 2.0], confidence=1.0)


def test_verdict_three_ways():
    iv = S.Interval(0.5, 0.2, 0.8, 0.95, "t", 3)
    assert S.verdict(iv) == "held" and S.verdict(iv, 0.9) == "not held" and S.verdict(iv, 0.5) == "cannot discriminate"
    assert S.verdict(iv, 0.9, "less") == "held" and S.verdict(iv, 0.1, "less") == "not held"
    assert S.verdict(iv, 0.2) == "cannot discriminate"  # the closed interval reaches the threshold
    with pytest.raises(InputError):
        S.verdict(iv, claim="bigger")


# ---------------------------------------------------------------- cluster bootstrap


def test_cluster_bootstrap_with_one_row_per_cluster_matches_scipy_bootstrap():
    x = np.random.default_rng(0).exponential(size=30)
    for how, ref_method in (("percentile", "percentile"), ("bca", "BCa")):
        iv = S.cluster_bootstrap(lambda v, groups: v.mean(), (x,), np.arange(30), n_resamples=8000, method=how)
        ref = sps.bootstrap((x,), np.mean, n_resamples=8000, method=ref_method, rng=np.random.default_rng(1))
        ci = ref.confidence_interval
        assert iv.low == pytest.approx(ci.low, abs=0.04) and iv.high == pytest.approx(ci.high, abs=0.06)
        assert iv.estimate == x.mean() and iv.n == 30 and iv.n_failed == 0


def test_a_group_drawn_twice_counts_twice():
    g = np.repeat(np.arange(4), [1, 2, 3, 4])
    iv = S.cluster_bootstrap(lambda v, groups: len(np.unique(groups)), (np.ones(10),), g, n_resamples=50)
    assert iv.low == iv.high == iv.estimate == 4


def test_cluster_bootstrap_covers_on_clustered_data_and_the_row_bootstrap_does_not():
    rng = np.random.default_rng(7)
    G, n, reps = 12, 5, 60
    g = np.repeat(np.arange(G), n)
    cover_cluster = cover_rows = 0
    for r in range(reps):
        v = rng.normal(size=G)[g] + 0.3 * rng.normal(size=G * n)  # true mean 0, strong within-cluster correlation
        a = S.cluster_bootstrap(lambda u, groups: u.mean(), (v,), g, n_resamples=300, seed=r)
        b = S.cluster_bootstrap(lambda u, groups: u.mean(), (v,), np.arange(G * n), n_resamples=300, seed=r)
        cover_cluster += a.low <= 0 <= a.high
        cover_rows += b.low <= 0 <= b.high
    assert cover_cluster / reps >= 0.8
    assert cover_rows / reps <= 0.7


@pytest.mark.parametrize("method", S.CORRELATIONS)
@pytest.mark.parametrize("weighting", ("mean", "pooled"))
@pytest.mark.parametrize("ci", ("percentile", "bca"))
def test_correlation_difference_interval_equals_the_generic_cluster_bootstrap(method, weighting, ci):
    rng = np.random.default_rng(9)
    g = np.repeat(np.arange(7), [3, 3, 4, 2, 5, 3, 3])
    t = rng.normal(size=len(g))
    a = t + 0.5 * rng.normal(size=len(g))
    b = rng.integers(0, 3, len(g)).astype(float)
    b[g == 0] = 1.0  # one group where b is constant (left out of T(b) only)

    def diff(sa, sb, tt, groups):
        return S.within_group_correlation(sa, tt, groups, method, weighting) - S.within_group_correlation(
            sb, tt, groups, method, weighting
        )

    fast = S.correlation_difference_interval(a, b, t, g, method, weighting, n_resamples=150, ci=ci, seed=3)
    slow = S.cluster_bootstrap(diff, (a, b, t), g, n_resamples=150, method=ci, seed=3)
    for f in ("estimate", "low", "high"):
        assert getattr(fast, f) == pytest.approx(getattr(slow, f), abs=1e-12)
    assert fast.n_failed == slow.n_failed
    single = S.correlation_difference_interval(a, None, t, g, method, weighting, n_resamples=150, ci=ci, seed=3)
    ref = S.cluster_bootstrap(
        lambda sa, tt, groups: S.within_group_correlation(sa, tt, groups, method, weighting),
        (a, t), g, n_resamples=150, method=ci, seed=3,
    )  # fmt: skip
    assert (single.low, single.high) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_correlation_difference_interval_finds_the_better_score():
    rng = np.random.default_rng(12)
    g = np.repeat(np.arange(10), 6)
    t = rng.normal(size=60)
    good, noise = t + 0.3 * rng.normal(size=60), rng.normal(size=60)
    iv = S.correlation_difference_interval(good, noise, t, g)
    assert S.verdict(iv) == "held"
    assert S.verdict(S.correlation_difference_interval(noise, good, t, g)) == "not held"
    same = S.correlation_difference_interval(good, good, t, g, n_resamples=50)
    assert same.low == same.high == same.estimate == 0


def test_cluster_bootstrap_bad_input():
    with pytest.raises(InputError, match="at least 2 groups"):
        S.cluster_bootstrap(lambda v, groups: v.mean(), ([1.0, 2.0],), [0, 0])
    with pytest.raises(InputError, match="at least 2 groups"):
        S.correlation_difference_interval([1, 2, 3], [3, 2, 1], [1, 2, 3], [0, 0, 0])
    with pytest.raises(InputError, match="method"):
        S.cluster_bootstrap(lambda v, groups: v.mean(), ([1.0, 2.0],), [0, 1], method="studentized")
    with pytest.raises(InputError, match="one length"):
        S.cluster_bootstrap(lambda v, w, groups: v.mean(), ([1.0, 2.0], [1.0]), [0, 1])
    iv = S.cluster_bootstrap(lambda v, groups: math.nan, ([1.0, 2.0],), [0, 1], n_resamples=20)
    assert math.isnan(iv.low) and iv.n_failed == 20


# ---------------------------------------------------------------- top-1 regret


def test_top1_regret_against_brute_force():
    rng = np.random.default_rng(8)
    g = rng.integers(0, 6, 40)
    s, y = rng.integers(0, 4, 40).astype(float), rng.normal(size=40)
    res = S.top1_regret(s, y, g)
    expect = {}
    for k in set(g.tolist()):
        idx = [i for i in range(40) if g[i] == k]
        best = max(s[i] for i in idx)
        chosen = [y[i] for i in idx if s[i] == best]
        expect[k] = max(y[i] for i in idx) - sum(chosen) / len(chosen)
    assert res.per_group == pytest.approx(expect)
    assert res.mean == pytest.approx(np.mean(list(expect.values()))) and res.n_groups == len(expect)
    assert all(v >= 0 for v in res.per_group.values())
    flipped = S.top1_regret(-s, -y, g, score_larger_is_better=False, target_larger_is_better=False)
    assert flipped.per_group == pytest.approx(res.per_group)


def test_top1_regret_zero_for_a_perfect_score_and_bad_input():
    g = [0, 0, 0, 1, 1]
    y = [0.9, 0.95, 0.8, 0.5, 0.6]
    assert S.top1_regret(y, y, g).mean == 0
    assert S.top1_regret([3, 2, 1, 2, 1], y, g).per_group == pytest.approx({0: 0.05, 1: 0.1})
    with pytest.raises(InputError, match="same length"):
        S.top1_regret([1, 2], [1, 2, 3], [0, 0, 0])


def test_results_are_json_safe():
    import json

    res = S.within_group_permutation_test([1, 2, 3, 1, 1, 1], [1, 3, 2, 1, 2, 3], ["a", "a", "a", "b", "b", "b"])
    d = res.as_dict()
    json.dumps(d, allow_nan=False)
    assert d["per_group"] == {"a": 0.5, "b": None}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        json.dumps(S.t_interval([1.0]).as_dict(), allow_nan=False)
