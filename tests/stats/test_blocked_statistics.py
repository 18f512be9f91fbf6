"""Permutation tests and bootstraps that respect a nested grouping (theory/statements.md S9.5), against brute force.

Rows are checkpoints of runs, runs belong to seeds, seeds to methods. The blocked permutation test exchanges whole
runs (their checkpoint sequences, position by position) inside a stratum; it is checked against an explicit list of
every combination of run exchanges (per-group coefficients from scipy.stats), against the row-level test when every
run has one row, for calibration on clustered data where the row-level test is anti-conservative, and for its
one-line errors. The two-stage cluster bootstrap (groups, then clusters inside each drawn group) is checked against
the exact probabilities of its resamples on a tiny case."""

from __future__ import annotations

import collections
import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from idealssl import stats as S
from idealssl.errors import InputError

# ---------------------------------------------------------------- brute force (independent of idealssl.stats)


def _coef(x, y, method):
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return sps.spearmanr(x, y)[0] if method == "spearman" else sps.kendalltau(x, y)[0]


def _brute_force(x, y, groups, units, strata, positions, method):
    """(mean within-group coefficient, two-sided p) listing every exchange of whole units inside each stratum."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    rows_of = collections.defaultdict(dict)  # unit -> {position: row}
    for i, (u, k) in enumerate(zip(units, positions)):
        rows_of[u][k] = i
    members = collections.defaultdict(list)  # stratum -> its units in order of appearance
    for u, s in zip(units, strata):
        if u not in members[s]:
            members[s].append(u)
    choices = []  # per stratum: every bijection of its units
    for us in members.values():
        choices.append([(us, perm) for perm in itertools.permutations(us)])
    labels = list(dict.fromkeys(groups))

    def stat(yy):
        rs = []
        for g in labels:
            ix = [i for i in range(len(x)) if groups[i] == g]
            r = _coef(x[ix], yy[ix], method)
            if r is not None:
                rs.append(r)
        return np.mean(rs)

    t = stat(y)
    null = []
    for combo in itertools.product(*choices):
        yy = y.copy()
        for us, perm in combo:
            for u, v in zip(us, perm):  # unit u receives unit v's values, position by position
                for k, i in rows_of[u].items():
                    yy[i] = y[rows_of[v][k]]
        null.append(stat(yy))
    null = np.array(null)
    return t, float(np.mean(np.abs(null) >= abs(t) - 1e-9 * max(1.0, abs(t))))


# a tiny nested design: per group, 1-2 strata of 1-3 units with 1-3 positions, values 0..3 (ties likely)
def _design(draw_groups):
    x, y, g, u, s, k = [], [], [], [], [], []
    for gi, strata in enumerate(draw_groups):
        for si, (n_pos, units) in enumerate(strata):
            for ui, vals in enumerate(units):
                for pos in range(n_pos):
                    a, b = vals[pos]
                    x.append(a)
                    y.append(b)
                    g.append(gi)
                    u.append(f"{gi}-{si}-{ui}")
                    s.append(f"{gi}-{si}")
                    k.append(pos)
    return x, y, g, u, s, k


values = st.tuples(st.integers(0, 3), st.integers(0, 3))
stratum = st.integers(1, 3).flatmap(
    lambda n_pos: st.tuples(
        st.just(n_pos), st.lists(st.lists(values, min_size=n_pos, max_size=n_pos), min_size=1, max_size=3)
    )
)
nested = st.lists(st.lists(stratum, min_size=1, max_size=2), min_size=1, max_size=2)


@settings(max_examples=30, deadline=None)
@given(design=nested, method=st.sampled_from(S.CORRELATIONS))
@example(
    design=[
        [(2, [[(0, 0), (1, 1)], [(1, 2), (3, 3)]]), (2, [[(2, 0), (0, 1)], [(3, 3), (1, 0)]])],
        [(1, [[(0, 0)], [(1, 2)], [(2, 1)]])],
    ],
    method="kendall",
)
def test_blocked_exact_p_value_equals_brute_force_enumeration(design, method):
    x, y, g, u, s, k = _design(design)
    rows = {gi: [i for i in range(len(x)) if g[i] == gi] for gi in set(g)}
    informative = [gi for gi, ix in rows.items() if _coef([x[i] for i in ix], [y[i] for i in ix], method) is not None]
    if not informative:
        with pytest.raises(InputError):
            S.blocked_permutation_test(x, y, g, u, strata=s, positions=k, method=method)
        return
    res = S.blocked_permutation_test(x, y, g, u, strata=s, positions=k, method=method, exact=True)
    t, p = _brute_force(x, y, g, u, s, k, method)
    assert res.exact and res.statistic == pytest.approx(t, abs=1e-12)
    assert res.p_value == pytest.approx(p, abs=1e-9)


def test_exchanging_runs_is_not_exchanging_rows():
    """Two runs of two checkpoints each, one stratum: two arrangements, not 4! = 24 (the row-level test's)."""
    x, y = [0, 1, 2, 3], [0, 1, 2, 3]
    res = S.blocked_permutation_test(x, y, [0] * 4, ["a", "a", "b", "b"], positions=[0, 1, 0, 1])
    assert res.exact and res.n_permutations == 2 and res.p_value == 0.5  # the swap gives τ = -1/3, |τ| < 1
    rows = S.within_group_permutation_test(x, y, [0] * 4, method="kendall")
    assert rows.n_permutations == 24 and rows.p_value < 0.1


@pytest.mark.parametrize("method", S.CORRELATIONS)
def test_units_of_one_row_are_the_within_group_test(method):
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(3), [5, 6, 4])
    x, y = rng.normal(size=15), rng.normal(size=15) + 0.3 * np.arange(15)
    ref = S.within_group_permutation_test(x, y, g, method)
    got = S.blocked_permutation_test(x, y, g, np.arange(15), method=method)
    assert got.exact and got.p_value == pytest.approx(ref.p_value, abs=1e-12) and got.statistic == ref.statistic
    ref = S.within_group_permutation_test(x, y, g, method, exact=False, n_resamples=999, seed=3)
    got = S.blocked_permutation_test(x, y, g, np.arange(15), method=method, exact=False, n_resamples=999, seed=3)
    assert got.p_value == ref.p_value  # the same draws


