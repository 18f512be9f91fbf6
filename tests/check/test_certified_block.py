"""The ``certified`` block of ``idealssl check`` (theory/statements.md S10) as a user meets it: the CLI's JSON and
text, the one line read first, the per-orbit diagnosis, the cheap path for many orbits, the figure, a trained
synthetic encoder and the trainer's check files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import idealssl
from idealssl.checker import certified as cf
from idealssl.checker import certified_block as cb
from idealssl.cli import main
from idealssl.theory_math import erm_risk, regular_simplex

#: keys every sub-block carries besides its figures: the statement of theory/statements.md it comes from
STATEMENT_KEYS = (
    "gamma",
    "eps",
    "delta",
    "population",
    "nshot",
    "certified_fraction",
    "bound",
    "soft_scores",
    "orbits",
)


def _near_ideal(C=4, per=6, rel=0.05, seed=0, d=None):
    """Regular simplex codes (unit vertices, γ = 1/√(C−1) for even C, S10.1(d)) and ``per`` points per orbit
    around each, deviations of norm ``rel`` · γ in random directions, re-centred so each code is its orbit's
    mean."""
    rng = np.random.default_rng(seed)
    S = regular_simplex(C)
    d = d or S.shape[1]
    codes = np.zeros((C, d))
    codes[:, : S.shape[1]] = S
    gamma = cf.code_margin(codes, "linear").lower
    Z, lab = [], []
    for m in range(C):
        E = rng.normal(size=(per, d))
        E -= E.mean(axis=0)
        top = np.linalg.norm(E, axis=1).max()
        E *= rel * gamma / top if top > 0 else 0.0  # one point per orbit: the point is its code
        Z.append(codes[m] + E)
        lab += [m] * per
    return np.vstack(Z), np.array(lab), gamma


def cli(capsys, *argv):
    rc = main(["check", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_certified_near_ideal_problem_json_and_line(capsys, write):
    Z, lab, gamma = _near_ideal(C=4, rel=0.05)
    z, o = write("Z.npy", Z), write("o.json", {"labels": lab.tolist()})
    rc, out, _ = cli(capsys, z, "--augs", o, "--json")
    rep = json.loads(out)
    assert rc == 1 and rep["ideal"] is False  # not exactly invariant: the verdict stands, the certificate is extra
    blk = rep["certified"]
    assert blk["path"] == "points" and blk["gamma"]["exact"] is True
    assert blk["gamma"]["lower"] <= gamma * (1 + 1e-9) and blk["gamma"]["upper"] >= gamma * (1 - 1e-9)
    assert blk["nshot"]["holds"] and blk["population"]["holds"]
    assert blk["certified_fraction"]["points"] == 1.0 and blk["certified_fraction"]["orbits"] == 1.0
    # with no mass outside the core the bound is W_n of the orbit masses (S10.4 with q = 0)
    for n, b in zip(blk["bound"]["n"], blk["bound"]["error"]):
        assert b == pytest.approx(erm_risk(np.full(4, 0.25), n), rel=1e-12)
    assert blk["bound"]["n_below_target"] == 17 and blk["bound"]["why_null"] is None  # (3/4)^17 < 0.01 < (3/4)^16
    assert blk["orbits"]["n_breaking"] == 0 and blk["orbits"]["breaking"] == []
    assert blk["line"].startswith("certified: every invariant task, n-shot error ≤ 0.75 at n = 1")
    assert "≤ 0.01 at n = 17" in blk["line"]
    rc, text, _ = cli(capsys, z, "--augs", o)
    lines = text.splitlines()
    verdict = next(i for i, s in enumerate(lines) if s.startswith("verdict:"))
    assert lines[verdict + 1] == blk["line"]  # the line a user reads first, under the verdict
    assert "certified block (theory/statements.md S10" in text


def test_not_certified_problem_names_the_worst_orbits(capsys, write):
    Z, lab, gamma = _near_ideal(C=4, per=2, rel=1.5, seed=1)  # two points per orbit, both at 1.5 γ: no core
    far = lab == 2
    Z[far] = 3.0 * Z[far] - 2.0 * Z[far].mean(axis=0)  # orbit 2 three times as spread
    z, o = write("Z.npy", Z), write("o.json", {"labels": lab.tolist()})
    rc, out, _ = cli(capsys, z, "--augs", o, "--json")
    blk = json.loads(out)["certified"]
    assert rc == 1 and not blk["nshot"]["holds"] and not blk["population"]["holds"]
    assert blk["nshot"]["radius"] is None and blk["bound"]["error"] == [1.0] * 7
    assert blk["bound"]["n_below_target"] is None and blk["bound"]["why_null"].startswith("no certified core")
    worst = blk["orbits"]["breaking"][0]
    assert worst["orbit"] == 2 and worst["reason"] == "too spread" and blk["orbits"]["n_breaking"] == 4
    assert blk["eps_over_gamma"] == pytest.approx(4.5, rel=1e-6)
    assert (
        blk["line"]
        == "no certificate: ε/γ = 4.5 (S10.3 needs < 1/3), the worst orbits are 2 (too spread), "
        + (", ".join(f"{r['orbit']} (too spread)" for r in blk["orbits"]["breaking"][1:3]))
        + " (of 4)"
    )


def test_an_outlier_leaves_a_certified_core(capsys, write):
    Z, lab, gamma = _near_ideal(C=4, rel=0.05, seed=1)
    Z[np.flatnonzero(lab == 2)[0]] += 3.0 * gamma * np.eye(Z.shape[1])[0]  # one point of orbit 2 far out
    z, o = write("Z.npy", Z), write("o.json", {"labels": lab.tolist()})
    blk = json.loads(cli(capsys, z, "--augs", o, "--json")[1])["certified"]
    assert not blk["nshot"]["holds"] and blk["nshot"]["radius"] is not None
    mass = blk["certified_fraction"]["mass"]
    assert mass == pytest.approx(23 / 24) and blk["certified_fraction"]["orbits"] == 0.75
    assert blk["line"].startswith("certified: every invariant task, n-shot error ≤ ")
    assert blk["line"].endswith(f"(on the core: {mass:.3g} of the mass)")
    # the mass left out of the core still counts: the bound is never below it (S10.4: B(n) ≥ 1 − s^(n+1))
    assert all(b >= 1 - mass ** (n + 1) - 1e-12 for n, b in zip(blk["bound"]["n"], blk["bound"]["error"]))
    assert blk["orbits"]["breaking"][0]["orbit"] == 2 and blk["orbits"]["breaking"][0]["reason"] == "too spread"


def test_close_codes_are_named_as_too_close(capsys, write):
    Z, lab, gamma = _near_ideal(C=4, rel=0.3, seed=2)
    Z[lab == 3] = Z[lab == 3] * 0.1 + 0.9 * Z[lab == 1].mean(axis=0)  # orbit 3 moved next to orbit 1, shrunk
    z, o = write("Z.npy", Z), write("o.json", {"labels": lab.tolist()})
    blk = json.loads(cli(capsys, z, "--augs", o, "--json")[1])["certified"]
    reasons = {(b["orbit"], b["reason"]) for b in blk["orbits"]["breaking"]}
    assert (3, "too close to another code") in reasons and 1 in {m for m, _ in reasons}
    close = next(b for b in blk["orbits"]["breaking"] if b["orbit"] == 3)
    assert close["partner"] == 1 and close["pair_margin"] > 3 * close["eps"]  # compact: its neighbour is too near


def test_bias_free_problem_with_a_zero_code(capsys, write):
    C = 4
    S = regular_simplex(C)  # centred: the origin inside the hull, ideal without bias (S1.4)
    Z = np.repeat(S, 3, axis=0) * (1.0 + 0.01 * np.arange(3 * C))[:, None]  # positive rescalings only
    lab = np.repeat(np.arange(C), 3)
    Z[lab == 1] = 0.0  # orbit 1: zero vectors, no direction
    z, o = write("Z.npy", Z), write("o.json", {"labels": lab.tolist()})
    rc, out, _ = cli(capsys, z, "--augs", o, "--probe", "linear-nobias", "--json")
    blk = json.loads(out)["certified"]
    assert rc == 1 and not blk["nshot"]["holds"]
    first = blk["orbits"]["breaking"][0]
    assert first["orbit"] == 1 and first["reason"] == "zero code"
    assert blk["eps"]["max"] is None  # +inf: no direction (JSON has no infinity)
    assert "the worst orbits are 1 (zero code" in blk["line"]
    # a zero code lies in the hull of every signed code set: γ = 0 (S10.1(a)), nothing is certified, although
    # the other orbits are exact positive multiples of their codes
    assert blk["gamma"]["lower"] == 0.0 and blk["certified_fraction"]["mass"] == 0.0
    assert blk["bound"]["error"] == [1.0] * 7 and blk["line"].startswith("no certificate: ε/γ = inf")


def test_big_c_takes_the_cheap_path(capsys, write, monkeypatch):
    rng = np.random.default_rng(3)
    C, d, per = 300, 320, 2
    codes = rng.normal(size=(C, d))
    Z = np.repeat(codes, per, axis=0) + 1e-4 * rng.normal(size=(C * per, d))
    lab = np.repeat(np.arange(C), per)
    monkeypatch.setattr(cb, "POINTS_MAX_ENTRIES", 10_000)  # as if N·d were large: per-orbit summaries only
    z, o = write("Z.npy", Z), write("o.json", {"labels": lab.tolist()})
    rc, out, _ = cli(capsys, z, "--augs", o, "--json")
    blk = json.loads(out)["certified"]
    assert blk["path"] == "orbits" and blk["gamma"]["exact"] is False
    assert blk["gamma"]["lower"] == pytest.approx(cf.cheap_margin(codes, "linear"), rel=0.05)
    assert blk["delta"]["bounded_by_2eps"] is True
    assert blk["nshot"]["holds"] and blk["line"].startswith("certified: every invariant task")
    assert blk["eps"]["over"] == "orbit radii"


def test_block_schema_carries_every_statement(capsys, write):
    Z, lab, _ = _near_ideal(C=3, rel=0.5)
    z, o = write("Z.npy", Z), write("o.json", {"labels": lab.tolist()})
    blk = json.loads(cli(capsys, z, "--augs", o, "--json")[1])["certified"]
    assert blk["statement"] == "theory/statements.md S10"
    for k in STATEMENT_KEYS:
        assert blk[k]["statement"].startswith("S10."), k
    assert set(blk["bound"]) >= {"n", "error", "target", "n_below_target", "why_null", "statement"}
    assert blk["bound"]["n"] == [1, 2, 5, 10, 20, 50, 100]
    soft = blk["soft_scores"]
    assert soft["read"] == "pair_separation" and 0.0 <= soft["pair_separation"]["pairs"] <= 1.0
    assert set(soft["margin_radius_ratio"]) == {"q0.5", "q0.9", "q1"}
    assert set(blk["eps"]["quantiles"]) == {"q0.5", "q0.9", "q0.99", "q1"}
    assert blk["mode"] == "auto" and blk["units"] == "units of Z"


def test_certified_off_and_bad_mode(capsys, write):
    Z, lab, _ = _near_ideal(C=3)
    z, o = write("Z.npy", Z), write("o.json", {"labels": lab.tolist()})
    rc, out, _ = cli(capsys, z, "--augs", o, "--json", "--certified", "off")
    assert rc == 1 and "certified" not in json.loads(out)
    with pytest.raises(SystemExit) as e:
        main(["check", z, "--augs", o, "--certified", "sometimes"])
    assert e.value.code == 2
    with pytest.raises(idealssl.errors.InputError):
        idealssl.check(Z, lab, certified="sometimes")


def test_full_mode_gives_the_exact_margin_where_auto_gives_the_cheap_one(monkeypatch):
    Z, lab, gamma = _near_ideal(C=10, rel=0.02, d=9)
    monkeypatch.setattr(cb, "AUTO_EXACT_MAX_C", 8)
    auto = idealssl.check(Z, lab).to_dict()["certified"]
    full = idealssl.check(Z, lab, certified="full").to_dict()["certified"]
    assert not auto["gamma"]["exact"] and full["gamma"]["exact"]
    assert auto["gamma"]["lower"] <= full["gamma"]["lower"] * (1 + 1e-9)


@settings(max_examples=12, deadline=None)
@given(
    C=st.integers(2, 6),
    per=st.integers(1, 4),
    rel=st.floats(0.01, 2.0),
    probe=st.sampled_from(["linear", "linear-nobias", "mlp"]),
    seed=st.integers(0, 10**6),
)
@example(C=2, per=1, rel=0.01, probe="mlp", seed=0)
def test_orbit_path_is_never_below_the_point_path(C, per, rel, probe, seed):
    """The per-orbit certificate (whole orbits as the core, δ_m ≤ 2ε_m) is a weaker form of S10.4 on the same codes:
    its bound is at least the point certificate's at every n, and it certifies nothing the points do not."""
    Z, lab, _ = _near_ideal(C=C, per=per, rel=rel, seed=seed)
    prob = cf.problem(Z, lab, probe)
    pts = cf.certify(prob)
    orb = cf.orbit_certificate(prob.codes, prob.radii, prob.orbit_mass, probe)
    assert orb.gamma.lower == pts.gamma.lower
    assert orb.certified_mass <= pts.certified_mass + 1e-12
    assert orb.nshot <= pts.nshot and orb.population == pts.population
    for n in (1, 2, 5, 50):
        assert orb.bound(n) >= pts.bound(n) - 1e-12


