"""``derive --exact`` leads with the checker's verdict and explains every objective that disagrees with it.

Closed forms: the ideal log loss of a simplex scaled by s is L*(C, tau / s) (S4.2 with E||z||^2 = s^2), below
L* for s > 1 although nothing about idealness changed. Counterexamples: codes at the corners of a square
(C = 4, d = 2; XOR is not affinely separable) and non-invariant points in general position both reach DISSL's
optimum (the student realises the teacher's one partition, S7.4) and are not ideal.
"""

import json
import math
import shlex

import numpy as np
import pytest

from idealssl import check, derive
from idealssl.cli import main

SQUARE = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])


def _agreement(r, quantity):
    return next(a for a in r.verdict["agreement"] if a["quantity"] == quantity)


@pytest.mark.parametrize("s", [0.5, 1.0, 3.0])
def test_scaled_simplex_raw_loss_is_the_closed_form_and_the_verdict_ignores_the_scale(s):
    C = 4
    Z = s * np.repeat(derive.regular_simplex(C), 2, axis=0)
    r = derive.exact(Z, np.repeat(np.arange(C), 2))
    closed = math.log(1 + (C - 1) * math.exp(-s * C / (C - 1)))  # = L*(C, tau = 1 / s)
    assert closed == pytest.approx(derive.ideal_log_loss_optimum(C, 1 / s), abs=1e-12)
    assert r.ideal_log_loss["value"] == pytest.approx(closed, abs=1e-7)
    assert r.ideal_log_loss["mean_sq_norm"] == pytest.approx(s * s, abs=1e-9)
    assert r.ideal_log_loss["bound_holds"] is (s <= 1)
    assert (r.ideal_log_loss["value"] < r.ideal_log_loss["optimum"] - 1e-3) is (s > 1)
    # the scale-free values and the verdict do not move
    assert r.normalised_ideal_log_loss["value"] == pytest.approx(derive.ideal_log_loss_optimum(C), abs=1e-8)
    assert r.verdict["ideal"] and r.verdict["failed"] == []
    assert all(a["agrees"] and "why" not in a for a in r.verdict["agreement"])


def test_square_corners_reach_dissl_optimum_but_are_not_ideal():
    """Counterexample to "DISSL at its optimum => ideal": 4 invariant codes on a square's corners."""
    Z, lab = np.repeat(SQUARE, 3, axis=0), np.repeat(np.arange(4), 3)
    r = derive.exact(Z, lab)
    assert r.dissl["reaches_optimum"] and r.dissl["value"] == pytest.approx(-2.3 * math.log(4), abs=1e-8)
    assert not check(Z, lab).ideal and not r.verdict["ideal"]
    assert {f["name"] for f in r.verdict["failed"]} >= {"affine_independence", "effective_dimension"}
    assert not r.normalised_ideal_log_loss["reaches_optimum"] and _agreement(r, "normalised_ideal_log_loss")["agrees"]
    d = _agreement(r, "dissl")
    assert not d["agrees"] and "one labelling, not every one" in d["why"] and "K = 4 categories" in d["why"]
    # the labelling DISSL never asks for: XOR, which the checker's certificate names
    cert = check(Z, lab).counterexample
    assert cert["verified"] and len(set(cert["orbit_labels"])) == 2


def test_non_invariant_points_in_general_position_reach_dissl_optimum():
    """Distinct codes within each orbit (N <= d + 1, general position): every labelling of the points fits."""
    rng = np.random.default_rng(0)
    Z, lab = rng.normal(size=(8, 8)), np.repeat(np.arange(4), 2)
    r = derive.exact(Z, lab)
    assert r.dissl["reaches_optimum"] and not r.verdict["ideal"]
    assert "invariance" in {f["name"] for f in r.verdict["failed"]}
    assert "not invariant" in _agreement(r, "dissl")["why"]