def test_monte_carlo_close_to_exact():
    rng = np.random.default_rng(8)
    g = np.repeat([0, 1], 12)
    units = np.repeat(np.arange(8), 3)  # 4 runs of 3 checkpoints per group
    pos = np.tile(np.arange(3), 8)
    x = rng.normal(size=24) + pos
    y = 0.5 * x + rng.normal(size=24)
    exact = S.blocked_permutation_test(x, y, g, units, positions=pos)
    m = 4999
    mc = S.blocked_permutation_test(x, y, g, units, positions=pos, exact=False, n_resamples=m, seed=2)
    assert exact.exact and exact.n_permutations == 24 * 24 and not mc.exact
    assert abs(mc.p_value - exact.p_value) < 4 * math.sqrt(exact.p_value * (1 - exact.p_value) / m) + 2 / m


def test_calibrated_on_clustered_runs_where_the_row_level_test_is_not():
    """Each run carries its own level in x and in y (independent of each other): no link between score and
    accuracy, but the checkpoints of one run move together. Exchanging runs keeps the level of rejection; exchanging
    rows rejects far too often."""
    rng = np.random.default_rng(2026)
    G, runs, ck, R = 2, 6, 4, 150
    g = np.repeat(np.arange(G), runs * ck)
    units = np.repeat(np.arange(G * runs), ck)
    pos = np.tile(np.arange(ck), G * runs)
    blocked = rows = 0
    for _ in range(R):
        x = rng.normal(size=G * runs)[units] + 0.2 * rng.normal(size=len(g))
        y = rng.normal(size=G * runs)[units] + 0.2 * rng.normal(size=len(g))
        kw = {"method": "kendall", "exact": False, "n_resamples": 199}
        blocked += S.blocked_permutation_test(x, y, g, units, positions=pos, **kw).p_value <= 0.05
        rows += S.within_group_permutation_test(x, y, g, **kw).p_value <= 0.05
    assert blocked / R <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / R)
    assert rows / R >= 0.2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"units": [0, 0, 1, 1], "groups": [0, 1, 0, 1]}, "unit .* more than one group"),
        ({"units": [0, 0, 1, 1], "strata": [0, 1, 0, 1]}, "unit .* more than one stratum"),
        ({"units": [0, 1, 2, 3], "strata": [0, 0, 1, 1], "groups": [0, 0, 0, 1]}, "stratum .* more than one group"),
        ({"units": [0, 0, 1, 1], "positions": [0, 1, 0, 2]}, "positions"),
        ({"units": [0, 0, 1, 1], "positions": [0, 0, 0, 1]}, "position .* twice or more"),
        ({"units": [0, 0, 1]}, "one label per row"),
    ],
)
def test_bad_input_is_one_line_input_error(kwargs, match):
    args = {"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 0.0, 3.0, 2.0], "groups": [0, 0, 0, 0], **kwargs}
    with pytest.raises(InputError, match=match) as e:
        S.blocked_permutation_test(**args)
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- the two-stage cluster bootstrap


def test_two_stage_bootstrap_draws_each_resample_with_its_exact_probability():
    """2 groups of 2 clusters (one of 1 row, one of 2 rows): a resample draws 2 groups with replacement, then in each
    drawn group 2 clusters with replacement. Its probability, listed over all 2^2 x (2^2)^2 equally likely draws,
    against the frequencies of 20,000 resamples."""
    rows = np.arange(6)
    groups = np.array([0, 0, 0, 1, 1, 1])
    clusters = np.array([0, 1, 1, 2, 3, 3])
    seen: list = []

    def record(r, groups):
        seen.append(tuple(sorted(tuple(sorted(r[groups == k].tolist())) for k in np.unique(groups))))
        return 0.0

    S.cluster_bootstrap(record, (rows,), groups, n_resamples=20_000, clusters=clusters)
    seen = seen[1:20_001]  # the first call is the statistic on the data
    members = {0: [[0], [1, 2]], 1: [[3], [4, 5]]}
    exact: collections.Counter = collections.Counter()
    for top in itertools.product([0, 1], repeat=2):
        for inner in itertools.product(*[itertools.product(members[t], repeat=2) for t in top]):
            key = tuple(sorted(tuple(sorted(sum(pair, []))) for pair in inner))
            exact[key] += 1 / (4 * 16)
    freq = collections.Counter(seen)
    assert set(freq) <= set(exact)
    for key, p in exact.items():
        assert abs(freq[key] / len(seen) - p) < 4 * math.sqrt(p * (1 - p) / len(seen)) + 1e-3


def test_correlation_difference_with_clusters_equals_the_generic_two_stage_bootstrap():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(4), 12)
    cl = np.repeat(np.arange(16), 3)
    y = rng.normal(size=48)
    a, b = y + rng.normal(size=48), rng.normal(size=48)

    def diff(a_, b_, y_, groups):
        ta = S.within_group_correlation(a_, y_, groups, "kendall")
        return ta - S.within_group_correlation(b_, y_, groups, "kendall")

    ref = S.cluster_bootstrap(diff, (a, b, y), g, n_resamples=300, seed=5, clusters=cl)
    got = S.correlation_difference_interval(a, b, y, g, n_resamples=300, seed=5, clusters=cl)
    assert got.estimate == pytest.approx(ref.estimate) and got.method == "cluster-two-stage-percentile"
    assert (got.low, got.high) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert got.low > 0


def test_two_stage_bootstrap_bad_input():
    g, cl = [0, 0, 1, 1], [0, 0, 1, 1]
    with pytest.raises(InputError, match="percentile"):
        S.cluster_bootstrap(lambda v, groups: 0.0, ([1.0, 2, 3, 4],), g, clusters=cl, method="bca")
    with pytest.raises(InputError, match="cluster .* more than one group"):
        S.cluster_bootstrap(lambda v, groups: 0.0, ([1.0, 2, 3, 4],), g, clusters=[0, 1, 1, 2])
