"""Statistics of grouped runs and few seeds: the one home of every test and interval on recorded results.

Runs come in groups (the seeds of one method, the checkpoints of one run, the configurations of one sweep); treating
them as independent draws makes p-values too small. This module holds the procedures that respect the grouping
(theory/statements.md, S9):

* :func:`within_group_permutation_test`: a stratified permutation test of a rank correlation (Spearman or
  Kendall), the statistic being the mean or the pooled within-group coefficient, the labels permuted only inside
  each group (S9.1);
* :func:`cluster_bootstrap`, :func:`correlation_difference_interval`: confidence intervals that resample whole
  groups (S9.2);
* :func:`t_interval`, :func:`welch_interval`, :func:`verdict`: Student-t intervals over a few seeds and the
  three-way verdict "held" / "not held" / "cannot discriminate" (S9.3);
* :func:`top1_regret`: what choosing the best-scored run of each group costs in the target (S9.4).

NumPy and SciPy only (no torch). Bad input raises :class:`idealssl.errors.InputError` with a one-line message.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy import stats as _sps

from .errors import InputError
from .jsonutil import plain

__all__ = [
    "CORRELATIONS",
    "GroupedCorrelation",
    "Interval",
    "Regret",
    "within_group_correlation",
    "within_group_permutation_test",
    "blocked_permutation_test",
    "cluster_bootstrap",
    "correlation_difference_interval",
    "t_interval",
    "welch_interval",
    "verdict",
    "top1_regret",
]

CORRELATIONS = ("spearman", "kendall")
WEIGHTINGS = ("mean", "pooled")
ALTERNATIVES = ("two-sided", "greater", "less")
EXACT_MAX_GROUP = 8  # exact null: every group enumerated (8! = 40,320 arrangements) ...
EXACT_MAX_PRODUCTS = 20_000_000  # ... and the convolution's support times a group's support stays below this
_TOL = 1e-9  # statistics within this of the observed one count as "as extreme" (floating-point sums)


# ---------------------------------------------------------------- validation
def _vector(v, name: str) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a list of numbers") from None
    if a.ndim != 1 or a.size == 0:
        raise InputError(f"{name} must be a non-empty 1-D list of numbers, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise InputError(f"{name} has a non-finite value at position {int(np.flatnonzero(~np.isfinite(a))[0])}")
    return a


def _group_ids(groups, n: int) -> tuple[np.ndarray, list]:
    """Group index of each row (0, 1, ... in order of first appearance) and the labels in that order."""
    g = np.asarray(groups)
    if g.ndim != 1 or len(g) != n:
        raise InputError(f"groups must give one label per row ({n}), got shape {g.shape}")
    try:
        _, first, inverse = np.unique(g, return_index=True, return_inverse=True)
    except TypeError:
        raise InputError("group labels must be comparable with each other (all numbers or all strings)") from None
    order = np.argsort(first, kind="stable")  # label ids by first appearance: renaming labels changes nothing
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = [g[first[k]].item() if hasattr(g[first[k]], "item") else g[first[k]] for k in order]
    return rank[inverse.ravel()], labels


def _choice(value, allowed: Sequence[str], name: str) -> str:
    if value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


# ---------------------------------------------------------------- per-group coefficients
@dataclass
class _Group:
    """One informative group: its coefficient r for any arrangement of its y (``coef``), r at the observed
    arrangement, and the tie terms X, Y that fix its pooled weight (Spearman: ‖r̃x‖², ‖r̃y‖²; Kendall: the
    numbers of pairs untied in x and in y), all invariant under rearranging y."""

    method: str
    y: np.ndarray  # Spearman: centred average ranks of y; Kendall: the values of y
    sx: np.ndarray  # Spearman: centred average ranks of x; Kendall: sign(x_i - x_j) over pairs i < j
    X: float
    Y: float
    pairs: tuple[np.ndarray, np.ndarray] | None = None
    r: float = math.nan
    #: the exchangeable blocks: per stratum, a (units x positions) matrix of the group's row indices; an arrangement
    #: gives unit i the y of unit π(i), position by position (None: one stratum whose units are single rows)
    layout: list[np.ndarray] | None = None

    def strata(self) -> list[np.ndarray]:
        return self.layout if self.layout is not None else [np.arange(len(self.y))[:, None]]

    def n_arrangements(self) -> int:
        return math.prod(math.factorial(len(b)) for b in self.strata())

    def _compose(self, unit_perms: list[np.ndarray]) -> np.ndarray:
        """Row arrangements (m, n) from one unit permutation per stratum ((m, units) each): perm[B[i]] = B[π(i)]."""
        m = len(unit_perms[0])
        out = np.empty((m, len(self.y)), dtype=np.int64)
        for b, pi in zip(self.strata(), unit_perms):
            out[:, b] = b[pi]
        return out

    def all_arrangements(self) -> np.ndarray:
        """Every arrangement, each once: the product over strata of all permutations of their units."""
        per = [np.array(list(itertools.permutations(range(len(b))))) for b in self.strata()]
        combos = itertools.product(*[range(len(q)) for q in per])
        idx = np.array(list(combos)).T
        return self._compose([q[i] for q, i in zip(per, idx)])

    def random_arrangements(self, m: int, rng: np.random.Generator) -> np.ndarray:
        """m independent uniform arrangements (one uniform unit permutation per stratum)."""
        return self._compose([np.argsort(rng.random((m, len(b))), axis=1) for b in self.strata()])

    def coef(self, perms: np.ndarray) -> np.ndarray:
        """Coefficients of the arrangements ``y[perms[k]]`` (rows of ``perms``) against x."""
        norm = math.sqrt(self.X * self.Y)
        if self.pairs is None:
            return (self.y[perms] @ self.sx) / norm
        i, j = self.pairs
        out = np.empty(len(perms))
        step = max(1, 4_000_000 // max(1, len(i)))
        for s in range(0, len(perms), step):
            yp = self.y[perms[s : s + step]]
            out[s : s + step] = (np.sign(yp[:, i] - yp[:, j]) @ self.sx) / norm
        return out


def _make_group(x: np.ndarray, y: np.ndarray, method: str) -> _Group | None:
    """The group's data, or None when its coefficient is undefined (fewer than 2 rows, x or y constant)."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    if method == "spearman":
        rx = _sps.rankdata(x) - (len(x) + 1) / 2
        ry = _sps.rankdata(y) - (len(y) + 1) / 2
        g = _Group(method, ry, rx, float(rx @ rx), float(ry @ ry))
    else:
        i, j = np.triu_indices(len(x), 1)
        sx = np.sign(x[i] - x[j])
        dy = np.count_nonzero(np.sign(y[i] - y[j]))
        g = _Group(method, y, sx, float(np.count_nonzero(sx)), float(dy), (i, j))
    g.r = float(g.coef(np.arange(len(x))[None])[0])
    return g


