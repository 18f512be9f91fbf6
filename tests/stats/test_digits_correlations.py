"""results/digits/run.py: the links between check quantities and probe accuracies are tested where the runs
are grouped (seeds of one method), and the committed README and results.json are what ``--summarise-only``
writes from the committed per-run files."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "results" / "digits"


def _run_module():
    spec = importlib.util.spec_from_file_location("digits_run", DIGITS / "run.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _grouped(check_key: str, probe: str):
    """(x, y, group) of every committed per-run file."""
    xs, ys, gs = [], [], []
    for p in sorted((DIGITS / "per_run").glob("*.json")):
        r = json.loads(p.read_text())
        xs.append(r["check"][check_key])
        ys.append(r["eval"][probe]["top1"])
        gs.append(p.stem.rsplit("-s", 1)[0])
    return np.array(xs, float), np.array(ys, float), np.array(gs)


def _exact_mean_spearman_p(x, y, g) -> tuple[float, float]:
    """Mean within-group Spearman ρ and its two-sided p, by listing every combination of within-group
    arrangements (groups with constant x or y are left out: their ρ is undefined under every arrangement)."""
    per_group = []
    for k in dict.fromkeys(g.tolist()):
        xk, yk = x[g == k], y[g == k]
        if np.ptp(xk) == 0 or np.ptp(yk) == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vals = [sps.spearmanr(xk, yk[list(p)])[0] for p in itertools.permutations(range(len(yk)))]
        per_group.append(vals)  # vals[0]: the observed arrangement
    obs = np.mean([v[0] for v in per_group])
    null = np.array([np.mean(c) for c in itertools.product(*per_group)])
    return float(obs), float(np.mean(np.abs(null) >= abs(obs) - 1e-9))


def test_within_method_p_values_are_within_group_permutation_tests():
    """affine rank ~ k-NN: scipy.stats.spearmanr on group-centred values gave p = 0.00073; the exact
    within-method permutation test of the mean within-method ρ gives about 0.011."""
    run = _run_module()
    summary = run.summarise(*run.recorded_runs())
    x, y, g = _grouped("rank", "knn")
    rho, p = _exact_mean_spearman_p(x, y, g)
    rec = summary["correlations"]["rank~knn"]["within"]["spearman"]
    assert rec["statistic"] == pytest.approx(rho, abs=1e-12)
    assert rec["p_value"] == pytest.approx(p, abs=1e-9)
    assert rec["exact"] and 0.005 < rec["p_value"] < 0.02
    assert summary["correlations"]["rank~knn"]["within"]["kendall"]["p_value"] > 0.005


def _assert_close(a, b, where="results.json"):
    """Equal structure and strings; floats equal to 1e-9 (a BLAS may round the last bit differently)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            _assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b)):
            _assert_close(u, v, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), where
    else:
        assert a == b, where


def test_summarise_only_regenerates_the_committed_readme_and_results(tmp_path):
    dest = tmp_path / "results" / "digits"
    dest.mkdir(parents=True)
    for name in ("run.py", "README.md", "results.json"):
        shutil.copy(DIGITS / name, dest / name)
    shutil.copytree(DIGITS / "per_run", dest / "per_run")
    shutil.copy(DIGITS.parent / "launch.py", dest.parent / "launch.py")  # the results writers' launcher
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    r = subprocess.run(
        [sys.executable, str(dest / "run.py"), "--summarise-only"], env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert (dest / "README.md").read_text() == (DIGITS / "README.md").read_text()
    _assert_close(json.loads((dest / "results.json").read_text()), json.loads((DIGITS / "results.json").read_text()))
    assert not (tmp_path / "runs").exists()  # nothing trained