def test_figure_of_radii_against_the_margin(capsys, write, tmp_path):
    Z, lab, _ = _near_ideal(C=4, rel=0.2)
    z, o = write("Z.npy", Z), write("o.json", {"labels": lab.tolist()})
    for name in ("c.png", "c.pdf", "c.svg"):
        rc, _, err = cli(capsys, z, "--augs", o, "--plot", str(tmp_path / name))
        assert rc == 1 and "figure written" in err
        data = (tmp_path / name).read_bytes()
        assert len(data) > 1000
    assert data.lstrip().startswith(b"<?xml") and b"<svg" in data[:2000]  # vector output for .svg
    from idealssl.checker.figure import certified_points

    rep = idealssl.check(Z, lab).to_dict()
    xs, ys, broken, lines = certified_points(rep)
    assert len(xs) == len(ys) == 4 and not any(broken)
    assert lines["γ/3 (S10.3(b))"] == pytest.approx(rep["certified"]["gamma"]["lower"] / 3)


def test_check_json_on_a_trained_synthetic_encoder(tmp_path, capsys):
    out = tmp_path / "loop"
    argv = ["bench", "loop", "--world", "vector", "--method", "cissl", "--config", "derived", "--steps", "20"]
    assert main([*argv, "--seed", "0", "--out", str(out)]) in (0, 1)
    capsys.readouterr()
    rc, text, _ = cli(capsys, str(out / "representation.npy"), "--augs", str(out / "orbits.json"), "--json")
    rep = json.loads(text)
    blk = rep["certified"]
    assert rc == (0 if rep["ideal"] else 1)
    assert blk["path"] == "points" and blk["line"].startswith(("certified:", "no certificate:"))
    assert math.isfinite(blk["gamma"]["lower"]) and blk["bound"]["error"][0] <= 1.0
    stored = json.loads((out / "report.json").read_text())  # the loop's own report carries the block too
    assert "certified" in stored and stored["certified"]["statement"] == "theory/statements.md S10"


