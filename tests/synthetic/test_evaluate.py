"""Evaluation: the ideal log loss, W_n, probes on random invariant tasks and the geometry figures
against values known in closed form (theory/statements.md S1.5, S3.1, S4.2-S4.3)."""

import math

import numpy as np
import pytest

from idealssl.errors import InputError
from idealssl.synthetic.evaluate import (
    geometry,
    ideal_log_loss,
    ideal_log_loss_optimum,
    probe_tasks,
    random_labellings,
    worst_case_risk,
)
from idealssl.synthetic.experiments.dimension import cover_fraction


def _simplex(C, reps=3):
    orbits = np.repeat(np.arange(C), reps)
    return (np.eye(C) - 1.0 / C)[orbits], orbits


@pytest.mark.parametrize("C,value", [(3, 0.368981), (5, 0.763615), (6, 0.918679), (10, 1.376935)])
def test_ideal_log_loss_optimum_matches_numerical_minima(C, value):
    # minima found by L-BFGS with restarts (theory/statements.md S4.2; a numerical minimum is >= the true one)
    assert ideal_log_loss_optimum(C) == pytest.approx(value, abs=1e-5)
    assert ideal_log_loss_optimum(C) <= value + 1e-6


def test_ideal_log_loss_is_minimal_at_the_simplex_and_larger_below_c_minus_1():
    Z, orb = _simplex(5)
    r = ideal_log_loss(Z, orb)
    assert r["gap"] == pytest.approx(0.0, abs=1e-6)
    # d = 3 < C-1 = 4: the minimum is 0.79056 (theory/statements.md S4.3); any 3-d representation is above it
    rng = np.random.default_rng(0)
    best = min(ideal_log_loss(rng.standard_normal((5, 3))[orb], orb)["ideal_log_loss"] for _ in range(5))
    assert best > 0.7905
    # not invariant: a noisy simplex has a positive gap
    assert ideal_log_loss(Z + 0.3 * rng.standard_normal(Z.shape), orb)["gap"] > 1e-3


def test_worst_case_risk_formula_and_monte_carlo_unseen_mass():
    assert worst_case_risk(np.full(4, 0.25), 3) == pytest.approx(0.75**3)
    p = np.array([0.5, 0.3, 0.2])
    rng = np.random.default_rng(0)
    n = 4
    draws = rng.choice(3, size=(20000, n), p=p)
    unseen = [p[~np.isin(np.arange(3), d)].sum() for d in draws]
    assert np.mean(unseen) == pytest.approx(worst_case_risk(p, n), abs=5e-3)
    # coarser (merged) orbits: smaller W_n for every n under uniform marginals
    assert all(worst_case_risk(np.full(8, 1 / 8), k) > worst_case_risk(np.full(4, 1 / 4), k) for k in range(1, 20))


@pytest.mark.parametrize("C,r,count", [(5, 1, 10), (5, 2, 22), (5, 3, 30), (5, 4, 32), (7, 3, 84), (8, 7, 256)])
def test_cover_fraction(C, r, count):
    # Cover's counts (theory/statements.md S1.5, LP enumeration); fraction over the non-constant labellings
    assert cover_fraction(C, r) == pytest.approx((count - 2) / (2**C - 2))


def test_geometry_of_simplex_and_of_degenerate_codes():
    Z, orb = _simplex(6)
    g = geometry(Z, orb)
    assert g["invariance_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert g["affine_rank"] == 5 and g["simplex_distance"] == pytest.approx(0.0, abs=1e-9)
    # the span-vs-affine counterexample (theory/statements.md S1.3): codes (1,0), (1,1), (1,2)
    codes = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    g = geometry(codes[[0, 0, 1, 1, 2, 2]], np.array([0, 0, 1, 1, 2, 2]))
    assert g["span_rank"] == 2 and g["affine_rank"] == 1


def test_probes_on_an_ideal_representation():
    C = 8
    Z, orb = _simplex(C, reps=4)
    r = probe_tasks(Z, orb, "linear", n_tasks=6, shots=(2, 8, 32), seed=1)
    for v in r["full"].values():
        assert v["frac_perfect"] == 1.0
    for n, v in r["fewshot"].items():
        assert v["seen_orbit_error"] == 0.0  # invariance + affine independence (Fig. 3)
        assert v["W_n"] == pytest.approx((1 - 1 / C) ** int(n))
        assert v["error"] <= v["unseen_mass"] + 1e-12  # errors only on unseen orbits
    # the bias-free probe needs linear independence: codes e1, e2, e1 + e2 are affinely but not
    # linearly independent, so (+, +, -) is out of reach without a bias and within reach with one
    o3 = np.repeat(np.arange(3), 2)
    Z3 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])[o3]
    assert probe_tasks(Z3, o3, "linear-nobias", n_tasks=30, seed=1)["full"]["2"]["frac_perfect"] < 1.0
    assert probe_tasks(Z3, o3, "linear", n_tasks=30, seed=1)["full"]["2"]["frac_perfect"] == 1.0


def test_probes_below_c_minus_1_fail_some_task_and_mlp_does_not():
    C = 10
    orb = np.repeat(np.arange(C), 3)
    Z = np.linspace(0, 1, C)[orb][:, None]  # distinct codes on a line: d = 1
    lin = probe_tasks(Z, orb, "linear", n_tasks=10, seed=0)
    mlp = probe_tasks(Z, orb, "mlp", n_tasks=10, seed=0)
    assert lin["full"]["2"]["frac_perfect"] < 1.0
    assert mlp["full"]["2"]["mean_acc"] > lin["full"]["2"]["mean_acc"]


def test_task_groups_and_labellings():
    rng = np.random.default_rng(0)
    labs = random_labellings(5, 20, 3, rng)
    assert labs.shape == (20, 5) and all(np.unique(l).size == 3 for l in labs)
    Z, orb = _simplex(8)
    r = probe_tasks(Z, orb, n_tasks=3, n_labels=(2, 9), task_groups=np.arange(8) % 2)
    assert set(r["full"]) == {"2"}  # 9 labels capped at the 2 groups
    with pytest.raises(InputError, match="unknown probe"):
        probe_tasks(Z, orb, "kernel")
    assert math.isfinite(r["full"]["2"]["mean_acc"])
