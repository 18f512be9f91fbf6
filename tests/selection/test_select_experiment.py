"""results/select/run.py at its smoke size: it trains, evaluates every kept checkpoint, recomputes the scores from
each orbit set and writes the statistics of idealssl.stats and the figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # 4 checkpoints of 2 trained runs, each evaluated: about 90 s of wall time on the 2-core machine
def test_smoke_size_writes_scores_statistics_and_figure(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "results/select/run.py"),
            "--smoke",
            "--out",
            str(tmp_path / "o"),
            "--runs",
            str(tmp_path / "runs"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    rows = doc["configurations"]
    assert len(rows) == 4 and {r["method"] for r in rows} == {"cissl", "simclr"}
    assert all(set(r["accuracy"]) == {"linear", "knn", "fewshot"} for r in rows)
    st = doc["statistics"]["digits"]
    assert {"pair_ratio", "rankme", "lidar"} <= set(st["scores"])
    assert set(st["kendall_difference_linear"]) == {"pair_ratio-rankme", "pair_ratio-lidar"}
    assert (tmp_path / "o" / "scores_vs_linear.png").stat().st_size > 0
