"""results/mnist5k/run.py: the digits table's machinery pointed at the mnist5k preset; the committed README and
results.json are what ``--summarise-only`` writes from the committed per-run files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .test_digits_correlations import _assert_close

ROOT = Path(__file__).resolve().parents[2]
MNIST5K = ROOT / "results" / "mnist5k"


def test_summarise_only_regenerates_the_committed_readme_and_results(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(MNIST5K, results / "mnist5k", ignore=shutil.ignore_patterns("__pycache__"))
    (results / "digits").mkdir()
    shutil.copy(ROOT / "results" / "digits" / "run.py", results / "digits" / "run.py")  # the table's machinery
    shutil.copy(ROOT / "results" / "launch.py", results / "launch.py")
    rec = json.loads((MNIST5K / "results.json").read_text())
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(results / "mnist5k" / "run.py"), "--summarise-only", "--methods", *rec["methods"]]
    cmd += ["--seeds", *map(str, rec["seeds"])]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (results / "mnist5k" / "README.md").read_text() == (MNIST5K / "README.md").read_text()
    got = json.loads((results / "mnist5k" / "results.json").read_text())
    _assert_close(got, json.loads((MNIST5K / "results.json").read_text()))
    assert got["rows"] and all(row["linear"]["values"] for row in got["rows"].values())
    assert not (tmp_path / "runs").exists()  # nothing trained