def _train_with_check(tmp_path):
    pytest.importorskip("torch")
    from tests.train._tiny import FAST

    out = tmp_path / "run"
    argv = ["train", "--method", "dissl", "--dataset", "digits", "--epochs", "1", "--out", str(out), *FAST]
    assert main([*argv, "eval.at_end=[]", "check.images=8", "check.views=3"]) == 0
    return out


def test_trainer_check_report_carries_the_block(tmp_path, capsys):
    """``idealssl train``'s check writes the checker's whole report to RUN/check/report.json: the block is there
    through the checker's API, with no edit in idealssl/train/."""
    out = _train_with_check(tmp_path)
    stored = json.loads((out / "check" / "report.json").read_text())
    blk = stored["certified"]
    assert blk["statement"] == "theory/statements.md S10" and blk["line"].startswith(("certified:", "no certificate:"))
    res = json.loads((out / "results.json").read_text())
    assert "check" in res and "verdict" in res["check"]


def test_results_json_check_block_carries_the_block():
    pytest.importorskip("torch")
    from idealssl.train.orbit_sets import check_block

    Z, lab, _ = _near_ideal(C=4)
    report = idealssl.check(Z, lab, tol=1e-2).to_dict()
    desc = {"images": 4, "views": 6, "orbits": "image"}
    assert check_block(report, desc, "linear", 1e-2)["certified"] == report["certified"]


