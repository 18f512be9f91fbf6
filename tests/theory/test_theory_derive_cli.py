"""`idealssl derive`: both forms, JSON output checked against independent values, bad input -> exit 2."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from idealssl.cli import main


def run(argv, capsys):
    rc = main(["derive"] + argv)
    out, err = capsys.readouterr()
    return rc, out, err


def L_indep(C, tau=1.0):
    """Loss at the simplex computed from its Gram matrix, not from the closed form."""
    G = np.where(np.eye(C) > 0, 1.0, -1.0 / (C - 1)) / tau
    return float(np.mean(np.log(np.exp(G).sum(axis=1)) - np.diag(G)))


@pytest.mark.parametrize("C", [2, 3, 6, 11])
@pytest.mark.parametrize("probe,dmin", [("linear", -1), ("linear-nobias", -1), ("mlp", None)])
def test_configuration_json(C, probe, dmin, capsys):
    rc, out, err = run(["--probe", probe, "--classes", str(C), "--json"], capsys)
    assert rc == 0 and err == ""
    cfg = json.loads(out)
    assert cfg["minimal_dimension"] == (1 if dmin is None else C + dmin)  # linear-nobias: C - 1 (S1.4, issue 11)
    if probe == "mlp":  # L* is the linear probes' optimum: not reported as the MLP family's (issue 11)
        assert cfg["ideal_objective"]["defined"] is False and cfg["ideal_objective"]["optimum"] is None
        assert cfg["ideal_objective"]["optimum_for_linear_probes"] == pytest.approx(L_indep(C), abs=1e-12)
        assert "not defined for MLP probes" in cfg["ideal_objective"]["note"]
    else:
        assert cfg["ideal_objective"]["optimum"] == pytest.approx(L_indep(C), abs=1e-12)
    assert cfg["ideal_objective"]["simplex_cosine"] == pytest.approx(-1 / (C - 1))
    assert cfg["sample_efficiency"]["W_n"] == pytest.approx([(1 - 1 / C) ** n for n in cfg["sample_efficiency"]["n"]])
    assert cfg["cissl"]["population_optimum"] == pytest.approx(L_indep(C) - math.log(C))
    assert cfg["dissl"]["categories"] == C
    assert "probe family" in cfg["dissl"]["student_head"] and "expressive" in cfg["dissl"]["teacher_head"]


@pytest.mark.parametrize("C,d,ok", [(5, 4, True), (5, 3, False), (3, 1, False), (3, 2, True)])
def test_dim_verdict_and_minimum_in_dim(C, d, ok, capsys):
    rc, out, _ = run(["--probe", "linear", "--classes", str(C), "--dim", str(d), "--json"], capsys)
    cfg = json.loads(out)
    assert rc == 0 and cfg["dim_can_be_ideal"] is ok
    if not ok:
        from theory.simplex import numeric_minimum

        assert cfg["ideal_objective"]["minimum_in_dim"] == pytest.approx(numeric_minimum(C, d, restarts=4), abs=2e-5)
        assert cfg["ideal_objective"]["minimum_in_dim"] > cfg["ideal_objective"]["optimum"]


def test_nobias_needs_C_minus_1_and_mlp_needs_1(capsys):
    cfg = json.loads(run(["--probe", "linear-nobias", "--classes", "4", "--dim", "3", "--json"], capsys)[1])
    assert cfg["dim_can_be_ideal"] is True  # the centred simplex in R^3 is ideal without bias (S1.4)
    cfg = json.loads(run(["--probe", "linear-nobias", "--classes", "4", "--dim", "2", "--json"], capsys)[1])
    assert cfg["dim_can_be_ideal"] is False and "zero coefficient" in cfg["dim_reason"]
    cfg = json.loads(run(["--probe", "linear-nobias", "--classes", "5", "--json"], capsys)[1])
    assert cfg["minimal_dimension"] == 4  # the acceptance example of issue 11
    cfg = json.loads(run(["--probe", "mlp", "--classes", "40", "--dim", "1", "--json"], capsys)[1])
    assert cfg["dim_can_be_ideal"] is True


@pytest.mark.parametrize("lam,warn", [(1.5, False), (2.3, True)])
def test_dissl_threshold_in_configuration(lam, warn, capsys):
    cfg = json.loads(
        run(
            ["--classes", "4", "--dissl-categories", "8", "--dissl-lambda", str(lam), "--dissl-beta", "0.8", "--json"],
            capsys,
        )[1]
    )
    t = cfg["dissl"]["teacher_optimum"]
    assert t["deterministic"] is (not warn)
    assert ("warning" in cfg["dissl"]) is warn
    expected = -lam * math.log(4) if not warn else 1.8 * math.log(2) - lam * math.log(8)
    assert t["value"] == pytest.approx(expected, abs=1e-12)


def test_text_output_names_every_part(capsys):
    rc, out, _ = run(["--probe", "linear", "--classes", "5", "--dim", "3"], capsys)
    assert rc == 0
    for word in (
        "minimal dimension",
        "cannot be ideal",
        "ideal log loss",
        "CISSL",
        "DISSL",
        "sample efficiency",
        "S4.2",
    ):
        assert word in out


def _write_problem(tmp_path, Z, labels):
    rp, op = tmp_path / "rep.npy", tmp_path / "orbits.json"
    np.save(rp, Z)
    op.write_text(json.dumps({"labels": [int(x) for x in labels]}))
    return str(rp), str(op)


def test_exact_json_on_simplex_and_on_a_line(tmp_path, capsys):
    from idealssl.derive import regular_simplex

    C = 4
    rp, op = _write_problem(tmp_path, np.repeat(regular_simplex(C), 3, axis=0), np.repeat(np.arange(C), 3))
    rc, out, _ = run(["--exact", rp, "--augs", op, "--json"], capsys)
    r = json.loads(out)
    assert rc == 0
    assert r["normalised_ideal_log_loss"]["value"] == pytest.approx(L_indep(C), abs=1e-9)
    assert (
        r["normalised_ideal_log_loss"]["reaches_optimum"]
        and r["cissl"]["reaches_optimum"]
        and r["dissl"]["reaches_optimum"]
    )
    assert r["dissl"]["teacher_optimum"] == pytest.approx(-2.3 * math.log(C))
    assert r["sample_efficiency"]["W_n_equiprobable"][0] == pytest.approx(0.75)

    rp, op = _write_problem(tmp_path, np.arange(4.0)[:, None], np.arange(4))
    rc, out, _ = run(["--exact", rp, "--augs", op, "--json"], capsys)
    r = json.loads(out)
    assert rc == 0 and not r["normalised_ideal_log_loss"]["reaches_optimum"]
    assert r["normalised_ideal_log_loss"]["gap"] > 0.1
    rc, out, _ = run(["--exact", rp, "--augs", op], capsys)
    assert rc == 0 and "ideal log loss, whitened" in out and "gap" in out  # the normalised value, by its method


@pytest.mark.parametrize(
    "argv_kind,needle",
    [
        ("classes1", "--classes must be an integer in [2, "),
        ("missing", "no such file"),
        ("noaugs", "--exact needs --augs"),
        ("both", "either --classes"),
        ("mismatch", "N = 3"),
        ("nan", "non-finite"),
        ("object", ""),
        ("nothing", "give --classes"),
        ("augs_alone", "only used with --exact"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv_kind, needle, tmp_path, capsys):
    good_rep, good_orb = _write_problem(tmp_path, np.eye(3), [0, 1, 2])
    bad = tmp_path / "bad.npy"
    argv = {
        "classes1": ["--classes", "1"],
        "missing": ["--exact", str(tmp_path / "nope.npy"), "--augs", good_orb],
        "noaugs": ["--exact", good_rep],
        "both": ["--exact", good_rep, "--augs", good_orb, "--classes", "3"],
        "nothing": [],
        "augs_alone": ["--augs", good_orb, "--classes", "3"],
    }.get(argv_kind)
    if argv_kind == "mismatch":
        orb = tmp_path / "o4.json"
        orb.write_text(json.dumps({"labels": [0, 1, 2, 2]}))
        argv = ["--exact", good_rep, "--augs", str(orb)]
    if argv_kind == "nan":
        np.save(bad, np.array([[np.nan, 0.0], [0.0, 1.0], [1.0, 1.0]]))
        argv = ["--exact", str(bad), "--augs", good_orb]
    if argv_kind == "object":
        np.save(bad, np.array([{"a": 1}, None, 3], dtype=object), allow_pickle=True)
        argv = ["--exact", str(bad), "--augs", good_orb]
    rc, out, err = run(argv, capsys)
    assert rc == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert needle in err


def test_derive_cli_does_not_import_torch():
    code = "import sys, idealssl.derive.cli, idealssl.derive, idealssl.theory_math; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_checker_and_derive_import_no_torch():
    # `pip install .` without torch must give a working check and derive (issue 15)
    code = (
        "import idealssl.checker, idealssl.derive, idealssl.inputs, idealssl.probes, sys; "
        "assert 'torch' not in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
