"""results/select/run.py at its smoke size: it trains, evaluates every kept checkpoint, recomputes the scores from
each orbit set and writes the statistics of idealssl.stats and the figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # 2 runs trained and 4 checkpoints evaluated in one process: about 11 s idle, 20-30 s under load
def test_smoke_size_writes_scores_statistics_and_figure(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    import numpy as np

    from idealssl.checker.selection import score_orbit_set

    runs = tmp_path / "runs"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "results/select/run.py"),
            "--smoke",
            "--out",
            str(tmp_path / "o"),
            "--runs",
            str(runs),
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
    assert sorted((r["run"], r["epoch"]) for r in rows) == sorted(
        (run, e) for run in {r["run"] for r in rows} for e in (1, 2)
    )
    st = doc["statistics"]["digits"]
    assert {"pair_ratio", "rankme", "lidar"} <= set(st["scores"])
    default = doc["default_score"]
    assert set(st["kendall_difference_linear"]) == {f"{default}-{n}" for n in st["scores"] if ":" not in n} - {
        f"{default}-{default}"
    }
    assert st["kendall_difference_linear"][f"{default}-rankme"]["method"] == "cluster-two-stage-percentile"
    assert (tmp_path / "o" / "scores_vs_linear.png").stat().st_size > 0
    # every configuration's scores come back from its orbit set's files, as an outside reader recomputes them
    for row in rows:
        folder = runs / row["run"] / "checks" / f"epoch={row['epoch']}"
        Z = np.load(folder / "representation.npy", allow_pickle=False)
        labels = json.loads((folder / "orbits.json").read_text())["labels"]
        again = score_orbit_set(Z, labels, "linear")
        assert {n: v["value"] for n, v in again.items()} == pytest.approx(row["scores"], nan_ok=True)
