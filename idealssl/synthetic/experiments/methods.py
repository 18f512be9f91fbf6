"""``methods``: every registered objective (and the supervised oracle) on the main world at equal budget.

d = C - 1, the mode's steps, the mode's batch regime: ``iid`` by default (orbit-blind: anchors i.i.d. over the
inputs, as every trainer on real data draws them; :mod:`.sampling`). The Table 1 pairs (SimCLR vs CISSL, DINO vs
DISSL; Sec. 4.1, theory/statements.md S6.2-S6.3) run with matched heads (:data:`.protocol.MATCHED_HEADS`) and
temperatures chosen on the validation world in that same regime (:func:`.temperatures.select_temperatures`); the
other objectives with the suite's small heads and published defaults. The pairs run again in the other regime as a
labelled ablation (:func:`.settings.ablation_regime`: the **oracle regime** ``one-per-orbit``, whose sampler reads
the orbit partition M, rows ``oracle: true``; ``iid`` when ``--batch-regime one-per-orbit`` makes the oracle regime
the main one), which also gives CISSL's self target against the invariant bound
(:func:`.self_target.self_target_claim`); VJE is measured against the others. Each representation is probed with the
linear probe on the full world and at 4, 16 and 64 labelled inputs. The trained models also feed
``loss_vs_accuracy`` (through the suite's store).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..protocol import MATCHED_HEADS, PAIR_FAMILIES, PAIR_METHODS, head_claim, regime_label
from ..sampling import ORACLE_REGIME
from ..worlds import main_world
from .runs import Measures, acc, few, mean_sd, perfect, strip, train_and_assess
from .self_target import self_target_claim
from .settings import Mode, ablation_regime, method_hparams, methods_list, pair_hparams
from .temperatures import select_temperatures

__all__ = ["run", "judge", "per_seed", "SHOTS"]

#: few-shot sizes of the linear probe
SHOTS = (4, 16, 64)


def _method_summary(rs: list[dict], shots: Sequence[int]) -> dict:
    return {
        "linear_acc_binary": mean_sd([acc(r) for r in rs]),
        "linear_acc_5class": mean_sd([acc(r, K="5") for r in rs]),
        "linear_frac_perfect_binary": mean_sd([perfect(r) for r in rs]),
        **{f"fewshot_error_n{n}": mean_sd([few(r, n) for r in rs]) for n in shots},
        "W_n": {str(n): few(rs[0], n, "W_n") for n in shots},
        "ideal_log_loss_gap": mean_sd([r["ideal_log_loss"]["gap"] for r in rs]),
        "invariance_ratio": mean_sd([r["geometry"]["invariance_ratio"] for r in rs]),
        "affine_rank": mean_sd([r["geometry"]["affine_rank"] for r in rs]),
        "simplex_distance": mean_sd([r["geometry"]["simplex_distance"] for r in rs]),
        "check_ideal": mean_sd([float(r["check"]["ideal"]) for r in rs if r.get("check") and "ideal" in r["check"]]),
        "final_loss_last10": mean_sd([r["final_loss_last10"] for r in rs]),
        "invariant_bound": rs[0].get(f"invariant_bound_{rs[0]['method']}"),
        "flattened": f"{sum(bool(r['flattened']) for r in rs)}/{len(rs)}",
        "train_seconds": mean_sd([r["train_seconds"] for r in rs]),
        "batch_regime": rs[0]["batch_regime"],
        "batch_effective": rs[0]["batch_effective"],
    }


def summaries(rows: list[dict], shots: Sequence[int]) -> dict:
    """Per method: the aggregates over its seeds, or the first error when every run failed."""
    out: dict = {}
    for m in dict.fromkeys(r["method"] for r in rows):
        rs = [r for r in rows if r["method"] == m and "error" not in r]
        errs = [r["error"] for r in rows if r["method"] == m and "error" in r]
        out[m] = _method_summary(rs, shots) if rs else {"error": errs[0] if errs else "no runs"}
    return out


def _vje_claim(summary: dict, regime: str) -> dict:
    ranked = sorted((s["fewshot_error_n16"]["mean"], m) for m, s in summary.items() if "error" not in s)
    return {
        "id": "vje-rank",
        "prediction": "no prediction (VJE is not derived from the ISSL characterization): measurement only",
        "criterion": f"rank of VJE by 16-shot linear-probe error among all methods (1 = best), {regime} regime",
        "values": {
            "rank": [m for _, m in ranked].index("vje") + 1,
            "of": len(ranked),
            "order": [m for _, m in ranked],
        },
        "held": None,
    }


def per_seed(rows: list[dict]) -> dict[str, dict[int, dict]]:
    """Per method, per seed: the 16-shot error and the full-data binary accuracy of the linear probe (the figures
    the head claims pair by seed)."""
    out: dict[str, dict[int, dict]] = {}
    for r in rows:
        if "error" not in r:
            out.setdefault(r["method"], {})[int(r["seed"])] = {"fewshot16_error": few(r, 16), "full_acc_binary": acc(r)}
    return out


def _claims(rows: list[dict], abl_rows: list[dict], regime: str, ablation: str | None) -> list[dict]:
    """The claims of ``methods`` from its rows (the main regime's and the ablation's)."""
    summary, seeds = summaries(rows, SHOTS), per_seed(rows)
    claims = [head_claim(summary, seeds, base, ours, regime_label(regime)) for base, ours in PAIR_FAMILIES.values()]
    if abl_rows and ablation:
        summary_abl, seeds_abl = summaries(abl_rows, SHOTS), per_seed(abl_rows)
        suffix = "-oracle" if ablation == ORACLE_REGIME else f"-{ablation}"
        claims += [
            head_claim(summary_abl, seeds_abl, base, ours, regime_label(ablation, True), suffix=suffix)
            for base, ours in PAIR_FAMILIES.values()
        ]
        by_regime = {regime: summary, ablation: summary_abl}
        if "iid" in by_regime and ORACLE_REGIME in by_regime:
            setting = "at the temperature chosen on the validation world"
            claims.append(self_target_claim(by_regime[ORACLE_REGIME], by_regime["iid"], setting))
    if "vje" in summary and "error" not in summary["vje"]:
        claims.append(_vje_claim(summary, regime_label(regime)))
    return claims


def judge(res: dict) -> dict:
    """The verdict of a ``methods`` result from its recorded rows and protocol (what :func:`run` records; a recorded
    file's verdict is recomputed with it, without training)."""
    p = res["protocol"]
    regime, ablation = p["batch_regime"], p.get("ablation_regime")
    rows = [r for r in res["rows"] if r["batch_regime"] == regime]
    abl_rows = [r for r in res["rows"] if ablation and r["batch_regime"] == ablation]
    return {"verdict": {"claims": _claims(rows, abl_rows, regime, ablation)}}


def _protocol(mode: Mode, rows: list[dict], ablation: str | None, sel: dict, hps: dict) -> dict:
    w = main_world()
    return {
        "world": w.describe(),
        "dim": w.C - 1,
        "shots": list(SHOTS),
        "steps": mode["steps"],
        "batch": mode["batch"],
        "batch_regime": mode["batch_regime"],
        "oracle": mode["batch_regime"] == ORACLE_REGIME,
        "batch_effective": rows[0].get("batch_effective") if rows else None,
        "ablation_regime": ablation,
        "ablation_oracle": ablation == ORACLE_REGIME,
        "ablation_methods": list(PAIR_METHODS) if ablation else [],
        "temperatures": sel,
        "matched_heads": MATCHED_HEADS,
        "hparams": {m: hp for m, hp in hps.items() if m != "oracle"},
        "schedules": "EMA (DINO, BYOL): cosine from the base coefficient to 1 over the run's steps; DINO teacher "
        "temperature constant (no warm-up), no last-layer or prototype freezing",
        "n_tasks": mode["n_tasks"],
        "losses": "final_loss_last10 = mean batch loss over the last 10% of steps; loss_tail_curve = that "
        "window as 10 means; flattened = last two 10% windows within max(2% of the drop, 0.005)",
        "probe": "affine logistic regression (C=1e3) on standardized Z; few-shot: n i.i.d. inputs, one draw per task",
    }


def run(mode: Mode, store: dict | None = None) -> dict:
    """All objectives on the main world at equal budget (d = C-1) in the mode's batch regime (iid by default), the
    Table 1 pairs with matched heads and temperatures chosen on a validation world in that regime; the pairs again
    in the other regime as a labelled ablation (the oracle regime by default; CISSL's self target); VJE measured
    against the others. The unstripped rows (with their trained modules) go to ``store["methods_rows"]``."""
    w = main_world()
    d = w.C - 1
    regime = mode["batch_regime"]
    sel = select_temperatures(mode, store)
    hps = {m: pair_hparams(m, sel["chosen"].get(m)) if m in PAIR_METHODS else method_hparams(m) for m in methods_list()}
    measures = Measures(probes=("linear",), shots=SHOTS)
    rows = [
        train_and_assess(w, m, d, s, mode, hparams=hps[m], measures=measures)
        for m in methods_list()
        for s in mode["seeds"]
    ]
    ablation = ablation_regime(mode)
    abl_rows = [
        train_and_assess(w, m, d, s, mode, hparams=hps[m], batch_regime=ablation, measures=measures)
        for m in (methods_list() if ablation else [])
        if m in PAIR_METHODS
        for s in mode["seeds"]
    ]
    if store is not None:
        store["methods_rows"] = rows
    rows, abl_rows = strip(rows), strip(abl_rows)
    return {
        "rows": rows + abl_rows,
        "summary": summaries(rows, SHOTS),
        "summary_ablation": summaries(abl_rows, SHOTS) if abl_rows else {},
        "verdict": {"claims": _claims(rows, abl_rows, regime, ablation)},
        "protocol": _protocol(mode, rows, ablation, sel, hps),
    }
