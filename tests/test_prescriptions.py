"""The theory's prescriptions and their records: each value derived from a statement, or said to be the published
default where the theory is silent (idealssl/derive/prescriptions.py, configuration.py)."""

import itertools
import math

import numpy as np
import pytest

from idealssl.derive import configure
from idealssl.derive.prescriptions import SILENT, dissl_lambda, dissl_lambda_bound, for_world
from idealssl.objectives.defaults import DISSL


def _batch_objective(q: np.ndarray, lam: float, beta: float) -> float:
    """F_B = (1 + beta) mean_i H(q_i) - lambda H(mean_i q_i): DISSL's batch objective at an invariant teacher and
    a matching student (S7.1 with the batch marginal)."""

    def H(p):
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    return (1 + beta) * np.mean([H(r) for r in q]) - lam * H(q.mean(axis=0))


@pytest.mark.parametrize(("B", "K", "lam"), [(2, 4, 1.7), (2, 4, 1.9), (3, 6, 1.0), (3, 6, 2.3), (4, 4, 2.3)])
def test_the_lambda_bound_against_brute_force(B, K, lam):
    """Brute force over deterministic and spread teachers on a batch of B rows: below the bound no teacher beats
    the best deterministic one; above it, spreading each row over its own categories does."""
    beta = 0.8
    rng = np.random.default_rng(0)
    det = min(_batch_objective(np.eye(K)[list(c)], lam, beta) for c in itertools.product(range(K), repeat=B))
    rand = min(
        _batch_objective(rng.dirichlet(np.full(K, a), size=B), lam, beta) for a in (0.05, 0.3, 1, 5) for _ in range(300)
    )
    r = K // B
    spread = np.zeros((B, K))
    for i in range(B):
        spread[i, i * r : (i + 1) * r] = 1 / r
    bound = dissl_lambda_bound(beta, categories=K, orbits=10**6, batch=B)
    if lam < bound:
        assert rand >= det - 1e-9 and _batch_objective(spread, lam, beta) >= det - 1e-9
    else:
        assert r > 1 and _batch_objective(spread, lam, beta) < det - 1e-6


def test_lambda_bound_cases():
    b = 0.8
    assert dissl_lambda_bound(b, categories=512, orbits=512, batch=64) == pytest.approx(1.8)  # B < K
    assert dissl_lambda_bound(b, categories=16, orbits=16, batch=64) == math.inf  # B >= K <= C
    assert dissl_lambda_bound(b, categories=64, orbits=16, batch=128) == pytest.approx(1.8)  # K > C (S7.3)


def test_lambda_is_the_published_default_unless_it_breaks_the_bound():
    b = DISSL.beta_det_inv
    lam, basis = dissl_lambda(b, categories=16, orbits=16, batch=64)
    assert lam == DISSL.lambda_maximality and SILENT in basis
    lam, basis = dissl_lambda(b, categories=512, orbits=512, batch=64)
    assert lam == pytest.approx((1 + b) / 2) and "midpoint" in basis and "B = 64 < K = 512" in basis


def test_world_records_name_a_statement_or_say_the_theory_is_silent():
    hp = {"temperature": 0.07}
    d, rec = for_world("cissl", "derived", "linear", 512, hp, batch=64)
    assert d == 511 and hp["temperature"] == 0.07  # tau is not derived
    tau = next(r for r in rec if "temperature" in r["prescription"])
    assert tau["basis"].startswith(SILENT) and tau["value"] == 0.07
    hp = {"categories": 64, "out_dim": 64}
    _, rec = for_world("dissl", "derived", "linear", 512, hp, batch=64)
    assert hp["categories"] == 512 and hp["lambda_maximality"] == pytest.approx(0.9)
    for r in rec:
        assert r["basis"].startswith(SILENT) or "S" in r["basis"], r


def test_configure_states_the_provenance_of_every_prescribed_value():
    conf = configure("linear", 16)
    prov = conf.provenance
    assert prov["minimal_dimension"].startswith("S1.3")
    assert prov["cissl.temperature"].startswith(SILENT) and prov["dissl.beta"].startswith(SILENT)
    assert prov["dissl.categories"].startswith("S7")
    assert set(prov) >= {"cissl.student_head", "cissl.teacher_head", "dissl.lambda", "dissl.student_head"}


def test_derived_head_output_width_is_at_least_c_minus_1_with_its_basis():
    """The objectives see the representation only through the student head's output: an affine image of the codes
    whose affine rank is at most its width, so affine probes need that width >= C - 1 (S1.3); derived sets it, the
    hidden widths are left to the published values (the theory is silent), original keeps the small heads."""
    small = {"out_dim": 64, "teacher_hidden_dim": 256, "probe_hidden_dim": 256}
    hp = dict(small)
    _, rec = for_world("cissl", "derived", "linear", 512, hp, batch=64)
    assert hp["out_dim"] == 511 and hp["teacher_hidden_dim"] == 256 and hp["probe_hidden_dim"] == 256
    width = next(r for r in rec if "output width" in r["prescription"])
    assert width["holds"] is True and width["value"] == 511 and width["basis"].startswith("S1.3")
    hidden = next(r for r in rec if "hidden widths" in r["prescription"])
    assert hidden["basis"].startswith(SILENT) and hidden["holds"] is None
    hp = dict(small)
    _, rec = for_world("cissl", "original", "linear", 512, hp, batch=64)
    width = next(r for r in rec if "output width" in r["prescription"])
    assert hp["out_dim"] == 64 and width["holds"] is False and "original" in width["basis"]
    hp = dict(small)  # C = 16: the published 64 already satisfies 64 >= 15 and is kept
    _, rec = for_world("cissl", "derived", "linear", 16, hp, batch=64)
    assert hp["out_dim"] == 64 and next(r for r in rec if "output width" in r["prescription"])["holds"] is True
    hp = {"categories": 64, "bottleneck": None}  # DISSL: the student's output is the K = C categories
    _, rec = for_world("dissl", "derived", "linear", 512, hp, batch=64)
    width = next(r for r in rec if "output width" in r["prescription"])
    assert hp["bottleneck"] is None and width["value"] == 512 and width["holds"] is True
    conf = configure("linear", 512)
    assert conf.cissl["head_output_width"] == 511 and conf.provenance["head_output_width"].startswith("S1.3")
    assert conf.provenance["head_hidden_widths"].startswith(SILENT)
