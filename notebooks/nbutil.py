"""Small helpers shared by the figure notebooks: run mode, output folders, recorded results, plotting.

Environment variables (read when a notebook starts)

``IDEALSSL_NB_MODE``
    ``quick`` (default: recorded results + small live runs, what the test suite executes) or ``full``
    (rerun the heavy experiments of :mod:`notebooks.experiments` and record them).
``IDEALSSL_NB_FIGDIR``
    where figures are written (default ``notebooks/figures``).
``IDEALSSL_NB_RESULTS``
    where the notebooks' own full-mode results (digits and VJE runs, :mod:`notebooks.experiments`) are
    written and read (default ``notebooks/results``).
``IDEALSSL_SYNTHETIC_RESULTS``
    where the synthetic-world results are read (default ``synthetic/results``; the notebooks never
    write there: ``idealssl bench synthetic`` is the only writer).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from idealssl.jsonutil import plain  # noqa: F401  (re-exported: notebooks call nbutil.plain)

HERE = Path(__file__).resolve().parent
MODES = ("quick", "full")


def mode() -> str:
    """The run mode from ``IDEALSSL_NB_MODE`` (quick or full)."""
    m = os.environ.get("IDEALSSL_NB_MODE", "quick").strip().lower()
    if m not in MODES:
        raise ValueError(f"IDEALSSL_NB_MODE must be quick or full, got {m!r}")
    return m


def figdir() -> Path:
    d = Path(os.environ.get("IDEALSSL_NB_FIGDIR", HERE / "figures"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def resultsdir() -> Path:
    return Path(os.environ.get("IDEALSSL_NB_RESULTS", HERE / "results"))


def synthetic_resultsdir() -> Path:
    return Path(os.environ.get("IDEALSSL_SYNTHETIC_RESULTS", HERE.parent / "synthetic" / "results"))


def load_synthetic(name: str, mode: str = "full") -> dict | None:
    """The recorded result of the synthetic experiment ``name`` (``synthetic/results/<mode>/<name>.json``,
    written by ``idealssl bench synthetic --mode <mode>``), or None when absent. Prints where it came from."""
    p = synthetic_resultsdir() / mode / f"{name}.json"
    if not p.exists():
        print(f"no recorded {name}: run `idealssl bench synthetic --mode {mode} --experiments {name}`")
        return None
    rec = json.loads(p.read_text())
    print(
        f"recorded {name}: {rec['mode']} mode, seeds {rec['seeds']}, git {rec['versions']['git']}, "
        f"{rec['wall_seconds']} s to produce ({rec['command']})"
    )
    return rec


def flat_row(r: dict) -> dict:
    """One row of an :mod:`idealssl.synthetic.experiments` result as the flat dict the notebooks plot:
    method, seed, steps, dim, C (the level's orbit count in the coarseness experiment), probe numbers
    (``acc_binary``, ``acc_5class``, ``frac_perfect_binary``, ``mlp_acc_binary``, ``mlp_frac_perfect_binary``,
    ``error_n<n>``, ``seen_error_n<n>``, ``unseen_mass_n<n>``), geometry, ideal log loss, checker verdict."""
    out = {k: r.get(k) for k in ("world", "method", "seed", "steps", "dim", "batch_regime")}
    out["C"] = r.get("level_C", r.get("geometry", {}).get("C"))
    probes = r.get("probes", {})
    for p, pre in (("linear", ""), ("mlp", "mlp_")):
        full = probes.get(p, {}).get("full", {})
        for K, name in (("2", "binary"), ("5", "5class")):
            if K in full:
                out[f"{pre}acc_{name}"] = full[K]["mean_acc"]
                out[f"{pre}frac_perfect_{name}"] = full[K]["frac_perfect"]
    for n, f in probes.get("linear", {}).get("fewshot", {}).items():
        out[f"error_n{n}"] = f["error"]
        out[f"seen_error_n{n}"] = f["seen_orbit_error"]
        out[f"unseen_mass_n{n}"] = f["unseen_mass"]
        out[f"W_n{n}"] = f["W_n"]
    g = r.get("geometry", {})
    out.update(invariance_ratio=g.get("invariance_ratio"), affine_rank=g.get("affine_rank"))
    if "ideal_log_loss" in r:
        out["ideal_log_loss"] = r["ideal_log_loss"]["ideal_log_loss"]
    if r.get("check"):
        out["check_ideal"] = r["check"].get("ideal")
    return out


def setup(threads: int = 2) -> dict[str, Any]:
    """Common start of every notebook: mode, torch threads, matplotlib style. Returns a small dict."""
    import matplotlib

    if not _in_notebook() and "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 130,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "legend.fontsize": 9,
            "axes.titlesize": 11,
        }
    )
    try:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", threads)))
    except ImportError:  # pragma: no cover
        pass
    info = {"mode": mode(), "figdir": str(figdir()), "results": str(resultsdir()), "t0": time.perf_counter()}
    print(
        f"mode = {info['mode']}"
        + (
            "  (set IDEALSSL_NB_MODE=full to rerun the heavy experiments)"
            if info["mode"] == "quick"
            else "  (heavy experiments are rerun and recorded)"
        )
    )
    return info


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None
    except ImportError:  # pragma: no cover
        return False


def savefig(fig, name: str) -> Path:
    """Save ``fig`` as ``<figdir>/<name>.png`` and return the path."""
    p = figdir() / f"{name}.png"
    fig.savefig(p, bbox_inches="tight")
    print(f"saved {p.name}")
    return p


def load_recorded(name: str) -> dict | None:
    """The recorded full-mode result ``<results>/<name>.json``, or None when absent."""
    p = resultsdir() / f"{name}.json"
    if not p.exists():
        return None
    return json.loads(p.read_text())


def save_recorded(name: str, obj: dict) -> Path:
    d = resultsdir()
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{name}.json"
    p.write_text(json.dumps(plain(obj), indent=1, allow_nan=False))
    return p


def mean_se(xs):
    """(mean, standard error) of a list, ignoring None; SE = sd/sqrt(n) (0 for one value)."""
    a = np.asarray([x for x in xs if x is not None], dtype=float)
    if a.size == 0:
        return float("nan"), float("nan")
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else 0.0


#: the verdict lines' words, by a claim's ``held`` (True, False, or the three-way "cannot discriminate")
WORDS = {
    True: "AGREES with the paper",
    False: "DISAGREES with the paper",
    "inconclusive": "INCONCLUSIVE",
    "cannot discriminate": "CANNOT DISCRIMINATE here",
}


def verdict(held: bool, text: str) -> str:
    """One line 'AGREES' / 'DISAGREES' with the paper, printed and returned."""
    line = f"{'AGREES' if held else 'DISAGREES'} with the paper: {text}"
    print(line)
    return line


def three_way(v: str, text: str) -> str:
    """One line from a three-way verdict of :func:`idealssl.stats.verdict` ("held": AGREES, "not held": DISAGREES,
    "cannot discriminate": CANNOT DISCRIMINATE here), printed and returned."""
    line = f"{WORDS[{'held': True, 'not held': False}.get(v, v)]}: {text}"
    print(line)
    return line


def paired_difference(rows: list[dict], base: str, ours: str, key: str = "linear") -> dict:
    """The 95 % interval of ``key``(ours) − ``key``(base) over seeds and its verdict on "ours is higher"
    (theory/statements.md S9.3).

    Rows carry ``method``, ``seed`` and ``key``. When both methods have the same seeds, the difference is paired by
    seed (one seed draws the same data order and probe split for both): x̄ ± t_{0.975, n−1} s/√n of the per-seed
    differences (:func:`idealssl.stats.t_interval`); otherwise Welch's interval of the two sets
    (:func:`idealssl.stats.welch_interval`), and ``pairing`` says that the seeds differ. Returns ``interval``
    (:class:`idealssl.stats.Interval`), ``verdict`` ("held", "not held", "cannot discriminate": the interval
    against 0, :func:`idealssl.stats.verdict`) and ``pairing``.
    """
    from idealssl.stats import t_interval, welch_interval
    from idealssl.stats import verdict as three_way_verdict

    def by_seed(m: str) -> dict:
        return {r["seed"]: float(r[key]) for r in rows if r["method"] == m and r.get(key) is not None}

    a, b = by_seed(ours), by_seed(base)
    if a and set(a) == set(b):
        seeds = sorted(a)
        iv = t_interval([a[s] - b[s] for s in seeds])
        pairing = f"paired by seed, seeds {seeds}"
    else:
        iv = welch_interval(list(a.values()), list(b.values()))
        pairing = f"Welch, unpaired: the seeds differ ({ours} {sorted(a)}, {base} {sorted(b)})"
    return {"interval": iv, "verdict": three_way_verdict(iv, 0.0, "greater"), "pairing": pairing}


def claim_verdicts(rec: dict | None) -> None:
    """Print the verdict of every claim recorded by ``idealssl bench synthetic`` (computed there, from the
    numbers, by :mod:`idealssl.synthetic.experiments`; the notebooks do not recompute them)."""
    if rec is None:
        return
    for c in rec["verdict"]["claims"]:
        vals = c.get("values")
        print(
            f"{WORDS.get(c.get('held'), 'REPORTED')} [{c['id']}]: {c['prediction']} — criterion: {c['criterion']}"
            + (f" — values: {json.dumps(plain(vals))}" if vals else "")
        )
