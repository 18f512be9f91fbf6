"""Graded verdicts (idealssl.checker.graded): ideal_tolerance, fitted_task_fraction, diagnostics, hints."""

import itertools
import json

import numpy as np
import pytest

import idealssl
from idealssl.checker import lp
from idealssl.checker.graded import ALL_LABELLINGS_MAX_C, SAMPLE, labellings
from idealssl.theory_math import regular_simplex


def noisy_simplex(C, delta, per_orbit=3, seed=0, scale=1.0):
    """Regular simplex codes (norm 1, spread 1) and per_orbit extra points at distance <= delta of each
    code (the largest exactly delta)."""
    S = regular_simplex(C) * scale
    rng = np.random.default_rng(seed)
    pts, lab = [], []
    for m in range(C):
        pts.append(S[m])
        lab.append(m)
        for k in range(per_orbit):
            e = rng.standard_normal(S.shape[1])
            pts.append(S[m] + e * delta * scale * (k + 1) / per_orbit / np.linalg.norm(e))
            lab.append(m)
    return np.array(pts), np.array(lab)


@pytest.mark.parametrize("delta", [1e-3, 0.03, 0.2])
def test_ideal_tolerance_is_the_deviation_ratio(delta):
    Z, lab = noisy_simplex(5, delta)
    r = idealssl.check(Z, lab, tol=1e-4)
    assert not r.ideal
    assert r.ideal_tolerance == pytest.approx(delta, rel=1e-9)
    assert r.graded["binding_condition"] == "invariance"
    assert r.graded["tolerance_headroom"] == pytest.approx(1.0)  # regular simplex: σ_(C−1)/σ_1 = 1
    # at that tolerance the check agrees: ideal, and just below it not
    assert idealssl.check(Z, lab, tol=r.ideal_tolerance).ideal
    assert not idealssl.check(Z, lab, tol=r.ideal_tolerance * 0.999).ideal


def test_ideal_tolerance_scale_invariant_and_exact_invariance():
    Z, lab = noisy_simplex(4, 0.05, scale=1e3)
    assert idealssl.check(Z, lab).ideal_tolerance == pytest.approx(0.05, rel=1e-9)
    S = regular_simplex(4)
    r = idealssl.check(np.repeat(S, 2, axis=0), np.repeat(np.arange(4), 2))
    assert r.ideal and r.ideal_tolerance == pytest.approx(1e-12) and r.graded["binding_condition"] is None
    assert r.fitted_task_fraction == 1.0


def test_span_counterexample_has_no_ideal_tolerance():
    # four coplanar codes in R^3 (affinely dependent, linear span 3 = C - 1): no tolerance helps
    codes = np.array([[0, 0, 1.0], [1, 0, 1], [0, 1, 1], [1, 1, 1]])
    r = idealssl.check(codes, np.arange(4), tol=1e-2)
    assert r.ideal_tolerance is None
    assert r.graded["binding_condition"] == "affine_independence"
    assert "why_none" in r.graded
    # the XOR labelling is the one linear probes cannot fit: 6 of the 7 labellings are fitted
    assert r.fitted_task_fraction == pytest.approx(6 / 7)
    assert r.graded["first_unfitted_orbit_labels"] in ([1, 0, 0, 1], [0, 1, 1, 0])


def test_deviation_above_rank_margin_gives_none():
    S = regular_simplex(4)
    S[3] = S[:3].mean(axis=0) + 1e-3 * (S[3] - S[:3].mean(axis=0))  # σ_3/σ_1 small
    Z = np.vstack([S, S + 0.05 * np.eye(3)[0]])
    r = idealssl.check(Z, np.tile(np.arange(4), 2), tol=1e-2)
    assert r.ideal_tolerance is None
    assert r.graded["binding_condition"] == "affine_independence"


@pytest.mark.parametrize("probe", ["linear", "linear-nobias", "mlp"])
def test_fraction_is_one_when_ideal(probe):
    C = 5
    # without bias: lifted by 2 along the zero padded coordinate (normal to the simplex's hyperplane), so the
    # codes are linearly independent (rank C) by construction
    S = regular_simplex(C, C) + (2.0 * np.eye(C)[C - 1] if probe == "linear-nobias" else 0.0)
    Z = np.repeat(S, 3, axis=0) + 1e-6 * np.random.default_rng(1).standard_normal((3 * C, C))
    r = idealssl.check(Z, np.repeat(np.arange(C), 3), probe=probe, tol=1e-3)
    assert r.ideal, str(r)
    assert r.fitted_task_fraction == 1.0
    assert r.ideal_tolerance <= 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("bias", [True, False])
