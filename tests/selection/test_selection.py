"""The score bundle of one orbit set (idealssl.checker.selection) and idealssl select as a user types it."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from idealssl import label_free as lf
from idealssl.checker import certified as cert
from idealssl.checker import selection as sel
from idealssl.cli import main
from idealssl.errors import InputError


def _orbits(seed, spread, C=12, V=4, d=8):
    rng = np.random.default_rng(seed)
    lab = np.repeat(np.arange(C), V)
    return rng.normal(size=(C, d))[lab] + spread * rng.normal(size=(C * V, d)), lab


# ------------------------------------------------------------------------------------------------ pair ratios
@pytest.mark.parametrize("probe", ["linear", "linear-nobias", "mlp"])
@pytest.mark.parametrize("q", [0.5, 1.0])
def test_pair_ratios_equal_a_direct_computation_and_give_pair_separation(probe, q):
    Z, lab = _orbits(0, 0.4)
    prob = cert.problem(Z, lab, probe)
    r = cert.pair_ratios(prob, q)
    eps = []
    for m in range(prob.C):
        dev = np.sort(prob.deviation[prob.labels == m])
        eps.append(dev[math.ceil(q * len(dev)) - 1])
    direct = []
    for m, k in itertools.combinations(range(prob.C), 2):
        if prob.bias:  # γ of two codes with bias: half their distance
            direct.append(np.linalg.norm(prob.codes[m] - prob.codes[k]) / (eps[m] + eps[k]))
        else:  # without bias: distance from 0 to the segment [ν_m, −ν_k]
            a, b = prob.codes[m], -prob.codes[k]
            t = np.clip(-(a @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
            direct.append(np.linalg.norm(a + t * (b - a)) / max(eps[m], eps[k]))
    np.testing.assert_allclose(r, direct, rtol=1e-9)
    assert (r > 1).mean() == pytest.approx(cert.pair_separation(prob, q)["pairs"])


def test_pair_ratio_is_invariant_and_falls_with_the_spread():
    Z, lab = _orbits(1, 0.5)
    Q = np.linalg.qr(np.random.default_rng(2).normal(size=(8, 8)))[0]
    base = sel.score_orbit_set(Z, lab, which="pair_ratio")["pair_ratio"]["value"]
    moved = sel.score_orbit_set(3.0 * Z @ Q + 5.0, lab, which="pair_ratio")["pair_ratio"]["value"]
    assert moved == pytest.approx(base, rel=1e-9)
    values = [sel.score_orbit_set(*_orbits(1, s), which="pair_ratio")["pair_ratio"]["value"] for s in (0.1, 0.5, 2.0)]
    assert values[0] > values[1] > values[2]
    assert (
        sel.score_orbit_set(Z[np.argsort(lab)][:, :1] * 0 + lab[:, None], lab, which="pair_ratio")["pair_ratio"][
            "value"
        ]
        == math.inf
    )  # invariant and distinct: every ratio unbounded


# ------------------------------------------------------------------------------------------------ the bundle
def test_the_bundle_reports_the_label_free_modules_values():
    Z, lab = _orbits(3, 0.6, C=10, V=5, d=12)
    out = sel.score_orbit_set(Z, lab)
    assert set(out) == set(sel.SCORES)
    assert out["rankme"]["value"] == pytest.approx(lf.rankme(Z))
    assert out["lidar"]["value"] == pytest.approx(lf.lidar(Z, lab).value)
    assert out["alpha_req"]["value"] == pytest.approx(lf.alpha_req(Z).alpha, nan_ok=True)
    prob = cert.problem(Z, lab)
    assert out["pair_separation"]["value"] == cert.pair_separation(prob, sel.CORE_QUANTILE)["pairs"]
    for v in out.values():
        assert {"value", "key", "family", "parts", "definition", "predicts"} <= set(v)


def test_alpha_req_ranks_by_its_distance_to_one():
    assert sel.SCORES["alpha_req"].key(1.1) > sel.SCORES["alpha_req"].key(0.7) > sel.SCORES["alpha_req"].key(1.5)
    assert sel.SCORES["alpha_req"].key(math.nan) == -math.inf


def test_unknown_score_is_an_input_error():
    with pytest.raises(InputError, match="unknown score 'nope'"):
        sel.score_orbit_set(np.eye(4), [0, 0, 1, 1], which="nope")


# ------------------------------------------------------------------------------------------------ the CLI
def _run_dir(root, name, spread, seed=0, results=None, **kw):
    Z, lab = _orbits(seed, spread, **kw)
    (root / name / "check").mkdir(parents=True)
    np.save(root / name / "check" / "representation.npy", Z)
    (root / name / "check" / "orbits.json").write_text(json.dumps({"labels": lab.tolist()}))
    if results is not None:
        (root / name / "results.json").write_text(json.dumps(results))
    return str(root / name)


def cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_select_ranks_runs_best_first_and_says_why(tmp_path, capsys):
    runs = [_run_dir(tmp_path, n, s) for n, s in (("wide", 2.0), ("tight", 0.1), ("mid", 0.5))]
    rc, out, err = cli(capsys, "select", *runs)
    assert rc == 0, err
    order = [line.split(":")[0].split()[-1] for line in out.splitlines() if line[:4].strip().rstrip(".").isdigit()]
    assert [o.rsplit("/", 1)[-1] for o in order] == ["tight", "mid", "wide"]
    assert "ranked by pair_ratio" in out and "predicts:" in out and "parts" in out and "lidar" in out


def test_select_json_recomputes_from_the_orbit_set_not_results_json(tmp_path, capsys):
    fake = {"check": {"probe": "mlp", "lidar": 1e9}}
    run = _run_dir(tmp_path, "r", 0.3, results=fake)
    rc, out, _ = cli(capsys, "select", run, "--score", "lidar", "--json")
    doc = json.loads(out)
    row = doc["ranked"][0]
    assert rc == 0 and doc["score"] == "lidar" and row["probe"] == "mlp"  # the run's check probe is used
    Z = np.load(tmp_path / "r" / "check" / "representation.npy")
    assert row["scores"]["lidar"]["value"] == pytest.approx(lf.lidar(Z, np.repeat(np.arange(12), 4)).value)
    rc, out, _ = cli(capsys, "select", str(tmp_path / "r" / "check"), "--probe", "linear", "--json")
    assert json.loads(out)["ranked"][0]["probe"] == "linear"  # a check folder itself; --probe wins


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["select"], "give at least one RUN"),
        (["select", "{tmp}/missing"], "not a directory"),
        (["select", "{tmp}"], "no orbit set"),
        (["select", "{run}", "--score", "nope"], "invalid choice"),
        (["select", "{bad}"], "orbits cover 2 points"),
    ],
)
def test_select_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, fragment):
    run = _run_dir(tmp_path, "r", 0.3)
    bad = _run_dir(tmp_path, "bad", 0.3)
    (tmp_path / "bad" / "check" / "orbits.json").write_text(json.dumps({"labels": [0, 1]}))
    argv = [a.format(tmp=tmp_path, run=run, bad=bad) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's usage errors exit through the parser
        rc = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and fragment in lines[0], err


def test_list_scores_names_every_score(capsys):
    rc, out, _ = cli(capsys, "select", "--list-scores")
    assert rc == 0 and all(name in out for name in sel.SCORES)
