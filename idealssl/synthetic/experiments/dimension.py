"""``dimension``: representation dimension d below, at and above C - 1, for linear and MLP probes.

Theorem 1 (theory/statements.md S1.3) asks affine probes for affinely independent codes, so d >= C - 1; below
it, Cover's count (S1.5) bounds the fraction of binary labellings of the orbits that a linear probe can fit;
an MLP probe needs less dimension (Sec. 5, Fig. 7c; S2.1). The supervised oracle, CISSL and CISSL with an MLP
student head train on the main world (and the digits world in full mode) at the mode's relative dimensions, in
the iid regime; each representation is probed on the full world (random labellings of the orbits, 2 and 5
labels).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...objectives import available
from ..protocol import CANNOT
from ..worlds import World, image_world, main_world
from .runs import acc, mean_sd, perfect, strip, train_and_assess
from .settings import IID_EXPERIMENTS, Mode, method_hparams

__all__ = ["run", "dimension_claims", "cover_fraction", "dims"]

#: (label, objective, extra hyperparameters): CISSL with the linear student and CISSL-MLP, whose student head is
#: an MLP like the MLP probe (Fig. 7c), beside the supervised oracle
VARIANTS: tuple[tuple[str, str, dict], ...] = (
    ("oracle", "oracle", {}),
    ("cissl", "cissl", {}),
    ("cissl-mlp", "cissl", {"probe": "mlp"}),
)


def cover_fraction(C: int, r: int) -> float:
    """Fraction of the 2^C - 2 non-constant binary labellings of C points in general position in an
    r-dimensional affine space that an affine halfspace separates (Cover 1965; ``theory/statements.md`` S1.5):
    (2 sum_{k=0}^{r} binom(C-1, k) - 2) / (2^C - 2)."""
    r = min(r, C - 1)
    return (2 * sum(math.comb(C - 1, k) for k in range(r + 1)) - 2) / (2**C - 2)


def dims(C: int, which: Sequence[str]) -> list[int]:
    """The dimensions named by ``which`` (``two``, ``quarter``, ``half``, ``at`` = C - 1, ``double``), sorted."""
    table = {
        "two": 2,
        "quarter": max(2, (C - 1) // 4),
        "half": max(2, (C - 1) // 2),
        "at": C - 1,
        "double": 2 * (C - 1),
    }
    return sorted({table[w] for w in which})


def _rows(mode: Mode, worlds: list[World], variants: Sequence[tuple[str, str, dict]]) -> list[dict]:
    rows = []
    for w in worlds:
        for d in dims(w.C, mode["dims_rel"]):
            for label, m, extra in variants:
                hp = {**method_hparams(m), **extra}
                for s in mode["seeds"]:
                    r = train_and_assess(w, m, d, s, mode, hparams=hp, batch_regime="iid")
                    r["method"] = label
                    r["C"] = w.C
                    r["cover_fraction_binary"] = cover_fraction(w.C, d)
                    rows.append(r)
    return strip(rows)


def _cell(w: World, m: str, d: int, rs: list[dict]) -> dict:
    """The summary of one (world, method, d): means over seeds."""
    return {
        "world": w.name,
        "C": w.C,
        "method": m,
        "dim": d,
        "relation": "below" if d < w.C - 1 else ("at" if d == w.C - 1 else "above"),
        "linear_frac_perfect_binary": mean_sd([perfect(r, "linear", "2") for r in rs]),
        "linear_frac_perfect_5class": mean_sd([perfect(r, "linear", "5") for r in rs]),
        "mlp_frac_perfect_binary": mean_sd([perfect(r, "mlp", "2") for r in rs]),
        "linear_acc_binary": mean_sd([acc(r, "linear", "2") for r in rs]),
        "mlp_acc_binary": mean_sd([acc(r, "mlp", "2") for r in rs]),
        "affine_rank": mean_sd([r["geometry"]["affine_rank"] for r in rs]),
        "invariance_ratio": mean_sd([r["geometry"]["invariance_ratio"] for r in rs]),
        "cover_fraction_binary": cover_fraction(w.C, d),
        "check_ideal": mean_sd([float(r["check"]["ideal"]) for r in rs if r.get("check") and "ideal" in r["check"]]),
    }


def run(mode: Mode, store: dict | None = None, methods: Sequence[str] | None = None) -> dict:
    """Dimension below / at / above C-1 for linear and MLP probes (Theorem 1; Sec. 5; Fig. 7c); ``methods``
    selects among the labels of :data:`VARIANTS` (default: all whose objective is registered)."""
    variants = [v for v in VARIANTS if v[1] == "oracle" or v[1] in available()]
    if methods:
        variants = [v for v in variants if v[0] in methods]
    labels = [v[0] for v in variants]
    worlds = [main_world()] + ([image_world()] if mode["digits"] else [])
    rows = _rows(mode, worlds, variants)
    summary = []
    for w in worlds:
        for m in labels:
            for d in dims(w.C, mode["dims_rel"]):
                rs = [r for r in rows if r["world"] == w.name and r["method"] == m and r["dim"] == d]
                rs = [r for r in rs if "error" not in r]
                if rs:
                    summary.append(_cell(w, m, d, rs))
    return {
        "rows": rows,
        "summary": summary,
        "verdict": {"claims": dimension_claims(summary)},
        "protocol": {
            "worlds": [w.describe() for w in worlds],
            "methods": labels,
            "dims": {w.name: dims(w.C, mode["dims_rel"]) for w in worlds},
            "probes": "full world as training and test set; random labellings of the orbits (2 and 5 labels)",
            "n_tasks": mode["n_tasks"],
            "steps": mode["steps"],
            "batch": mode["batch"],
            "batch_regime": "iid",
            "batch_regime_reason": IID_EXPERIMENTS["dimension"],
            "temperatures": "published defaults (no grid: the claims compare dimensions, not methods)",
        },
    }


def _necessary_claim(lin: list[dict]) -> dict:
    below = [e for e in lin if e["relation"] == "below"]
    below_ok = [e["linear_frac_perfect_binary"]["mean"] < 1.0 for e in below]
    return {
        "id": "dim-necessary",
        "prediction": "linear probes: d < C-1 leaves some random invariant task unrealizable (Theorem 1, necessity)",
        "criterion": "oracle and cissl, every world, d < C-1: fraction of binary tasks fitted perfectly on the "
        "full world < 1. Cannot discriminate: Cover's count makes it true for any encoder; false would mean a "
        "broken probe",
        "values": {
            "cells_below_1": int(sum(below_ok)),
            "cells": len(below_ok),
            "measured_vs_cover": {
                f"{e['world']}/{e['method']}/d={e['dim']}": [
                    round(e["linear_frac_perfect_binary"]["mean"], 3),
                    round(e["cover_fraction_binary"], 3),
                ]
                for e in below
            },
        },
        "held": (CANNOT if all(below_ok) else False) if below_ok else None,
    }


def _mlp_claim(summary: list[dict]) -> dict:
    mlp_all = [e["mlp_frac_perfect_binary"]["mean"] for e in summary]
    mlp_ok = [
        e["mlp_frac_perfect_binary"]["mean"] >= e["linear_frac_perfect_binary"]["mean"]
        and e["mlp_frac_perfect_binary"]["mean"] > 0
        for e in summary
        if e["relation"] == "below"
    ]
    memorises = bool(mlp_all) and min(mlp_all) >= 1.0
    return {
        "id": "dim-mlp",
        "prediction": "MLP probes need less dimension than linear probes (Sec. 5, Fig. 7c)",
        "criterion": "every method and world, d < C-1: MLP-probe fraction of perfectly fitted binary tasks >= "
        "the linear probe's and > 0. Cannot discriminate when the MLP probe fits every task of every "
        "representation at every d (it memorises the world)",
        "values": {
            "cells_holding": int(sum(mlp_ok)),
            "cells": len(mlp_ok),
            "mlp_min_frac_perfect_any_cell": min(mlp_all) if mlp_all else None,
        },
        "held": CANNOT if memorises else (bool(mlp_ok) and all(mlp_ok)),
    }


def dimension_claims(summary: list[dict]) -> list[dict]:
    """The verdicts of the dimension experiment, from its summary (mean over seeds per world, method, d).

    ``dim-necessary`` cannot fail for a working probe: codes in d < C-1 dimensions have affine rank
    <= d, so by Cover's count some labelling of C orbits is not linearly separable, whatever the
    encoder; it is recorded as "cannot discriminate" (False only if a probe fitted every task, i.e.
    the probe is broken). ``dim-mlp`` cannot discriminate when the MLP probe fits every binary
    labelling of every representation at every d (it memorises the world, invariant or not)."""
    lin = [e for e in summary if e["method"] in ("oracle", "cissl")]
    claims = [_necessary_claim(lin)]
    for m in dict.fromkeys(e["method"] for e in lin):
        oks = [
            e["linear_frac_perfect_binary"]["mean"] >= 0.95
            for e in lin
            if e["method"] == m and e["relation"] != "below"
        ]
        claims.append(
            {
                "id": f"dim-sufficient-{m}",
                "prediction": f"linear probes: with d >= C-1 the {m} encoder realizes all invariant tasks (Theorem "
                "1 + Prop. 3, in practice)",
                "criterion": "every world, d >= C-1: mean fraction of binary tasks fitted perfectly >= 0.95",
                "held": all(oks) if oks else None,
            }
        )
    claims.append(_mlp_claim(summary))
    return claims
