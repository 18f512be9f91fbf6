"""derive's log-loss minimiser merges equal (z, orbit) pairs: same objective and gradient, same minimum."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from idealssl.derive.logloss import _loss_grad, merged_points, minimise_ideal_log_loss, orbit_weights


def _problem(seed: int, C: int = 3, d: int = 2, distinct: int = 6, copies: int = 5):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(distinct, d))
    lab = np.arange(distinct) % C
    idx = rng.integers(0, distinct, size=distinct * copies)
    idx[:distinct] = np.arange(distinct)
    Z, labels = base[idx], lab[idx]
    return Z, labels, orbit_weights(labels, C, None)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), tau=st.floats(0.1, 3.0))
def test_merged_problem_has_the_same_value_and_gradient(seed, tau):
    Z, labels, w = _problem(seed)
    Zm, lm, wm = merged_points(Z, labels, w)
    assert len(Zm) == 6 and np.isclose(wm.sum(), w.sum())
    W = np.random.default_rng(seed + 1).normal(size=(3, 2))
    f, G = _loss_grad(W, Z, labels, w, tau)
    fm, Gm = _loss_grad(W, Zm, lm, wm, tau)
    assert np.isclose(f, fm, rtol=1e-12, atol=1e-12) and np.allclose(G, Gm, rtol=1e-10, atol=1e-12)


def test_same_pair_in_two_orbits_is_not_merged():
    Z = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = np.array([0, 1, 1])
    Zm, lm, wm = merged_points(Z, labels, np.full(3, 1 / 3))
    assert len(Zm) == 3  # (z, 0) and (z, 1) differ


def test_invariant_orbits_collapse_to_their_codes_and_keep_the_minimum(monkeypatch):
    """20,001 points of 3 invariant orbits (the size of the long-label finding) become 3 points; the minimum is the
    one the unmerged problem has (computed without merging on a 30-point copy with the same weights per orbit)."""
    import idealssl.derive.logloss as L

    Z = np.array([[0.0, 0.0]] * 10000 + [[1.0, 0.0]] * 10000 + [[0.0, 1.0]])
    labels = np.array([0] * 10000 + [1] * 10000 + [2])
    w = orbit_weights(labels, 3, None)
    Zm, lm, wm = merged_points(Z, labels, w)
    assert len(Zm) == 3 and np.allclose(np.sort(wm), [1 / 3] * 3)
    small_Z = np.array([[0.0, 0.0]] * 10 + [[1.0, 0.0]] * 10 + [[0.0, 1.0]] * 10)
    small_l = np.repeat([0, 1, 2], 10)
    big = minimise_ideal_log_loss(Z, labels, 3, w)
    monkeypatch.setattr(L, "merged_points", lambda Z, labels, w: (Z, labels, w))
    ref = minimise_ideal_log_loss(small_Z, small_l, 3, orbit_weights(small_l, 3, None))
    assert np.isclose(big.value, ref.value, atol=1e-9) and np.isclose(big.lower_bound, ref.lower_bound, atol=1e-9)
