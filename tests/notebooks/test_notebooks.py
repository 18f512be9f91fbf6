"""The figure notebooks: every committed notebook executes in quick mode, produces its figure and
states a verdict; the committed notebooks are in sync with their sources and carry outputs.

Quick mode reads the recorded full-mode results (the notebooks' own, a copy in tmp_path, and the
synthetic suite's ``synthetic/results/full``, read only) and runs small live experiments; figures go
to tmp_path. Full mode: ``IDEALSSL_NB_MODE=full python -m notebooks.run``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[2]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
VERDICT_WORDS = ("AGREES with the paper", "DISAGREES with the paper", "INCONCLUSIVE", "REPORTED")


def _text(nb) -> str:
    out = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        for o in c.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o.get("text", ""))
            elif "data" in o and "text/plain" in o["data"]:
                out.append(o["data"]["text/plain"])
    return "\n".join(out)


def test_all_seven_notebooks_present():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_in_quick_mode(path, tmp_path, monkeypatch):
    figs, results = tmp_path / "figures", tmp_path / "results"
    if (NB_DIR / "results").exists():
        shutil.copytree(NB_DIR / "results", results)
    else:
        results.mkdir()
    monkeypatch.setenv("IDEALSSL_NB_MODE", "quick")
    monkeypatch.setenv("IDEALSSL_NB_FIGDIR", str(figs))
    monkeypatch.setenv("IDEALSSL_NB_RESULTS", str(results))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:  # start from a clean notebook: the outputs checked are the fresh ones
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NB_DIR)}}
    )
    client.execute()  # raises CellExecutionError on any failing cell
    text = _text(nb)
    assert "mode = quick" in text
    assert any(w in text for w in VERDICT_WORDS), "the notebook must state whether it agrees with the paper"
    png = figs / f"{path.stem}.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    # the figure is also embedded in the notebook
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    # quick mode never writes recorded results
    before = sorted(p.name for p in (NB_DIR / "results").glob("*.json")) if (NB_DIR / "results").exists() else []
    assert sorted(p.name for p in results.glob("*.json")) == before


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_matches_source_and_has_outputs(path):
    from notebooks.run import SRC, build

    src = SRC / (path.stem + ".py")
    assert src.exists(), f"{path.name} has no source {src}"
    committed = nbformat.read(path, as_version=4)
    fresh = build(src)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in fresh.cells], (
        f"{path.name} is out of date: rebuild with python -m notebooks.run --only {path.name[:2]}"
    )
    assert committed.metadata.get("idealssl", {}).get("executed_mode") in ("quick", "full")
    assert all(c.get("outputs") for c in committed.cells if c.cell_type == "code"), (
        "every code cell must have saved outputs"
    )
    assert "Traceback" not in _text(committed)
    assert (NB_DIR / "figures" / f"{path.stem}.png").exists()


def test_parse_percent_cells():
    from notebooks.run import parse_percent

    cells = parse_percent("header\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n# %%\ny = 2\n")
    assert cells == [
        {"type": "markdown", "source": "# Title\n\ntext"},
        {"type": "code", "source": "x = 1"},
        {"type": "code", "source": "y = 2"},
    ]


def test_mode_rejects_unknown(monkeypatch):
    from notebooks import nbutil

    monkeypatch.setenv("IDEALSSL_NB_MODE", "fast")
    with pytest.raises(ValueError, match="quick or full"):
        nbutil.mode()
    monkeypatch.setenv("IDEALSSL_NB_MODE", "FULL")
    assert nbutil.mode() == "full"


#: the synthetic-suite results each notebook reads (written only by ``idealssl bench synthetic``)
SYNTHETIC_READS = {"03": ["coarseness"], "04": ["methods"], "05": ["dimension"], "06": ["loss_vs_accuracy"]}


def test_notebooks_read_the_synthetic_suite_and_keep_only_their_own_results():
    """One writer per folder: the notebooks read synthetic/results/full (idealssl bench synthetic) and
    record in notebooks/results only what no other writer produces (their own experiments)."""
    from notebooks import experiments as E
    from notebooks import nbutil

    own = sorted(p.stem for p in (NB_DIR / "results").glob("*.json"))
    assert set(own) <= set(E.EXPERIMENTS), f"notebooks/results holds files no notebook experiment writes: {own}"
    for nb, names in SYNTHETIC_READS.items():
        src = next((NB_DIR / "src").glob(f"{nb}_*.py")).read_text()
        for name in names:
            assert f'load_synthetic("{name}")' in src
            rec = json.loads((ROOT / "synthetic" / "results" / "full" / f"{name}.json").read_text())
            assert rec["command"].startswith("idealssl bench synthetic")
            rows = [nbutil.flat_row(r) for r in rec["rows"] if "probes" in r]
            for r in rows:
                assert {"method", "seed", "C"} <= set(r) and 0.0 <= r["acc_binary"] <= 1.0
    assert not hasattr(E, "coarseness") and not hasattr(E, "main_world"), (
        "no second implementation of the synthetic experiments"
    )


def _runs(method, values):
    return [{"method": method, "seed": s, "linear": v} for s, v in values.items()]


def test_paired_difference_pairs_by_seed_and_falls_back_to_welch_when_the_seeds_differ():
    """ours - base per seed (0.01, 0.02 from large seed-to-seed swings): the paired t interval with 1 dof, against
    scipy; with other seeds on one side, Welch's interval of the two sets, and the pairing says why."""
    import numpy as np
    from scipy import stats as sps

    from idealssl.stats import welch_interval
    from notebooks import nbutil

    rows = _runs("base", {0: 0.90, 1: 0.70}) + _runs("ours", {0: 0.91, 1: 0.72})
    r = nbutil.paired_difference(rows, "base", "ours", "linear")
    d = np.array([0.01, 0.02])
    lo, hi = sps.t.interval(0.95, 1, loc=d.mean(), scale=sps.sem(d))
    iv = r["interval"]
    assert (iv.method, iv.df) == ("t", 1.0) and iv.low == pytest.approx(lo) and iv.high == pytest.approx(hi)
    assert r["verdict"] == "cannot discriminate" and "paired by seed" in r["pairing"]
    same = nbutil.paired_difference(_runs("base", {0: 0.5, 1: 0.6}) + _runs("ours", {0: 0.7, 1: 0.8}), "base", "ours")
    assert (same["interval"].low, same["interval"].high, same["verdict"]) == (pytest.approx(0.2),) * 2 + ("held",)
    rows = _runs("base", {0: 0.90, 1: 0.70}) + _runs("ours", {0: 0.91, 2: 0.72})
    r = nbutil.paired_difference(rows, "base", "ours", "linear")
    assert r["interval"] == welch_interval([0.91, 0.72], [0.90, 0.70]) and "Welch" in r["pairing"]
    assert "seeds differ" in r["pairing"]


def test_notebook_04_judges_digits_with_a_paired_t_interval():
    """The digits comparison of notebook 04 prints a paired t interval and a three-way verdict, not a 2-SE rule."""
    nb = nbformat.read(NB_DIR / "04_heads.ipynb", as_version=4)
    text = _text(nb)
    lines = [ln for ln in text.splitlines() if ln.split(":", 1)[-1].strip().startswith("digits:")]
    assert len(lines) == 2, lines  # one per pair
    assert all("95 % t interval" in ln and "paired by seed" in ln for ln in lines)
    assert "2 SE" not in text
