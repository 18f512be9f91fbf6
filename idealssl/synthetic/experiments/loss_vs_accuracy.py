"""``loss_vs_accuracy``: the ideal ISSL log loss against linear-probe accuracy across models (Fig. 7b).

The models are every method of ``methods`` at the mode's steps (when both run in one suite; otherwise CISSL and
DISSL at that budget) plus CISSL and DISSL at the mode's shorter budgets (``loss_models``), on the main world in the
mode's batch regime (``iid`` by default: orbit-blind anchors; ``one-per-orbit``, the oracle regime, when asked for
and then labelled ``oracle`` in the protocol) at the temperatures chosen on the validation world.

The models are grouped (the seeds of one method, the budgets of one seed's sweep), so the verdicts test groups, not
models (theory/statements.md S9): ``loss-vs-acc`` correlates L_I (Eq. 6; S4.2) with the 16-shot error across the
methods at the full budget on their seed means (:func:`across_methods`, an ordinary permutation test, S9.1);
``loss-vs-acc-within-method`` correlates them inside each budget sweep with a permutation test that exchanges
whole seeds, budget by budget (:func:`within_method`, S9.5). Each says "cannot discriminate" when its p is not
below 0.05 or the test could not reject at all (:func:`permutation_verdict`). The model-level Spearman
correlations (overall, partial given log(training steps), within one budget) and those of the objectives' own
batch losses are reported beside them as descriptions (:func:`loss_stats`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import spearmanr

from ...errors import InputError
from ...objectives import available
from ...theory_math import ideal_log_loss_optimum
from ..protocol import CANNOT, partial_spearman
from ..sampling import ORACLE_REGIME
from ..worlds import main_world
from .runs import Measures, acc, few, strip, train_and_assess
from .settings import Mode, pair_hparams
from .temperatures import select_temperatures

__all__ = ["run", "judge", "loss_stats", "across_methods", "within_method", "permutation_verdict", "ALPHA"]

#: the level of the loss-vs-accuracy tests
ALPHA = 0.05


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
    and of each objective's own batch loss with it (within its budget sweep); only the count below 4 points.
    Descriptive: their p-values treat every model as independent, which the seeds of one method and the runs of
    one budget sweep are not (the verdict uses :func:`across_methods` and :func:`within_method`)."""
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


def _smallest_p(test: dict) -> float:
    """The smallest p-value the permutation test can give: 1/(number of arrangements) exact (the observed one is
    always as extreme as itself), 1/(m + 1) with m Monte Carlo draws."""
    n = test["n_permutations"]
    return 1.0 / n if test["exact"] else 1.0 / (n + 1)


def across_methods(points: list[dict], steps: int) -> dict:
    """Spearman's ρ of L_I with the 16-shot error across methods at the budget ``steps``, on the methods' seed
    means (one value per method: the seeds of a method are not independent models), with the ordinary permutation
    test (:func:`idealssl.stats.within_group_permutation_test` with one group, two-sided; S9.1)."""
    from ...stats import within_group_permutation_test

    ps = [p for p in points if p["steps"] == steps]
    methods = sorted({p["method"] for p in ps})
    L = [float(np.mean([p["ideal_log_loss"] for p in ps if p["method"] == m])) for m in methods]
    err = [float(np.mean([p["fewshot16_error"] for p in ps if p["method"] == m])) for m in methods]
    out: dict = {"steps": steps, "methods": methods, "ideal_log_loss": L, "fewshot16_error": err, "test": None}
    try:
        test = within_group_permutation_test(L, err, np.zeros(len(methods)), method="spearman", seed=0)
    except InputError:  # fewer than two methods, or a constant figure: no correlation to test
        return out
    out["test"] = test.as_dict()
    out["smallest_p"] = _smallest_p(out["test"])
    return out


