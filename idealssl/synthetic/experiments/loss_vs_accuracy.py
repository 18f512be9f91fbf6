"""``loss_vs_accuracy``: the ideal ISSL log loss against linear-probe accuracy across models (Fig. 7b).

The models are every method of ``methods`` at the mode's steps (when both run in one suite; otherwise CISSL and
DISSL at that budget) plus CISSL and DISSL at the mode's shorter budgets (``loss_models``), on the main world in the
mode's batch regime (``iid`` by default: orbit-blind anchors; ``one-per-orbit``, the oracle regime, when asked for
and then labelled ``oracle`` in the protocol) at the temperatures chosen on the validation world. The verdict is the
partial Spearman correlation of L_I (Eq. 6; theory/statements.md S4.2) with the 16-shot error, controlling for
log(training steps); the correlations within one budget and those of the objectives' own batch losses are reported
beside it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import spearmanr

from ...objectives import available
from ...theory_math import ideal_log_loss_optimum
from ..protocol import partial_spearman
from ..sampling import ORACLE_REGIME
from ..worlds import main_world
from .runs import Measures, acc, few, strip, train_and_assess
from .settings import Mode, pair_hparams
from .temperatures import select_temperatures

__all__ = ["run", "loss_stats"]


def _loss_point(r: dict) -> dict:
    return {
        "method": r["method"],
        "steps": r["steps"],
        "seed": r["seed"],
        "batch_regime": r.get("batch_regime"),
        "ideal_log_loss": r["ideal_log_loss"]["ideal_log_loss"],
        "own_loss_last10": r.get("final_loss_last10"),
        "fewshot16_error": few(r, 16),
        "full_binary_acc": acc(r),
        "full_5label_acc": acc(r, K="5"),
    }


def _spearman(x: ArrayLike, y: ArrayLike, n: int | None = None) -> dict:
    rho, pv = spearmanr(x, y)
    out = {"rho": float(rho), "p": float(pv)}
    return out if n is None else {**out, "n": n}


def loss_stats(points: list[dict]) -> dict:
    """Spearman correlations of L_I with the 16-shot error (overall, partial given log steps, within one budget)
    and of each objective's own batch loss with it (within its budget sweep); only the count below 4 points."""
    L = np.array([p["ideal_log_loss"] for p in points])
    err = np.array([p["fewshot16_error"] for p in points])
    out: dict = {"n_models": len(points)}
    if len(points) < 4:
        return out
    out["spearman_loss_vs_fewshot16_error"] = _spearman(L, err)
    out["spearman_loss_vs_full_binary_acc"] = _spearman(L, [p["full_binary_acc"] for p in points])
    out["partial_spearman_controlling_log_steps"] = partial_spearman(L, err, np.log([p["steps"] for p in points]))
    within = {}
    for steps in sorted({p["steps"] for p in points}):
        ps = [p for p in points if p["steps"] == steps]
        if len(ps) >= 4:
            within[str(steps)] = _spearman(
                [p["ideal_log_loss"] for p in ps], [p["fewshot16_error"] for p in ps], len(ps)
            )
    out["spearman_within_budget"] = within
    own = {}
    for m in sorted({p["method"] for p in points}):
        ps = [p for p in points if p["method"] == m and p["own_loss_last10"] is not None]
        if len(ps) >= 4 and len({p["steps"] for p in ps}) > 1:
            own[m] = _spearman([p["own_loss_last10"] for p in ps], [p["fewshot16_error"] for p in ps], len(ps))
    out["spearman_own_batch_loss_vs_fewshot16_error_within_method"] = own
    return out


def _claim(out: dict) -> dict:
    part = out.get("partial_spearman_controlling_log_steps")
    return {
        "id": "loss-vs-acc",
        "prediction": "lower ideal ISSL log loss goes with better linear probing (Fig. 7b)",
        "criterion": "partial Spearman correlation between L_I and 16-shot error across models, "
        "controlling for log(training steps), > 0 with p < 0.05 (within-budget correlations and the "
        "objectives' own batch losses reported beside it)",
        "values": {k: v for k, v in out.items() if k != "spearman_loss_vs_full_binary_acc"},
        "held": None if part is None else bool(part["rho"] > 0 and part["p"] < 0.05),
    }


def run(mode: Mode, store: dict | None = None) -> dict:
    """Ideal ISSL log loss vs linear-probe accuracy across models on one world (Fig. 7b), controlled for
    training length, with the objectives' own batch losses beside it (the models of ``methods`` from
    ``store["methods_rows"]`` when that experiment ran first)."""
    w = main_world()
    sel = select_temperatures(mode, store)
    rows = [r for r in (store or {}).get("methods_rows", []) if "error" not in r]
    budgets = list(mode["loss_models"]) + ([] if rows else [mode["steps"]])
    measures = Measures(probes=("linear",), shots=(16,), check=False)
    # budget sweep of the theory's own objectives: fewer steps, same augmentations, same chosen temperatures
    for m in [x for x in ("cissl", "dissl") if x in available()]:
        hp = pair_hparams(m, sel["chosen"].get(m))
        rows += [
            train_and_assess(w, m, w.C - 1, s, mode, hparams=hp, steps=steps, measures=measures)
            for steps in budgets
            for s in mode["seeds"]
        ]
    points = [_loss_point(r) for r in strip(rows) if "error" not in r]
    out = loss_stats(points)
    return {
        "rows": points,
        "summary": out,
        "verdict": {"claims": [_claim(out)]},
        "protocol": {
            "world": w.describe(),
            "dim": w.C - 1,
            "batch_regime": mode["batch_regime"],
            "oracle": mode["batch_regime"] == ORACLE_REGIME,
            "batch": mode["batch"],
            "models": "every method of 'methods' at " + str(mode["steps"]) + " steps (when run in the same suite; "
            "otherwise cissl and dissl at that budget) plus cissl and dissl at steps " + str(list(mode["loss_models"])),
            "temperatures": sel,
            "n_tasks": mode["n_tasks"],
            "own_loss": "each objective's batch loss, mean over the last 10% of its steps (needs no orbit labels; "
            "comparable only within one objective)",
            "note": "L_I with unit-norm z and w at temperature 1 (Eq. 6); optimum "
            + f"{ideal_log_loss_optimum(w.C):.4f}",
        },
    }