def test_a_dependency_is_named_only_when_nothing_else_explains_the_failure():
    """A simplex's margin is set by a labelling of half the orbits against the rest (S10.1(d)), not by a pair: with
    one orbit too spread, that orbit alone breaks the certificate (the binding labelling's orbits are not named);
    with C − 1 > d (γ = 0, Radon) the orbits on a dependency are."""
    Z, lab, gamma = _near_ideal(C=6, per=5, rel=0.2, seed=0)
    Z[lab == 2] = 3.0 * Z[lab == 2] - 2.0 * Z[lab == 2].mean(axis=0)
    blk = idealssl.check(Z, lab).to_dict()["certified"]
    assert [(r["orbit"], r["reason"]) for r in blk["orbits"]["breaking"]] == [(2, "too spread")]
    rng = np.random.default_rng(0)
    Z = np.repeat(rng.normal(size=(8, 3)), 2, axis=0) + 1e-3 * rng.normal(size=(16, 3))
    blk = idealssl.check(Z, np.repeat(np.arange(8), 2)).to_dict()["certified"]
    assert blk["gamma"]["exact"] and blk["gamma"]["upper"] == 0.0
    assert {r["reason"] for r in blk["orbits"]["breaking"]} == {"on a dependency"}
    assert blk["orbits"]["note"].startswith("C − 1 = 7 > d = 3")