def test_near_ideal_representation_tolerances_are_explained_and_match_when_aligned():
    """A simplex with within-orbit noise 3e-3: check at tol 1e-2 says ideal, the whitened gap exceeds 1e-6."""
    C = 4
    rng = np.random.default_rng(0)
    Z = np.repeat(derive.regular_simplex(C), 3, axis=0) + 3e-3 * rng.normal(size=(12, C - 1))
    lab = np.repeat(np.arange(C), 3)
    loose = derive.exact(Z, lab, check_tol=1e-2)
    assert loose.verdict["ideal"] == check(Z, lab, tol=1e-2).ideal is True
    w = _agreement(loose, "normalised_ideal_log_loss")
    assert not w["agrees"] and "different tolerances" in w["why"] and "ideal_tolerance" in w["why"]
    tight = derive.exact(Z, lab, check_tol=1e-4)  # the checker's default: both say not ideal
    assert not tight.verdict["ideal"] and _agreement(tight, "normalised_ideal_log_loss")["agrees"]


def _cli(argv, capsys):
    """``idealssl derive ARGV`` as typed: the exit status (argparse's usage errors exit through SystemExit)."""
    try:
        rc = main(["derive", *argv])
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(
    "rep,orbits,ideal", [("simplex", "simplex_orbits", True), ("span_counterexample", "span_orbits", False)]
)
def test_cli_verdict_equals_check_and_leads_the_output(rep, orbits, ideal, capsys):
    argv = [f"examples/{rep}.npy", "--augs", f"examples/{orbits}.json"]
    rc, out, _ = _cli(["--exact", *argv], capsys)
    assert rc == 0
    lines = out.splitlines()
    assert lines[1].startswith("verdict             " + ("IDEAL" if ideal else "NOT IDEAL"))
    order = [next(i for i, ln in enumerate(lines) if ln.startswith(h)) for h in ("verdict", "scale-free", "raw value")]
    assert order == sorted(order)
    assert main(["check", *argv, "--json"]) == (0 if ideal else 1)
    assert json.loads(capsys.readouterr().out)["ideal"] is ideal
    if not ideal:  # the paper's span counterexample: DISSL's one 3-way partition of collinear codes fits
        assert "DISSL reaches its optimum, unlike the verdict" in out and "fails affine_independence" in out
        cmd = out.split("the certificate: ", 1)[1].splitlines()[0]  # the printed command, run as typed
        assert main(shlex.split(cmd)[1:]) == 1 and "verdict: NOT IDEAL" in capsys.readouterr().out
    rc, out, _ = _cli(["--exact", *argv, "--json"], capsys)
    v = json.loads(out)["verdict"]
    assert rc == 0 and v["ideal"] is ideal and v["tol"] == 1e-4 and list(json.loads(out))[5] == "verdict"


def test_cli_raw_value_below_optimum_is_explained(tmp_path, capsys):
    C, s = 4, 3.0
    np.save(tmp_path / "z.npy", s * np.repeat(derive.regular_simplex(C), 2, axis=0))
    (tmp_path / "o.json").write_text(json.dumps({"labels": [int(x) for x in np.repeat(np.arange(C), 2)]}))
    rc, out, _ = _cli(["--exact", str(tmp_path / "z.npy"), "--augs", str(tmp_path / "o.json")], capsys)
    assert rc == 0 and "verdict             IDEAL" in out
    assert "mean squared norm 9 > 1" in out and "below L* reflects the norms, not idealness" in " ".join(out.split())


@pytest.mark.parametrize("value,fragment", [("abc", "expected a number"), ("0", "tol"), ("1.5", "tol")])
def test_cli_bad_check_tol_is_one_line(value, fragment, capsys):
    rc, _, err = _cli(
        ["--exact", "examples/simplex.npy", "--augs", "examples/simplex_orbits.json", "--check-tol", value], capsys
    )
    assert rc == 2 and fragment in err and err.strip().count("\n") == 0, err
