"""``idealssl check`` as a user types it: formats, exit codes, JSON keys, certificates re-verified."""

import json

import numpy as np
import pytest

from idealssl.checker import lp
from idealssl.cli import main

from .conftest import repeat_codes, simplex

REQUIRED = {"ideal", "probe", "n_points", "n_orbits", "dim", "conditions", "counterexample"}


def cli_json(capsys, *argv):
    rc = main(["check", *argv, "--json"])
    out, err = capsys.readouterr()
    return rc, json.loads(out)


def _forms(labels):
    C = int(labels.max()) + 1
    parts = [np.flatnonzero(labels == m).tolist() for m in range(C)]
    pairs = [[p[0], q] for p in parts for q in p[1:]]
    return [
        {"labels": labels.tolist()},
        {"labels": [f"orbit-{m}" for m in labels]},
        {"orbits": parts},
        {"pairs": pairs, "n": len(labels)},
    ]


@pytest.mark.parametrize("probe", ["linear", "linear-nobias", "mlp"])
def test_every_orbit_format_and_probe(capsys, write, probe):
    rng = np.random.default_rng(0)
    # the simplex lifted by 3 along the normal of its hyperplane (its zero 4th coordinate), then rotated:
    # linearly independent (rank 4) by construction, so ideal for every family
    Q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    codes = (simplex(4, d=4) + 3.0 * np.eye(4)[3]) @ Q
    Z, labels = repeat_codes(codes, 3)
    perm = rng.permutation(len(Z))
    Z, labels = Z[perm], labels[perm]
    z = write("z.npy", Z.astype(np.float32))
    verdicts = set()
    for k, form in enumerate(_forms(labels)):
        rc, rep = cli_json(capsys, z, "--augs", write(f"o{k}.json", form), "--probe", probe)
        assert REQUIRED <= set(rep)
        assert rep["n_points"] == 12 and rep["n_orbits"] == 4 and rep["dim"] == 4 and rep["probe"] == probe
        for c in rep["conditions"].values():
            assert {"holds", "value", "threshold"} <= set(c)
        verdicts.add((rc, rep["ideal"]))
    assert verdicts == {(0, True)}


def test_not_ideal_json_certificate_reverified(capsys, write):
    """Exit 1, counterexample with N point labels, and the labelling is LP-infeasible on the points."""
    rng = np.random.default_rng(3)
    codes = rng.standard_normal((6, 3))  # C - 1 = 5 > d = 3
    Z, labels = repeat_codes(codes, 4)
    Z = Z + 1e-9 * rng.standard_normal(Z.shape)
    rc, rep = cli_json(capsys, write("z.npy", Z), "--augs", write("o.json", {"labels": labels.tolist()}))
    assert rc == 1 and rep["ideal"] is False
    ce = rep["counterexample"]
    assert len(ce["point_labels"]) == len(Z) and len(ce["orbit_labels"]) == 6
    assert [ce["orbit_labels"][m] for m in labels] == ce["point_labels"]
    y = np.where(np.array(ce["point_labels"]) == 1, 1.0, -1.0)
    assert not lp.separable(Z, y)


def test_task_witness_is_printed_and_fits(capsys, write):
    Z, labels = repeat_codes(simplex(5, rng=np.random.default_rng(1)), 2)
    z, o = write("z.npy", Z), write("o.json", {"labels": labels.tolist()})
    task = {"point_labels": [["cat", "dog", "cow", "dog", "cat"][m] for m in labels]}
    rc, rep = cli_json(capsys, z, "--augs", o, "--task", write("t.json", task))
    assert rc == 0
    w = rep["witness"]
    W, b = np.array(w["probe"]["W"]), np.array(w["probe"]["b"])
    pred = np.array(w["classes"])[np.argmax(Z @ W.T + b, axis=1)]
    assert pred.tolist() == task["point_labels"]
    assert w["evaluation"]["n_errors"] == 0 and w["fits"]
    # mlp witness, verified independently
    rc, rep = cli_json(capsys, z, "--augs", o, "--task", write("t.json", task), "--probe", "mlp")
    p = rep["witness"]["probe"]
    H = np.maximum(Z @ np.array(p["W1"]).T + np.array(p["b1"]), 0)
    pred = np.array(rep["witness"]["classes"])[np.argmax(H @ np.array(p["W2"]).T + np.array(p["b2"]), axis=1)]
    assert pred.tolist() == task["point_labels"]