def test_fraction_agrees_with_brute_force_lp(seed, bias):
    rng = np.random.default_rng(seed)
    C, d, per = 6, 3, 4
    lab = np.repeat(np.arange(C), per)
    Z = rng.standard_normal((C, d))[lab] + 0.4 * rng.standard_normal((C * per, d))
    r = idealssl.check(Z, lab, probe="linear" if bias else "linear-nobias", tol=1e-2)
    fitted = total = 0
    for rest in itertools.product((1, -1), repeat=C - 1):
        y = np.array((1,) + rest, dtype=float)
        if np.all(y > 0):
            continue
        total += 1
        fitted += lp.separable(Z, y[lab], bias=bias, tol=1e-9)
    assert r.graded["n_labellings"] == total == 2 ** (C - 1) - 1
    assert r.graded["n_fitted"] == fitted
    assert 0 < fitted < total


def test_large_C_uses_a_stated_sample():
    ys, how = labellings(ALL_LABELLINGS_MAX_C + 2, True)
    assert len(ys) == SAMPLE and "seed" in how
    assert labellings(ALL_LABELLINGS_MAX_C + 2, True)[0][0].tolist() == ys[0].tolist()  # seeded


def test_diagnostics_hints_json_and_text():
    Z, lab = noisy_simplex(5, 0.1)
    Z[lab == 2] += np.array([0.3, 0, 0, 0])  # orbit 2 deviates most (its code too moves, so shift non-first points)
    Z[np.flatnonzero(lab == 2)[0]] -= np.array([0.3, 0, 0, 0])
    r = idealssl.check(Z, lab, tol=1e-2)
    d = json.loads(r.to_json())
    assert d["ideal_tolerance"] == pytest.approx(r.ideal_tolerance)
    assert d["fitted_task_fraction"] == r.fitted_task_fraction
    diag = d["graded"]["diagnostics"]
    assert diag["worst_orbits"][0]["orbit"] == 2
    assert len(diag["closest_pairs"]) == 5 and diag["closest_pairs"][0]["distance"] == pytest.approx(
        np.sqrt(2.5), rel=1e-9
    )
    assert diag["smallest_directions"][0]["index"] == 4
    text = str(r)
    assert "graded verdict:" in text and "ideal_tolerance:" in text and "hint: invariance" in text


def test_dimension_hint_and_not_graded():
    Z = np.random.default_rng(0).standard_normal((6, 2))
    r = idealssl.check(Z, np.arange(6), tol=1e-2)
    assert r.ideal_tolerance is None
    assert any(h.startswith("dimension: d = 2 < 5") for h in r.graded["hints"])
    r = idealssl.check(Z, np.arange(6), tol=1e-2, graded=False)
    assert r.graded is None and "ideal_tolerance" not in r.to_dict()


def test_the_fraction_skipped_for_size_reads_no_farthest_points(monkeypatch):
    """Above MAX_POINTS points the fraction is measured on the codes and each orbit's farthest point; when those
    2C x d values exceed MAX_LP_ENTRIES it is not computed, and the C farthest rows are not read for nothing."""
    from idealssl.checker import graded
    from idealssl.inputs.representation import Representation

    monkeypatch.setattr(graded, "MAX_POINTS", 50)
    monkeypatch.setattr(graded, "MAX_LP_ENTRIES", 100)
    rng = np.random.default_rng(0)
    C, per, d = 20, 4, 6  # 2C x d = 240 > 100 entries
    Z = rng.standard_normal((C * per, d))
    labels = np.repeat(np.arange(C), per)
    reads = []
    rows = Representation.rows
    monkeypatch.setattr(Representation, "rows", lambda self, index: reads.append(len(index)) or rows(self, index))
    rep = idealssl.check(Z, labels.tolist(), certified="off")
    gr = rep.graded
    assert gr["fitted_task_fraction"] is None
    assert gr["why_no_fraction"].startswith(f"the {C} codes and each orbit's farthest point")
    assert f"{2 * C} x {d} exceeds 100 entries" in gr["why_no_fraction"]
    assert reads == [C]  # the codes, read once before the pass; no farthest points
