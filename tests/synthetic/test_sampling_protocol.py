"""Batch regimes, the invariant bound, and the comparison protocol's verdict helpers (issue 13)."""

import math

import numpy as np
import pytest

from idealssl.errors import InputError
from idealssl.synthetic.protocol import CANNOT, loss_tail, partial_spearman, temperature_hparams
from idealssl.synthetic.sampling import effective_batch, invariant_bound, same_orbit_counts, sample_anchors
from idealssl.synthetic.worlds import vector_world


@pytest.fixture(scope="module")
def world():
    return vector_world(n_orbits=6, dim=5, groups=("shift",), seed=0)  # C = 6 orbits of 5 inputs


def test_one_per_orbit_draws_distinct_orbits(world):
    rng = np.random.default_rng(0)
    for batch in (4, 6, 64):
        for _ in range(20):
            a = sample_anchors(world, batch, rng, "one-per-orbit")
            assert len(a) == min(batch, world.C) == effective_batch(world, batch, "one-per-orbit")
            assert len(set(world.orbits[a].tolist())) == len(a)  # no anchor meets its own orbit
            assert np.all(same_orbit_counts(world.orbits[a]) == 0)
    # every input can be drawn (uniform within the orbit)
    seen = {int(i) for _ in range(400) for i in sample_anchors(world, 6, rng, "one-per-orbit")}
    assert seen == set(range(world.N))


def test_iid_regime_reproduces_the_former_draws(world):
    a = sample_anchors(world, 32, np.random.default_rng(7), "iid")
    assert np.array_equal(a, np.random.default_rng(7).integers(0, world.N, size=32))
    with pytest.raises(InputError, match="batch regime"):
        sample_anchors(world, 8, np.random.default_rng(0), "per-orbit")


def test_invariant_bound_exact_vs_monte_carlo(world):
    B = 16
    rng = np.random.default_rng(0)
    ks = np.concatenate([same_orbit_counts(world.orbits[sample_anchors(world, B, rng, "iid")]) for _ in range(4000)])
    assert abs(np.mean(np.log(2 * ks + 2)) - invariant_bound(world, B, "iid")) < 0.01
    assert abs(np.mean(np.log(2 * ks + 1)) - invariant_bound(world, B, "iid", self_candidate=False)) < 0.01
    assert invariant_bound(world, B, "one-per-orbit") == pytest.approx(math.log(2))
    assert invariant_bound(world, B, "one-per-orbit", self_candidate=False) == 0.0


def test_invariant_representations_cannot_go_below_the_bound(world):
    """CISSL's batch loss of any invariant representation is >= mean_a log(2 k_a + 2), SimCLR's >= mean_a
    log(2 k_a + 1) (k_a: other anchors of a's orbit), at every temperature; the bound is reached by
    orthogonal orbit codes at a low temperature."""
    torch = pytest.importorskip("torch")
    from idealssl.objectives.cissl import cissl_loss
    from idealssl.objectives.simclr import nt_xent_loss

    rng = np.random.default_rng(1)
    codes = torch.eye(world.C, dtype=torch.float64)
    for _ in range(5):
        a = sample_anchors(world, 12, rng, "iid")
        k = same_orbit_counts(world.orbits[a])
        z = codes[torch.as_tensor(world.orbits[a])]
        for tau in (0.05, 0.5, 2.0):
            c = float(cissl_loss([z, z], [z, z], tau))
            s = float(nt_xent_loss([z, z], tau))
            assert c >= np.mean(np.log(2 * k + 2)) - 1e-5  # float32 loss
            assert s >= np.mean(np.log(2 * k + 1)) - 1e-5
        assert float(cissl_loss([z, z], [z, z], 0.01)) == pytest.approx(np.mean(np.log(2 * k + 2)), abs=1e-5)


def test_loss_tail_and_partial_spearman():
    flat = loss_tail(np.r_[np.linspace(5, 1, 500), np.ones(500)])
    assert flat["flattened"] and flat["final_loss_last10"] == pytest.approx(1.0) and len(flat["loss_tail_curve"]) == 10
    assert not loss_tail(np.linspace(5, 1, 1000))["flattened"]
    rng = np.random.default_rng(0)
    z = rng.normal(size=200)
    x = z + 0.1 * rng.normal(size=200)
    y = z + 0.1 * rng.normal(size=200)  # x and y related only through z
    assert abs(partial_spearman(x, y, z)["rho"]) < 0.2
    assert partial_spearman(x, x + 0.01 * rng.normal(size=200), z)["rho"] > 0.5
    assert temperature_hparams("dino", 0.3) == {"student_temp": 0.3, "teacher_temp": 0.15, "warmup_teacher_temp": 0.15}
    assert temperature_hparams("dissl", 0.3) == {"student_temperature": 0.3, "teacher_temperature": 0.15}


def _cell(method, d, C, lin, mlp):
    m = {"mean": lin, "sd": 0.0, "n": 3}
    rel = "below" if d < C - 1 else ("at" if d == C - 1 else "above")
    return {
        "world": "w",
        "C": C,
        "method": method,
        "dim": d,
        "relation": rel,
        "linear_frac_perfect_binary": m,
        "mlp_frac_perfect_binary": {"mean": mlp, "sd": 0.0, "n": 3},
        "cover_fraction_binary": 0.5,
    }


def test_dimension_claims_cannot_discriminate():
    from idealssl.synthetic.experiments.dimension import dimension_claims

    memorising = [_cell(m, d, 16, lin, 1.0) for m in ("oracle", "cissl") for d, lin in ((3, 0.0), (15, 1.0))]
    claims = {c["id"]: c["held"] for c in dimension_claims(memorising)}
    assert claims["dim-necessary"] == CANNOT and claims["dim-mlp"] == CANNOT and claims["dim-sufficient-oracle"] is True
    broken = [_cell("oracle", 3, 16, 1.0, 0.5), _cell("oracle", 15, 16, 1.0, 0.9)]
    claims = {c["id"]: c["held"] for c in dimension_claims(broken)}
    assert claims["dim-necessary"] is False  # a probe fitting every task below C - 1 is broken
    assert claims["dim-mlp"] is False  # and the MLP probe does worse than the linear one there


def test_coarseness_claims_exclude_the_n1_ties():
    from idealssl.synthetic.experiments.coarseness import coarseness_claims

    def level(C, errs):
        return [
            {
                "method": "oracle",
                "level_C": C,
                "seed": s,
                "probes": {
                    "linear": {
                        "fewshot": {
                            str(n): {"error": x + 0.01 * s, "seen_orbit_error": 0.0, "W_n": 1.0}
                            for n, x in errs.items()
                        }
                    }
                },
            }
            for s in range(3)
        ]

    rows = level(8, {1: 0.50, 4: 0.4}) + level(4, {1: 0.60, 4: 0.2})  # n = 1 worse when coarser: excluded
    mono = coarseness_claims(rows, ["oracle"], (1, 4))[0]
    assert mono["held"] is True and mono["values"]["pairs"] == 1 and mono["values"]["excluded"] == "n = 1"