def test_readable_report_and_span_counterexample(capsys, write):
    rc = main(
        [
            "check",
            write("z.npy", np.array([[1.0, 0], [1, 1], [1, 2]])),
            "--augs",
            write("o.json", {"orbits": [[0], [1], [2]]}),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 1
    assert "NOT IDEAL" in out and "span" in out and "certificate (radon, verified)" in out


def test_pairs_singletons_and_probabilities(capsys, write):
    """Pairs form: points in no pair are orbits of their own; p shapes W_n."""
    Z = np.array([[0.0, 0], [0, 0], [1, 0], [0, 1]])
    rc, rep = cli_json(
        capsys, write("z.npy", Z), "--augs", write("o.json", {"pairs": [[0, 1]], "n": 4, "p": [0.25, 0.25, 0.25, 0.25]})
    )
    assert rc == 0 and rep["n_orbits"] == 3
    w1 = rep["sample_efficiency"]["curve"][0][1]
    assert w1 == pytest.approx(0.5 * 0.5 + 0.25 * 0.75 * 2)


def test_exhaustive_flag(capsys, write):
    Z, labels = repeat_codes(simplex(4), 2)
    rc, rep = cli_json(
        capsys, write("z.npy", Z), "--augs", write("o.json", {"labels": labels.tolist()}), "--exhaustive"
    )
    assert rc == 0 and rep["exhaustive"]["n_fittable"] == rep["exhaustive"]["n_labellings"] == 7


BLAS_THREADS_AFTER_CHECK = """
import sys
from threadpoolctl import threadpool_info
from idealssl.cli import main
code = main(["check", sys.argv[1], "--augs", sys.argv[2], "--json"])
blas = [p["num_threads"] for p in threadpool_info() if p["internal_api"] in ("openblas", "mkl", "blis")]
print(code, blas, file=sys.stderr)
"""


@pytest.mark.parametrize("env, expected", [({}, 1), ({"OPENBLAS_NUM_THREADS": "2"}, 2), ({"OMP_NUM_THREADS": "2"}, 2)])
def test_check_runs_blas_on_one_thread_unless_the_environment_says(tmp_path, env, expected):
    """On a shared machine two BLAS threads wait for each other whenever another job holds a core (the d x d Gram
    matrix of 10,000 codes took 0.3-0.5 s instead of 0.13 s beside one busy process): ``idealssl check`` starts
    NumPy with one BLAS thread, unless OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or MKL_NUM_THREADS is set."""
    import os
    import subprocess
    import sys

    pytest.importorskip("threadpoolctl")
    np.save(tmp_path / "z.npy", np.eye(3))
    (tmp_path / "o.json").write_text(json.dumps({"labels": [0, 1, 2]}))
    from idealssl.cli import BLAS_THREAD_VARIABLES

    base = {k: v for k, v in os.environ.items() if k not in BLAS_THREAD_VARIABLES}
    cmd = [sys.executable, "-c", BLAS_THREADS_AFTER_CHECK, str(tmp_path / "z.npy"), str(tmp_path / "o.json")]
    res = subprocess.run(cmd, capture_output=True, text=True, env={**base, **env}, timeout=120)
    code, blas = res.stderr.strip().splitlines()[-1].split(" ", 1)
    assert code == "0", res.stderr
    if blas == "[]":
        pytest.skip("NumPy's BLAS is not one threadpoolctl knows")
    assert set(json.loads(blas)) == {expected}, res.stderr  # NumPy's and SciPy's BLAS alike
