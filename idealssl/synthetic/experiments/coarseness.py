"""``coarseness``: coarser label-preserving augmentations against few-shot error (Prop. 2, Fig. 7a).

The coarse world (C = 32 orbits, 4 classes) and its coarsenings (orbits merged within a class: C = 32, 16, 8,
4; :meth:`.worlds.World.coarseness_family`) each train the oracle and DISSL at d = 31 in the iid regime; the
tasks label the 4 classes (invariant at every level), and the linear probe is fitted on n = 1 ... 32 labelled
inputs. The error is compared with W_n = sum_m p_m (1 - p_m)^n of the level's orbits (theory/statements.md
S3.1-S3.2) and split into seen and unseen orbits; the verdicts carry 95 % t intervals over seeds, paired by seed
between levels (:func:`coarseness_claims`, S9.3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...objectives import available
from ..evaluate import worst_case_risk
from ..protocol import CANNOT, all_held, t_verdict
from ..worlds import World, coarse_world
from .runs import Measures, few, mean_sd, strip, train_and_assess
from .settings import IID_EXPERIMENTS, Mode

__all__ = ["run", "judge", "coarseness_claims", "SHOTS"]

#: few-shot sizes of the linear probe
SHOTS = (1, 2, 4, 8, 16, 32)


def _level_summary(m: str, lvl: World, rs: list[dict]) -> dict:
    return {
        "method": m,
        "C": lvl.C,
        **{f"error_n{n}": mean_sd([few(r, n) for r in rs]) for n in SHOTS},
        **{f"seen_orbit_error_n{n}": mean_sd([few(r, n, "seen_orbit_error") for r in rs]) for n in SHOTS},
        **{f"W_n{n}": worst_case_risk(lvl.orbit_mass, n) for n in SHOTS},
        "invariance_ratio": mean_sd([r["geometry"]["invariance_ratio"] for r in rs]),
        "final_loss_last10": mean_sd([r["final_loss_last10"] for r in rs]),
        "flattened": f"{sum(bool(r['flattened']) for r in rs)}/{len(rs)}",
    }


def run(mode: Mode, store: dict | None = None, method: str = "dissl") -> dict:
    """Coarser label-preserving augmentations vs few-shot error (Prop. 2, Fig. 7a), for the oracle and ``method``."""
    base = coarse_world()
    levels = base.coarseness_family()
    d = base.C - 1
    methods = ["oracle"] + ([method] if method in available() else [])
    rows = []
    for m in methods:
        for lvl in levels:
            measures = Measures(probes=("linear",), shots=SHOTS, task_groups=lvl.classes, check=False, log_loss=False)
            for s in mode["seeds"]:
                r = train_and_assess(lvl, m, d, s, mode, batch_regime="iid", measures=measures)
                r["level_C"] = lvl.C
                rows.append(r)
    rows = strip(rows)
    summary = []
    for m in methods:
        for lvl in levels:
            rs = [r for r in rows if r["method"] == m and r["level_C"] == lvl.C and "error" not in r]
            if rs:
                summary.append(_level_summary(m, lvl, rs))
    return {
        "rows": rows,
        "summary": summary,
        "verdict": {"claims": coarseness_claims(rows, methods, SHOTS)},
        "protocol": {
            "world": base.describe(),
            "levels": [lvl.C for lvl in levels],
            "dim": d,
            "shots": list(SHOTS),
            "tasks": "random labellings (2 and 5 labels, capped at 4) of the 4 classes, invariant at every level",
            "methods": methods,
            "steps": mode["steps"],
            "n_tasks": mode["n_tasks"],
            "batch": mode["batch"],
            "batch_regime": "iid",
            "batch_regime_reason": IID_EXPERIMENTS["coarseness"],
            "temperatures": "published defaults (no grid: the claims compare levels of one method, not methods)",
        },
    }


def _by_seed(rows: list[dict], m: str, C: int, n: int, key: str = "error") -> dict[int, float]:
    """One few-shot figure of ``method`` at the level with ``C`` orbits, by seed."""
    out = {}
    for r in rows:
        v = few(r, n, key) if r["method"] == m and r["level_C"] == C and "error" not in r else None
        if v is not None:
            out[int(r["seed"])] = float(v)
    return out


def _comparisons(rows: list[dict], methods: Sequence[str], shots: Sequence[int]) -> dict[str, list]:
    """Per cell (method, level, n): the t verdict of error <= W_n + 0.02, and whether the mean seen-orbit error is at
    most 0.05; per adjacent pair of levels at n >= 2 (finer to coarser), the t verdicts of the paired difference
    error(coarser) - error(finer) below 0.01 (monotone with the margin) and below 0 (strictly lower)."""
    out: dict[str, list] = {"mono": [], "strict": [], "bound": [], "seen": []}
    for m in methods:
        levels = sorted({r["level_C"] for r in rows if r["method"] == m and "error" not in r}, reverse=True)
        for i, C in enumerate(levels):
            for n in shots:
                err = _by_seed(rows, m, C, n)
                wn = next(iter(_by_seed(rows, m, C, n, "W_n").values()), math.nan)
                out["bound"].append(t_verdict(list(err.values()), wn + 0.02, "less")[1])
                seen = list(_by_seed(rows, m, C, n, "seen_orbit_error").values())
                out["seen"].append(bool(seen) and float(np.mean(seen)) <= 0.05)
                if i == 0 or n == 1:
                    continue
                prev = _by_seed(rows, m, levels[i - 1], n)
                d = [err[s] - prev[s] for s in sorted(set(err) & set(prev))]
                out["mono"].append(t_verdict(d, 0.01, "less")[1])
                out["strict"].append(t_verdict(d, 0.0, "less")[1])
    return out


def _counts(verdicts: list[str]) -> dict[str, int]:
    return {"held": verdicts.count("held"), "not held": verdicts.count("not held"), CANNOT: verdicts.count(CANNOT)}


def coarseness_claims(rows: list[dict], methods: Sequence[str], shots: Sequence[int]) -> list[dict]:
    """Verdicts of the coarseness experiment from its rows, with 95 % t intervals over seeds (theory/statements.md
    S9.3; paired by seed between levels: one seed draws the same tasks of the 4 classes and the same few-shot
    inputs at every level). Comparisons at n = 1 are excluded from the monotonicity count: with one labelled input
    the probe predicts one label everywhere, so the error is the same at every level by construction (a tie that
    cannot fail). The margins (0.01 between levels, 0.02 above W_n) are stated; the count of comparisons whose
    interval lies below 0 is reported beside them."""
    c = _comparisons(rows, methods, shots)
    mono, strict, bound, seen = c["mono"], c["strict"], c["bound"], c["seen"]
    interval = "95 % two-sided t interval over seeds (n - 1 dof)"
    return [
        {
            "id": "coarse-monotone",
            "prediction": "coarser label-preserving augmentations give lower few-shot error at every n (Prop. 2, "
            "Fig. 7a)",
            "criterion": f"for every method, n >= 2 and pair of adjacent levels, the {interval} of error(coarser) - "
            "error(finer), paired by seed, lies below the margin 0.01; failed when one lies above it; 'cannot "
            "discriminate' when one contains it (n = 1 excluded: one labelled input gives the same error at every "
            "level by construction)",
            "values": {
                **_counts(mono),
                "pairs": len(mono),
                "pairs_strictly_lower": strict.count("held"),
                "margin": 0.01,
                "excluded": "n = 1",
            },
            "held": all_held(mono),
        },
        {
            "id": "coarse-Wn-bound",
            "prediction": "few-shot error of a learned encoder <= W_n = sum_m p_m (1-p_m)^n of its orbits (Prop. 2)",
            "criterion": f"for every method, level and n, the {interval} of the error lies below W_n + 0.02; failed "
            "when one lies above it; 'cannot discriminate' when one contains it",
            "values": {**_counts(bound), "cells": len(bound), "margin": 0.02},
            "held": all_held(bound),
        },
        {
            "id": "coarse-seen-orbits",
            "prediction": "an (approximately) ideal encoder makes no error on orbits seen in the few-shot sample "
            "(invariance, Fig. 3)",
            "criterion": "mean seen-orbit error <= 0.05 for every method, level and n",
            "values": {"cells_holding": int(sum(seen)), "cells": len(seen)},
            "held": bool(seen) and all(seen),
        },
    ]


def judge(res: dict) -> dict:
    """The verdict of a ``coarseness`` result from its recorded rows and protocol (what :func:`run` records; a
    recorded file's verdict is recomputed with it, without training)."""
    p = res["protocol"]
    return {"verdict": {"claims": coarseness_claims(res["rows"], p["methods"], p["shots"])}}