def within_method(points: list[dict]) -> dict:
    """The within-method Spearman ρ of L_I with the 16-shot error over each budget sweep (a method with more than
    one budget), tested by exchanging whole seeds inside each method, budget by budget
    (:func:`idealssl.stats.blocked_permutation_test`, S9.5): the runs of one seed share its initialisation and
    batches, so a seed's sweep is the unit; budgets are never permuted, so the trend that training length gives
    both figures stays in the null, and the test asks whether L_I orders the seeds beyond it."""
    from ...stats import blocked_permutation_test

    swept = {m for m in {p["method"] for p in points} if len({p["steps"] for p in points if p["method"] == m}) > 1}
    rows = []
    for m in sorted(swept):
        budgets = {p["steps"] for p in points if p["method"] == m}
        by_seed: dict[int, list[dict]] = {}
        for p in points:
            if p["method"] == m:
                by_seed.setdefault(int(p["seed"]), []).append(p)
        rows += [p for ps in by_seed.values() if {p["steps"] for p in ps} == budgets for p in ps]
    out: dict = {"methods": sorted(swept), "n_models": len(rows), "test": None}
    if not rows:
        return out
    try:
        test = blocked_permutation_test(
            [p["ideal_log_loss"] for p in rows],
            [p["fewshot16_error"] for p in rows],
            [p["method"] for p in rows],
            units=[f"{p['method']}/{p['seed']}" for p in rows],
            positions=[p["steps"] for p in rows],
            method="spearman",
            seed=0,
        )
    except InputError:
        return out
    out["test"] = test.as_dict()
    out["smallest_p"] = _smallest_p(out["test"])
    return out


def permutation_verdict(result: dict, alpha: float = ALPHA) -> bool | str:
    """The three-way verdict of a two-sided permutation test on the claim "the correlation is positive" (as
    :func:`idealssl.stats.verdict` on an interval, S9.3): True when the statistic is positive with p < ``alpha``,
    False when it is negative with p < ``alpha``, "cannot discriminate" otherwise: p >= ``alpha``, or no test, or a
    test that could not reject whatever the truth (its smallest attainable p is at least ``alpha``)."""
    t = result.get("test")
    if t is None or result["smallest_p"] >= alpha or t["p_value"] >= alpha:
        return CANNOT
    return bool(t["statistic"] > 0)


def _claims(out: dict) -> list[dict]:
    across, within = out["across_methods"], out["within_method"]
    pred = "lower ideal ISSL log loss goes with better linear probing (Fig. 7b)"
    cannot = (
        "; failed when ρ < 0 with p < 0.05; 'cannot discriminate' otherwise (p >= 0.05, or a test whose smallest "
        "attainable p, 1/(arrangements), is not below 0.05)"
    )
    return [
        {
            "id": "loss-vs-acc",
            "prediction": pred + ", across methods",
            "criterion": f"Spearman ρ of L_I with the 16-shot error across the methods at {across['steps']} steps, "
            "on the methods' seed means (one point per method): held when > 0 with two-sided permutation p < 0.05"
            + cannot,
            "values": across,
            "held": permutation_verdict(across),
        },
        {
            "id": "loss-vs-acc-within-method",
            "prediction": pred + ", within one method's budget sweep",
            "criterion": "within-method Spearman ρ of L_I with the 16-shot error over the budget sweeps (mean over "
            "methods): held when > 0 with two-sided p < 0.05 from a permutation test that exchanges whole seeds "
            "inside each method, budget by budget (budgets never permuted: training length is controlled)" + cannot,
            "values": within,
            "held": permutation_verdict(within),
        },
    ]


def judge(res: dict) -> dict:
    """The summary and verdict of a ``loss_vs_accuracy`` result from its recorded models (``rows``) and the mode's
    budget (what :func:`run` records; a recorded file's verdict is recomputed with it, without training)."""
    out = {
        **loss_stats(res["rows"]),
        "across_methods": across_methods(res["rows"], int(res["mode_settings"]["steps"])),
        "within_method": within_method(res["rows"]),
    }
    return {"summary": out, "verdict": {"claims": _claims(out)}}


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
    judged = judge({"rows": points, "mode_settings": {"steps": mode["steps"]}})
    return {
        "rows": points,
        **judged,
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