def _groups(x, y, groups, method: str, weighting: str) -> tuple[list, list, np.ndarray]:
    """Validated inputs → (group labels in order of first appearance, each group's _Group or None, the group index
    of each of the n pairs, :func:`_group_ids`)."""
    _choice(method, CORRELATIONS, "method")
    _choice(weighting, WEIGHTINGS, "weighting")
    x, y = _vector(x, "x"), _vector(y, "y")
    if len(x) != len(y):
        raise InputError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    gid, labels = _group_ids(groups, len(x))
    return labels, [_make_group(x[gid == k], y[gid == k], method) for k in range(len(labels))], gid


def _weights(used: list[_Group], weighting: str, counts: np.ndarray) -> np.ndarray:
    """a_g of T = Σ_g a_g r_g, for each row of ``counts`` (how many times each informative group is present:
    1 for the data, the draw counts for a cluster-bootstrap resample). Rows with no group present give NaN."""
    c = np.asarray(counts, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        if weighting == "mean":
            return c / c.sum(-1, keepdims=True)
        X, Y = np.array([g.X for g in used]), np.array([g.Y for g in used])
        return c * np.sqrt(X * Y) / np.sqrt((c @ X) * (c @ Y))[..., None]


def within_group_correlation(x, y, groups, method: str = "spearman", weighting: str = "mean") -> float:
    """The within-group rank correlation T = Σ_g a_g r_g of x and y (theory/statements.md, S9.1).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Paired values (e.g. a label-free score and a probe accuracy, one pair per run).
    groups : array_like, shape (n,)
        Group label of each pair (e.g. the method); any hashable values.
    method : {"spearman", "kendall"}
        r_g is Spearman's ρ (Pearson correlation of average ranks) or Kendall's τ_b inside group g.
    weighting : {"mean", "pooled"}
        ``"mean"``: a_g = 1/G, the unweighted mean over the G informative groups. ``"pooled"``: one coefficient
        from the pooled within-group quantities, Σ_g ⟨r̃x_g, r̃y_g⟩ / sqrt(Σ_g ‖r̃x_g‖² Σ_g ‖r̃y_g‖²) with r̃ the
        within-group centred ranks (Spearman), or Σ_g S_g / sqrt(Σ_g D_x,g Σ_g D_y,g) with S_g the sum of
        concordance signs and D the numbers of untied pairs (Kendall); both are Σ_g a_g r_g with
        a_g = sqrt(X_g Y_g) / sqrt(Σ X Σ Y) fixed by the group's ties alone.

    Returns
    -------
    float
        T; NaN when no group is informative (every group has fewer than 2 pairs, or constant x or y).

    Notes
    -----
    A group whose x or y is constant has no defined coefficient and no permutation changes that: it is left out
    (it carries no information about the ordering). Ties elsewhere use average ranks (Spearman) and τ_b (Kendall).
    Ties are exact equalities: round first when equal quantities may differ in their last bits (e.g. means of
    accuracies summed in different orders).
    """
    used = [g for g in _groups(x, y, groups, method, weighting)[1] if g is not None]
    if not used:
        return math.nan
    return float(_weights(used, weighting, np.ones(len(used))) @ np.array([g.r for g in used]))


# ---------------------------------------------------------------- S9.1: the stratified permutation test
@dataclass(frozen=True)
class GroupedCorrelation:
    """Result of :func:`within_group_permutation_test` (fields as documented there)."""

    method: str
    weighting: str
    alternative: str
    statistic: float
    p_value: float
    exact: bool
    n_permutations: int
    n: int
    n_groups: int
    n_informative: int
    per_group: dict
    seed: int | None

    def as_dict(self) -> dict:
        """JSON-safe dict (``per_group`` keys as strings, NaN as None)."""
        return plain(asdict(self))


def _tail(null: np.ndarray, t: float, alternative: str) -> np.ndarray:
    """Which null values are at least as extreme as t."""
    tol = _TOL * max(1.0, abs(t))
    if alternative == "two-sided":
        return np.abs(null) >= abs(t) - tol
    if alternative == "greater":
        return null >= t - tol
    return null <= t + tol


def _exact_null(used: list[_Group], w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The exact permutation distribution of T = Σ a_g r_g (atoms, probabilities): the convolution of the
    per-group distributions, each enumerated over all n_g! arrangements; None when that is too large."""
    vals: np.ndarray = np.zeros(1)
    probs: np.ndarray = np.ones(1)
    for a, g in zip(w, used):
        if g.n_arrangements() > math.factorial(EXACT_MAX_GROUP):
            return None
        r = g.coef(g.all_arrangements())
        gv, gc = np.unique(np.round(a * r, 12), return_counts=True)
        if len(vals) * len(gv) > EXACT_MAX_PRODUCTS:
            return None
        v = (vals[:, None] + gv[None, :]).ravel()
        p = (probs[:, None] * (gc / gc.sum())[None, :]).ravel()
        vals, inv = np.unique(np.round(v, 12), return_inverse=True)
        probs = np.bincount(inv.ravel(), weights=p, minlength=len(vals))
    return vals, probs


def _monte_carlo_exceed(used, w, t, alternative, n_resamples, rng) -> int:
    """b: how many of n_resamples independent within-group rearrangements give a T at least as extreme as t."""
    b, step = 0, 4096
    for s in range(0, n_resamples, step):
        m = min(step, n_resamples - s)
        null = np.zeros(m)
        for a, g in zip(w, used):
            null += a * g.coef(g.random_arrangements(m, rng))
        b += int(_tail(null, t, alternative).sum())
    return b


def within_group_permutation_test(
    x,
    y,
    groups,
    method: str = "spearman",
    weighting: str = "mean",
    alternative: str = "two-sided",
    n_resamples: int = 9999,
    seed: int = 0,
    exact: bool | None = None,
) -> GroupedCorrelation:
    """Stratified permutation test of a within-group rank correlation (theory/statements.md, S9.1).

    H0: inside each group, the pairing of x with y is exchangeable (every arrangement of the group's y over its
    rows equally likely), e.g. the seeds of one method order the score and the accuracy independently. The test
    permutes y only inside each group, so that what differs between groups (a method's level, its spread) never
    enters the null.

    Parameters
    ----------
    x, y, groups, method, weighting
        As in :func:`within_group_correlation`; the statistic is T = Σ_g a_g r_g over the informative groups.
    alternative : {"two-sided", "greater", "less"}
        p = P0(|T*| ≥ |T|), P0(T* ≥ T) or P0(T* ≤ T) (a tolerance of 1e-9 relative absorbs rounding). The null
        has mean 0 (each r_g does), so |T| is the two-sided measure of extremeness.
    n_resamples : int
        Monte Carlo rearrangements m when the exact null is not used.
    seed : int
        Seed of the NumPy Generator for the Monte Carlo draws.
    exact : bool or None
        None: exact when feasible (every informative group has at most 8 rows and the convolution stays small),
        Monte Carlo otherwise; True: exact or InputError; False: Monte Carlo.

    Returns
    -------
    GroupedCorrelation
        ``statistic`` T; ``p_value``; ``exact``; ``n_permutations`` (exact: Π_g n_g! over informative groups;
        Monte Carlo: m); ``n`` pairs; ``n_groups``; ``n_informative`` groups; ``per_group`` r_g by label (NaN
        for an uninformative group); ``seed`` (None when exact).

    Notes
    -----
    Exact: T is a sum of independent per-group terms under H0, so its null law is the convolution of the
    per-group laws, each enumerated over all n_g! arrangements; p is a sum of atoms. Monte Carlo: m independent
    uniform within-group arrangements, b of them at least as extreme as the observed T, p = (b + 1)/(m + 1),
    which is a valid p-value (P(p ≤ α) ≤ α under H0; Phipson and Smyth 2010). A single group gives the ordinary
    permutation test of a rank correlation.
    """
    _choice(alternative, ALTERNATIVES, "alternative")
    labels, made, gid = _groups(x, y, groups, method, weighting)
    return _permutation_test(labels, made, len(gid), method, weighting, alternative, n_resamples, seed, exact)


def _permutation_test(  # noqa: PLR0913 (the test's settings, passed through from the two public tests)
    labels: list, made: list, n: int, method, weighting, alternative, n_resamples, seed, exact
) -> GroupedCorrelation:
    """The test of :func:`within_group_permutation_test` on prepared groups (each with its arrangements)."""
    n_resamples = _positive_int(n_resamples, "n_resamples")
    used = [g for g in made if g is not None]
    if not used:
        raise InputError("no group has at least two pairs with varying x and y: the correlation is undefined")
    w = _weights(used, weighting, np.ones(len(used)))
    t = float(w @ np.array([g.r for g in used]))
    null = None if exact is False else _exact_null(used, w)
    if exact is True and null is None:
        raise InputError(
            f"the exact null is too large (a group with more than {EXACT_MAX_GROUP}! = "
            f"{math.factorial(EXACT_MAX_GROUP):,} arrangements); use exact=None"
        )
    if null is not None:
        p = float(min(1.0, null[1][_tail(null[0], t, alternative)].sum()))
        n_perm = math.prod(g.n_arrangements() for g in used)
    else:
        b = _monte_carlo_exceed(used, w, t, alternative, int(n_resamples), np.random.default_rng(seed))
        p, n_perm = (b + 1) / (n_resamples + 1), int(n_resamples)
    per_group = {lab: g.r if g else math.nan for lab, g in zip(labels, made)}
    seed_used = None if null is not None else seed
    return GroupedCorrelation(
        method, weighting, alternative, t, p, null is not None, n_perm, n, len(labels), len(used), per_group, seed_used
    )


def _labels(v, n: int, name: str) -> np.ndarray:
    """Integer ids (order of first appearance) of one label per row."""
    a = np.asarray(v)
    if a.ndim != 1 or len(a) != n:
        raise InputError(f"{name} must give one label per row ({n}), got shape {a.shape}")
    return _group_ids(a, n)[0]


def _nested(inner: np.ndarray, outer: np.ndarray, what: str, within: str) -> None:
    """Refuse an ``inner`` label whose rows carry more than one ``outer`` label."""
    for k in np.unique(inner):
        if len(np.unique(outer[inner == k])) > 1:
            raise InputError(f"{what} {int(k)} (in order of appearance) lies in more than one {within}")


def _layouts(gid: np.ndarray, units, strata, positions, n: int) -> list[list[np.ndarray]]:
    """Per group, per stratum, the (units x positions) matrix of the group's local row indices."""
    uid = _labels(units, n, "units")
    sid = gid if strata is None else _labels(strata, n, "strata")
    if positions is None:
        pos = np.zeros(n, dtype=np.int64)
        for k in np.unique(uid):
            pos[uid == k] = np.arange(np.count_nonzero(uid == k))
    else:
        pos = _labels(positions, n, "positions")
    _nested(uid, gid, "unit", "group")
    _nested(uid, sid, "unit", "stratum")
    _nested(sid, gid, "stratum", "group")
    out = []
    for g in range(int(gid.max()) + 1):
        rows = np.flatnonzero(gid == g)
        local = {int(r): i for i, r in enumerate(rows)}
        blocks = []
        for s in dict.fromkeys(sid[rows].tolist()):
            us = list(dict.fromkeys(uid[rows][sid[rows] == s].tolist()))
            want = None
            mat = []
            for u in us:
                ru = np.flatnonzero(uid == u)
                if len(set(pos[ru].tolist())) < len(ru):
                    dup = int(np.bincount(pos[ru]).argmax())
                    raise InputError(f"unit {u} (in order of appearance) holds position {dup} twice or more")
                order = ru[np.argsort(pos[ru], kind="stable")]
                have = sorted(pos[ru].tolist())
                if want is not None and have != want:
                    raise InputError(
                        f"the units of stratum {s} must hold the same positions (unit {u} differs): an exchange "
                        "moves a unit's rows position by position"
                    )
                want = have
                mat.append([local[int(r)] for r in order])
            blocks.append(np.array(mat, dtype=np.int64))
        out.append(blocks)
    return out


def blocked_permutation_test(  # noqa: PLR0913 (the within-group test's settings and the three levels of blocks)
    x,
    y,
    groups,
    units,
    strata=None,
    positions=None,
    method: str = "kendall",
    weighting: str = "mean",
    alternative: str = "two-sided",
    n_resamples: int = 9999,
    seed: int = 0,
    exact: bool | None = None,
) -> GroupedCorrelation:
    """Permutation test of a within-group rank correlation that exchanges whole units (theory/statements.md, S9.5).

    Rows are nested: positions (e.g. the checkpoints of a run) inside units (runs) inside strata (seeds) inside
    groups (methods). H0: inside each stratum the units' sequences of y are exchangeable, i.e. every assignment of
    the stratum's units' y sequences to its units, moved position by position, is equally likely, independently
    across strata. The test enumerates or samples exactly those assignments, so that what a unit's rows share (a
    run's checkpoints move together) and what differs between strata (a seed) never enters the null as if rows
    were independent.

    Parameters
    ----------
    x, y, groups, method, weighting, alternative, n_resamples, seed, exact
        As in :func:`within_group_permutation_test`; the statistic T = Σ_g a_g r_g is the same (over all rows of a
        group), only the null changes. ``exact=None`` enumerates a group when it has at most 8! arrangements.
    units : array_like, shape (n,)
        The exchangeable unit of each row (e.g. the run); a unit lies in one group and one stratum.
    strata : array_like, shape (n,), optional
        Units are exchanged only inside a stratum (e.g. the seed: label it per group, ``(method, seed)``); a stratum
        lies in one group. Default: the group.
    positions : array_like, shape (n,), optional
        Each row's position inside its unit (e.g. the checkpoint's epoch); the units of a stratum must hold the same
        positions, each once. Default: the order of the unit's rows.

    Returns
    -------
    GroupedCorrelation
        As :func:`within_group_permutation_test`; ``n_permutations`` (exact) is Π over informative groups of
        Π over their strata of (units in the stratum)!.

    Notes
    -----
    With one row per unit and the default strata this is :func:`within_group_permutation_test` (same statistic,
    same exact null, same Monte Carlo draws). Positions are never permuted, so a trend shared by every unit along
    the positions (both x and y rising with training) is kept in the null: the test asks whether x orders the units
    beyond what the positions alone give, which makes it conservative about an ordering along the positions.
    """
    _choice(alternative, ALTERNATIVES, "alternative")
    labels, made, gid = _groups(x, y, groups, method, weighting)
    layouts = _layouts(gid, units, strata, positions, len(gid))
    for g, lay in zip(made, layouts):
        if g is not None:
            g.layout = lay
    return _permutation_test(labels, made, len(gid), method, weighting, alternative, n_resamples, seed, exact)


# ---------------------------------------------------------------- S9.2-S9.3: intervals
@dataclass(frozen=True)
class Interval:
    """A confidence interval: ``estimate`` in [``low``, ``high``] at level ``confidence``.

    Attributes
    ----------
    estimate, low, high, confidence : float
        The point estimate and the bounds (±inf: unbounded; NaN: undefined).
    method : str
        "t", "welch-t", "cluster-percentile" or "cluster-bca".
    n : int
        Values (t), values of both samples together (Welch), or groups (bootstrap).
    df : float or None
        Degrees of freedom of a t interval.
    n_resamples, n_failed : int or None
        Bootstrap resamples, and those whose statistic is NaN (left out).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: str
    n: int
    df: float | None = None
    n_resamples: int | None = None
    n_failed: int | None = None

    def as_dict(self) -> dict:
        """JSON-safe dict (infinite or NaN bounds as None)."""
        return plain(asdict(self))


def _confidence(c) -> float:
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c < 1:
        raise InputError(f"confidence must be a number in (0, 1), got {c!r}")
    return float(c)


def t_interval(values, confidence: float = 0.95) -> Interval:
    """Student-t interval for the mean of n values, e.g. one score over n seeds (theory/statements.md, S9.3).

    Parameters
    ----------
    values : array_like, shape (n,)
        The values (n ≥ 1), assumed i.i.d. normal.
    confidence : float
        1 − α.

    Returns
    -------
    Interval
        x̄ ± t_{1−α/2, n−1} s/√n, s the sample standard deviation (ddof 1), ``df`` = n − 1; e.g.
        t_{0.975, 2} = 4.303 for 3 seeds, where "2 standard errors" is an 82 % interval. One value gives the whole
        line (−∞, ∞): no spread can be estimated, so every :func:`verdict` on it is "cannot discriminate".
    """
    v, c = _vector(values, "values"), _confidence(confidence)
    n, m = len(v), float(np.mean(v))
    if n == 1:
        return Interval(m, -math.inf, math.inf, c, "t", 1, 0.0)
    half = float(_sps.t.ppf(0.5 + c / 2, n - 1) * np.std(v, ddof=1) / math.sqrt(n))
    return Interval(m, m - half, m + half, c, "t", n, float(n - 1))


def welch_interval(a, b, confidence: float = 0.95) -> Interval:
    """Welch's t interval for mean(a) − mean(b), two independent sets of seeds (theory/statements.md, S9.3).

    Parameters
    ----------
    a, b : array_like
        The values of each side (e.g. one method's seeds and another's).
    confidence : float
        1 − α.

    Returns
    -------
    Interval
        d ± t_{1−α/2, ν} sqrt(s_a²/n_a + s_b²/n_b) with d = ā − b̄ and ν the Welch–Satterthwaite degrees of
        freedom (s_a²/n_a + s_b²/n_b)² / ((s_a²/n_a)²/(n_a − 1) + (s_b²/n_b)²/(n_b − 1)). Fewer than 2 values on
        a side gives the whole line (−∞, ∞) (that side's spread is unknown); zero spread on both sides gives
        the point d.
    """
    va, vb, c = _vector(a, "a"), _vector(b, "b"), _confidence(confidence)
    d, na, nb = float(np.mean(va) - np.mean(vb)), len(va), len(vb)
    if na < 2 or nb < 2:
        return Interval(d, -math.inf, math.inf, c, "welch-t", na + nb, 0.0)
    qa, qb = np.var(va, ddof=1) / na, np.var(vb, ddof=1) / nb
    if qa + qb == 0:
        return Interval(d, d, d, c, "welch-t", na + nb, math.inf)
    df = float((qa + qb) ** 2 / (qa**2 / (na - 1) + qb**2 / (nb - 1)))
    half = float(_sps.t.ppf(0.5 + c / 2, df) * math.sqrt(qa + qb))
    return Interval(d, d - half, d + half, c, "welch-t", na + nb, df)


def verdict(interval: Interval, threshold: float = 0.0, claim: str = "greater") -> str:
    """Three-way verdict on a claim about the quantity an interval covers (theory/statements.md, S9.3).

    Parameters
    ----------
    interval : Interval
        E.g. from :func:`t_interval`, :func:`welch_interval` or :func:`cluster_bootstrap`.
    threshold : float
        c in the claim.
    claim : {"greater", "less"}
        The claim "the quantity exceeds c" or "the quantity is below c".

    Returns
    -------
    str
        For "greater": "held" when low > c (the whole interval agrees with the claim), "not held" when
        high < c (the whole interval contradicts it), otherwise "cannot discriminate" (the closed interval
        contains outcomes on both sides, or its bounds are NaN). "less" mirrors it.
    """
    _choice(claim, ("greater", "less"), "claim")
    lo, hi = interval.low, interval.high
    if claim == "less":
        lo, hi, threshold = -hi, -lo, -threshold
    if lo > threshold:
        return "held"
    if hi < threshold:
        return "not held"
    return "cannot discriminate"


def _percentile_bounds(boot: np.ndarray, c: float) -> tuple[float, float]:
    lo, hi = np.quantile(boot, [0.5 - c / 2, 0.5 + c / 2])
    return float(lo), float(hi)


def _bca_bounds(boot: np.ndarray, theta: float, jack: np.ndarray, c: float) -> tuple[float, float]:
    """Efron's BCa: bias z0 from the share of resamples below θ̂ (ties, to 1e-9, count half), acceleration from the
    cluster jackknife, a = Σ(θ̄ − θ_(i))³ / (6 (Σ(θ̄ − θ_(i))²)^{3/2})."""
    tie = np.abs(boot - theta) <= _TOL * max(1.0, abs(theta))  # equal up to the order of a sum
    below = (np.count_nonzero((boot < theta) & ~tie) + 0.5 * np.count_nonzero(tie)) / len(boot)
    z0 = _sps.norm.ppf(np.clip(below, 0.5 / len(boot), 1 - 0.5 / len(boot)))
    dev = jack.mean() - jack
    den = 6.0 * float(np.sum(dev**2)) ** 1.5
    acc = float(np.sum(dev**3)) / den if den > 0 else 0.0
    z = _sps.norm.ppf([0.5 - c / 2, 0.5 + c / 2])
    q = _sps.norm.cdf(z0 + (z0 + z) / (1 - acc * (z0 + z)))
    lo, hi = np.quantile(boot, q)
    return float(lo), float(hi)


def _positive_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise InputError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _draws(G: int, n_resamples: int, seed: int) -> np.ndarray:
    """The clusters of each resample: row b holds G indices drawn uniformly with replacement."""
    return np.random.default_rng(seed).integers(0, G, (n_resamples, G))


def _finish(
    theta: float, boot: np.ndarray, jackknife: Callable[[], np.ndarray], c: float, how: str, G: int
) -> Interval:
    """The interval from the bootstrap values (NaN ones left out and counted) by percentile or BCa."""
    ok = boot[np.isfinite(boot)]
    failed, B = int(len(boot) - len(ok)), len(boot)
    if len(ok) == 0 or not math.isfinite(theta):
        return Interval(theta, math.nan, math.nan, c, f"cluster-{how}", G, None, B, failed)
    if how == "percentile":
        lo, hi = _percentile_bounds(ok, c)
    else:
        jack = jackknife()
        lo, hi = _bca_bounds(ok, theta, jack[np.isfinite(jack)], c)
    return Interval(theta, lo, hi, c, f"cluster-{how}", G, None, B, failed)


def cluster_bootstrap(  # noqa: PLR0913 (the interval's settings and the optional second stage)
    statistic: Callable[..., float],
    arrays: Sequence,
    groups,
    n_resamples: int = 1999,
    confidence: float = 0.95,
    method: str = "percentile",
    seed: int = 0,
    clusters=None,
) -> Interval:
    """Cluster bootstrap interval for a statistic of grouped rows (theory/statements.md, S9.2).

    Each resample draws G groups with replacement from the G groups and keeps all their rows; a group drawn
    twice enters as two groups (labels 0..G−1 by draw), so a within-group statistic sees G groups every time.

    Parameters
    ----------
    statistic : callable
        ``statistic(*arrays_rows, groups=labels) -> float``; NaN marks a resample where it is undefined.
    arrays : sequence of array_like, each of length n
        The columns (e.g. ``(score, accuracy)``).
    groups : array_like, shape (n,)
        Group label of each row (at least 2 groups).
    n_resamples : int
        B.
    confidence : float
        1 − α.
    method : {"percentile", "bca"}
        Percentile: the α/2 and 1 − α/2 quantiles of the B values. BCa (Efron 1987): the quantiles at
        Φ(z0 + (z0 + z)/(1 − a(z0 + z))) for z = Φ⁻¹(α/2), Φ⁻¹(1 − α/2).
    seed : int
        Seed of the NumPy Generator that draws the groups.
    clusters : array_like, shape (n,), optional
        A second stage (S9.5): the cluster of each row (e.g. the run), each cluster inside one group. In every
        drawn group its n_k clusters are drawn with replacement, n_k of them, each keeping its rows whole (e.g. a
        run's checkpoints); a cluster drawn twice enters twice. Percentile intervals only.

    Returns
    -------
    Interval
        ``estimate`` = the statistic on the data; ``n`` = G; ``n_failed`` resamples (NaN) left out; NaN bounds
        when every resample failed; ``method`` "cluster-two-stage-percentile" with ``clusters``.

    Notes
    -----
    z0 = Φ⁻¹(share of resamples below θ̂, ties counting half); a from the leave-one-group-out jackknife
    θ_(i): a = Σ(θ̄ − θ_(i))³ / (6 (Σ(θ̄ − θ_(i))²)^{3/2}) (0 when all θ_(i) agree). The interval treats the
    groups as a sample of exchangeable groups; with few groups it is itself uncertain.
    """
    _choice(method, ("percentile", "bca"), "method")
    c, B = _confidence(confidence), _positive_int(n_resamples, "n_resamples")
    cols = [np.asarray(a) for a in arrays]
    if not cols or any(a.ndim != 1 or len(a) != len(cols[0]) for a in cols):
        raise InputError("arrays must be non-empty 1-D columns of one length")
    gid, labels = _group_ids(groups, len(cols[0]))
    G = len(labels)
    if G < 2:
        raise InputError(f"a cluster bootstrap needs at least 2 groups, got {G}")
    rows = [np.flatnonzero(gid == k) for k in range(G)]
    if clusters is not None:
        return _two_stage(statistic, cols, gid, rows, clusters, B, c, method, seed)

    def on(picks) -> float:
        idx = np.concatenate([rows[k] for k in picks])
        lab = np.repeat(np.arange(len(picks)), [len(rows[k]) for k in picks])
        return float(statistic(*[a[idx] for a in cols], groups=lab))

    def jackknife() -> np.ndarray:
        return np.array([on([k for k in range(G) if k != i]) for i in range(G)])

    boot = np.array([on(p) for p in _draws(G, B, seed)])
    return _finish(on(range(G)), boot, jackknife, c, method, G)


def _two_stage(statistic, cols, gid, rows, clusters, B: int, c: float, method: str, seed: int) -> Interval:
    """:func:`cluster_bootstrap` with a second stage: groups drawn, then clusters inside each drawn group."""
    if method != "percentile":
        raise InputError("a two-stage cluster bootstrap gives percentile intervals only (method='percentile')")
    cid = _labels(clusters, len(gid), "clusters")
    _nested(cid, gid, "cluster", "group")
    members = [[np.flatnonzero(cid == k) for k in dict.fromkeys(cid[r].tolist())] for r in rows]
    G = len(rows)

    def on(parts: list[list[np.ndarray]]) -> float:
        idx = np.concatenate([np.concatenate(p) for p in parts])
        lab = np.repeat(np.arange(len(parts)), [sum(len(q) for q in p) for p in parts])
        return float(statistic(*[a[idx] for a in cols], groups=lab))

    theta = on(members)  # the data first, then the resamples
    rng = np.random.default_rng(seed)
    boot = np.empty(B)
    for b, top in enumerate(rng.integers(0, G, (B, G))):
        boot[b] = on([[members[k][j] for j in rng.integers(0, len(members[k]), len(members[k]))] for k in top])
    iv = _finish(theta, boot, lambda: np.array([]), c, "percentile", G)
    return replace(iv, method="cluster-two-stage-percentile")


def _correlation_on_counts(made: list, weighting: str, counts: np.ndarray) -> np.ndarray:
    """T for each row of ``counts`` (times each group is present; columns follow ``made``, None = uninformative)."""
    keep = [k for k, g in enumerate(made) if g is not None]
    if not keep:
        return np.full(len(counts), math.nan)
    used = [made[k] for k in keep]
    return _weights(used, weighting, counts[:, keep]) @ np.array([g.r for g in used])


def correlation_difference_interval(  # noqa: PLR0913 (the coefficient's, the interval's and the stages' settings)
    score_a,
    score_b,
    target,
    groups,
    method: str = "kendall",
    weighting: str = "mean",
    n_resamples: int = 1999,
    confidence: float = 0.95,
    ci: str = "percentile",
    seed: int = 0,
    clusters=None,
) -> Interval:
    """Cluster-bootstrap interval for T(a, target) − T(b, target), both on the same resample
    (theory/statements.md, S9.2).

    Parameters
    ----------
    score_a, score_b : array_like, shape (n,)
        Two scores of the same runs (e.g. two label-free scores); ``score_b=None`` gives the interval of
        T(a, target) itself.
    target : array_like, shape (n,)
        What the scores should order the runs by (e.g. linear-probe accuracy).
    groups : array_like, shape (n,)
        Group of each run (e.g. the method); at least 2 groups.
    method, weighting
        T is :func:`within_group_correlation` with these (default: the mean within-group Kendall τ).
    n_resamples, confidence, seed
        As in :func:`cluster_bootstrap`.
    ci : {"percentile", "bca"}
        :func:`cluster_bootstrap`'s ``method``.
    clusters : array_like, shape (n,), optional
        The second stage of :func:`cluster_bootstrap` (e.g. the run of each checkpoint): each drawn group's
        clusters are redrawn, so r_g changes from resample to resample and is recomputed on the resampled rows
        (ties between copies of a row count as τ_b's ties). Percentile only.

    Returns
    -------
    Interval
        Equal, for the same seed, to :func:`cluster_bootstrap` with the difference as its statistic. A
        difference above 0 at the interval's confidence says score a orders the runs of a group like the target
        more than score b does; computing both on each resample keeps their dependence (one target, one set of
        runs).

    Notes
    -----
    A group's rows stay together in every resample, so its coefficient r_g never changes: a resample only
    changes how often each group counts, and T on it is Σ_g c_g a_g r_g with the draw counts c_g, computed
    without re-ranking.
    """
    _choice(ci, ("percentile", "bca"), "ci")
    c, B = _confidence(confidence), _positive_int(n_resamples, "n_resamples")
    if clusters is not None:
        return _difference_two_stage(score_a, score_b, target, groups, method, weighting, B, c, ci, seed, clusters)
    labels, made_a, _ = _groups(score_a, target, groups, method, weighting)
    made_b = None
    if score_b is not None:
        _, made_b, _ = _groups(score_b, target, groups, method, weighting)
        if len(_vector(score_b, "score_b")) != len(_vector(score_a, "score_a")):
            raise InputError("score_a and score_b must have the same length")
    G = len(labels)
    if G < 2:
        raise InputError(f"a cluster bootstrap needs at least 2 groups, got {G}")

    def stat(counts: np.ndarray) -> np.ndarray:
        t = _correlation_on_counts(made_a, weighting, counts)
        return t if made_b is None else t - _correlation_on_counts(made_b, weighting, counts)

    counts = np.stack([np.bincount(p, minlength=G) for p in _draws(G, B, seed)])
    return _finish(float(stat(np.ones((1, G)))[0]), stat(counts), lambda: stat(1 - np.eye(G)), c, ci, G)


def _difference_two_stage(  # noqa: PLR0913 (correlation_difference_interval's settings, passed through)
    score_a, score_b, target, groups, method, weighting, B, c, ci, seed, clusters
) -> Interval:
    """:func:`correlation_difference_interval` by the two-stage :func:`cluster_bootstrap` (coefficients recomputed)."""
    a = _vector(score_a, "score_a")
    b = None if score_b is None else _vector(score_b, "score_b")
    if b is not None and len(b) != len(a):
        raise InputError("score_a and score_b must have the same length")
    cols = (a, _vector(target, "target")) if b is None else (a, b, _vector(target, "target"))

    def stat(*arrays, groups) -> float:
        t = within_group_correlation(arrays[0], arrays[-1], groups, method, weighting)
        return t if b is None else t - within_group_correlation(arrays[1], arrays[-1], groups, method, weighting)

    return cluster_bootstrap(stat, cols, groups, B, c, ci, seed, clusters)


# ---------------------------------------------------------------- S9.4: top-1 regret
@dataclass(frozen=True)
class Regret:
    """Result of :func:`top1_regret`: ``mean`` over groups, ``per_group`` by label, ``n_groups``."""

    mean: float
    per_group: dict
    n_groups: int

    def as_dict(self) -> dict:
        return plain(asdict(self))


def top1_regret(
    score, target, groups, score_larger_is_better: bool = True, target_larger_is_better: bool = True
) -> Regret:
    """Top-1 regret of choosing, in each group, the run with the best score (theory/statements.md, S9.4).

    Parameters
    ----------
    score, target : array_like, shape (n,)
        The score that chooses (e.g. a label-free score) and what the choice is judged by (e.g. accuracy).
    groups : array_like, shape (n,)
        Group of each run; the choice is made inside each group.
    score_larger_is_better, target_larger_is_better : bool
        Directions (signs are flipped for "smaller is better").

    Returns
    -------
    Regret
        regret_g = max_{i∈g} y_i − y_{î_g}, î_g = argmax_{i∈g} s_i; with ties in the best score, the mean over
        the tied runs (the expected regret of a uniform choice among them). regret_g ≥ 0, and 0 exactly when the
        choice is a best run by the target. ``mean`` is the unweighted mean over groups.
    """
    s, y = _vector(score, "score"), _vector(target, "target")
    if len(s) != len(y):
        raise InputError(f"score and target must have the same length, got {len(s)} and {len(y)}")
    s = s if score_larger_is_better else -s
    y = y if target_larger_is_better else -y
    gid, labels = _group_ids(groups, len(s))
    per = {}
    for k, lab in enumerate(labels):
        sg, yg = s[gid == k], y[gid == k]
        per[lab] = float(yg.max() - yg[sg == sg.max()].mean())
    return Regret(float(np.mean(list(per.values()))), per, len(labels))
