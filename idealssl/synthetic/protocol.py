"""The comparison protocol of the synthetic suite: matched heads, temperature grids, loss curves, verdict helpers.

The paper's pairwise claims (Table 1: CISSL vs SimCLR, DISSL vs DINO) are judged with the two methods
of a pair made equal wherever they do not differ by definition:

* **heads** (:data:`MATCHED_HEADS`, on top of the suite's small heads): SimCLR's projector gets the
  batch-normalised output of CISSL's heads (same width 256, same output width 64); DINO's head gets one
  hidden layer of 256 with batch norm, like DISSL's teacher, and keeps its definitional L2 bottleneck
  and weight-normalised prototypes (64, as DISSL's 64 categories). What stays different is the
  definition: symmetric vs asymmetric heads, CISSL's self target, DINO's EMA teacher and centring.
* **temperatures**: the same small grid for both methods of a pair (:func:`temperature_hparams`),
  chosen on a validation world (another seed of the world) with a validation training seed, never
  on the test seeds; criterion: 16-shot linear-probe error on the validation world.
* **schedules** are fractions of the step budget: the EMA coefficients of DINO and BYOL follow a
  cosine from their base value to 1 over the run's own steps; DINO's teacher-temperature warm-up and
  last-layer freezing and SwAV's prototype freezing are off (0 steps) at these budgets.
* **length**: the losses' last 10% are recorded (:func:`loss_tail`), with a flag saying whether the
  curve has flattened.

Verdict states (``held``): ``True``, ``False``, ``"cannot discriminate"`` (the data allow both outcomes, e.g. an
interval that contains the threshold or one seed, or the test cannot fail here whatever the truth, e.g. a probe that
memorises every labelling), ``None`` (a measurement, no prediction). Claims that compare seeds carry two-sided t
intervals, paired by seed where two settings share the seed's tasks (:func:`t_verdict`, theory/statements.md S9.3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from .sampling import ORACLE_REGIME

#: the suite's experiments, in the order ``idealssl bench synthetic`` runs them and the reports list them (one
#: module each in :mod:`idealssl.synthetic.experiments`)
EXPERIMENTS = ("dimension", "methods", "self_target", "coarseness", "loss_vs_accuracy", "dissl_threshold")

CANNOT = "cannot discriminate"
VERDICT_STATES = (True, False, CANNOT, None)

#: the pairs of Table 1, (baseline, ours), by family; the family names the temperature grid
PAIR_FAMILIES = {"contrastive": ("simclr", "cissl"), "distillation": ("dino", "dissl")}
PAIR_METHODS = tuple(m for pair in PAIR_FAMILIES.values() for m in pair)

#: head settings that make the two methods of a pair equal where they do not differ by definition
MATCHED_HEADS: dict[str, dict[str, object]] = {
    "simclr": {"out_norm": True},
    "dino": {"n_layers": 2, "use_bn": True, "warmup_teacher_temp_frac": 0.0, "freeze_last_layer_steps": 0},
}

#: teacher temperature = student temperature x this, for both distillation methods (DISSL's default ratio)
TEACHER_RATIO = 0.5


def family(method: str) -> str | None:
    """The pair family of ``method`` (``"contrastive"``, ``"distillation"``) or None."""
    return next((f for f, pair in PAIR_FAMILIES.items() if method in pair), None)


def temperature_hparams(method: str, value: float) -> dict:
    """The objective's keyword arguments for one grid value (the same value means the same thing for
    both methods of a pair): contrastive tau; distillation student temperature, teacher = 0.5 x student."""
    if method in PAIR_FAMILIES["contrastive"]:
        return {"temperature": float(value)}
    t = float(value) * TEACHER_RATIO
    if method == "dino":
        return {"student_temp": float(value), "teacher_temp": t, "warmup_teacher_temp": t}
    if method == "dissl":
        return {"student_temperature": float(value), "teacher_temperature": t}
    raise ValueError(f"{method!r} has no temperature grid")


def loss_tail(losses: Sequence[float]) -> dict:
    """The last 10% of a loss curve: its mean (the run's final loss), the mean of the 10% before it and
    of the first 10%, the last 10% as 10 window means, and ``flattened``: the last two 10% windows
    differ by at most max(2% of the total drop, 0.005)."""
    L = np.asarray(losses, dtype=float)
    k = max(1, L.size // 10)
    last, first = L[-k:], L[:k]
    prev = L[-2 * k : -k] if L.size >= 2 * k else first
    drop = abs(float(first.mean() - last.mean()))
    change = float(prev.mean() - last.mean())
    windows = [float(w.mean()) for w in np.array_split(last, min(10, last.size))]
    return {
        "final_loss_last10": float(last.mean()),
        "loss_prev10": float(prev.mean()),
        "loss_first10": float(first.mean()),
        "loss_tail_curve": windows,
        "loss_tail_change": change,
        "flattened": bool(abs(change) <= max(0.02 * drop, 0.005)),
    }


def partial_spearman(x: ArrayLike, y: ArrayLike, z: ArrayLike) -> dict:
    """Spearman correlation of x and y controlling for z (partial correlation of the ranks), with a
    two-sided p-value from Student's t with n - 3 degrees of freedom."""
    from scipy.stats import rankdata
    from scipy.stats import t as student_t

    rx, ry, rz = (rankdata(v) for v in (x, y, z))
    r = np.corrcoef(np.vstack([rx, ry, rz]))
    rxy, rxz, ryz = r[0, 1], r[0, 2], r[1, 2]
    den = math.sqrt(max((1 - rxz**2) * (1 - ryz**2), 1e-300))
    rho = float(np.clip((rxy - rxz * ryz) / den, -1.0, 1.0))
    n = len(rx)
    if n <= 3 or abs(rho) >= 1.0:
        return {"rho": rho, "p": 0.0 if abs(rho) >= 1.0 else float("nan"), "n": n}
    tval = rho * math.sqrt((n - 3) / (1 - rho**2))
    return {"rho": rho, "p": float(2 * student_t.sf(abs(tval), n - 3)), "n": n}


def regime_label(regime: str, ablation: bool = False) -> str:
    """How results name a batch regime: ``one-per-orbit`` is called the oracle regime (its sampler reads the orbit
    partition M, :mod:`.sampling`), and an ablation says so."""
    label = f"{regime} (oracle regime)" if regime == ORACLE_REGIME else regime
    return f"{label}, ablation" if ablation else label


def t_verdict(values: Sequence[float], threshold: float = 0.0, claim: str = "greater") -> tuple[dict, str]:
    """The two-sided 95 % t interval of the mean of ``values`` over seeds (one figure, or differences paired by
    seed) and its three-way verdict on the claim "the mean is ``claim`` than ``threshold``" (theory/statements.md
    S9.3): x̄ ± t_{0.975, n−1} s/√n (:func:`idealssl.stats.t_interval`), "held" when the whole interval lies on the
    claim's side, "not held" when it lies on the other, "cannot discriminate" when it contains the threshold (one
    seed: always; :func:`idealssl.stats.verdict`). Returns the interval as a JSON-safe dict and the verdict."""
    from ..stats import t_interval, verdict

    iv = t_interval(list(values), 0.95)
    return iv.as_dict(), verdict(iv, threshold, claim)


def all_held(verdicts: Sequence[str]) -> bool | str:
    """A claim over many comparisons (each a :func:`t_verdict`): True when every one is held, False when one is not
    held, "cannot discriminate" otherwise (or when there is none)."""
    if "not held" in verdicts:
        return False
    return True if verdicts and all(v == "held" for v in verdicts) else CANNOT


def _joint(err: str, acc: str) -> bool | str:
    """A head claim's verdict from its two figures' verdicts: held when the 16-shot error is lower and the
    full-data accuracy is not lower, failed when either lies on the other side, else cannot discriminate."""
    if err == "not held" or acc == "not held":
        return False
    return True if err == "held" else CANNOT


def head_claim(
    summary: dict, per_seed: dict[str, dict[int, dict]], base: str, ours: str, regime: str, suffix: str = ""
) -> dict:
    """The Table 1 claim 'ours beats base' in one batch regime, paired by seed (theory/statements.md S9.3).

    Parameters
    ----------
    summary : dict
        Per-method aggregates (``final_loss_last10``, ``invariance_ratio``, reported beside the verdict).
    per_seed : dict
        Per method, per seed: ``fewshot16_error`` and ``full_acc_binary`` (None when not measured).
    base, ours : str
        The pair (Table 1: SimCLR vs CISSL, DINO vs DISSL).
    regime : str
        The regime's label (:func:`regime_label`), part of the prediction.
    suffix : str
        Appended to the claim's id (an ablation's regime).

    Returns
    -------
    dict
        ``held``: True when the 95 % t interval (n − 1 dof) of the paired difference of 16-shot error, base − ours,
        lies above 0 and that of full-data binary accuracy, ours − base, does not lie below 0; False when the error
        interval lies below 0 or the accuracy interval does; "cannot discriminate" otherwise; None when a method
        is missing. The seeds pair the two methods: one seed draws the same random invariant tasks and few-shot
        samples for both (and the same world).
    """
    cid = f"heads-{ours}-vs-{base}{suffix}"
    pred = f"{ours} beats {base} on linear probes at equal budget (Table 1); batch regime {regime}"
    got = {m: {s: v for s, v in per_seed.get(m, {}).items() if None not in v.values()} for m in (base, ours)}
    seeds = sorted(set(got[base]) & set(got[ours]))
    if not seeds or any(m not in summary or "error" in summary[m] for m in (base, ours)):
        return {"id": cid, "prediction": pred, "criterion": "not run: a method is missing or failed", "held": None}
    d_err = [got[base][s]["fewshot16_error"] - got[ours][s]["fewshot16_error"] for s in seeds]
    d_acc = [got[ours][s]["full_acc_binary"] - got[base][s]["full_acc_binary"] for s in seeds]
    iv_err, v_err = t_verdict(d_err)
    iv_acc, v_acc = t_verdict(d_acc)
    return {
        "id": cid,
        "prediction": pred,
        "criterion": "paired by seed (same tasks and few-shot draws), 95 % two-sided t interval (n - 1 dof): "
        "16-shot linear-probe error difference (base - ours) above 0 and full-data binary accuracy difference "
        "(ours - base) not below 0; failed when either lies on the other side of 0; 'cannot discriminate' when "
        "the error interval contains 0 (always with one seed)",
        "values": {
            "seeds": seeds,
            "fewshot16_error": {m: [got[m][s]["fewshot16_error"] for s in seeds] for m in (ours, base)},
            "full_acc_binary": {m: [got[m][s]["full_acc_binary"] for s in seeds] for m in (ours, base)},
            "fewshot16_error_base_minus_ours": {**iv_err, "verdict": v_err},
            "full_acc_binary_ours_minus_base": {**iv_acc, "verdict": v_acc},
            "final_loss_last10": {m: summary[m]["final_loss_last10"] for m in (ours, base)},
            "invariance_ratio": {m: summary[m]["invariance_ratio"] for m in (ours, base)},
        },
        "held": _joint(v_err, v_acc),
    }
