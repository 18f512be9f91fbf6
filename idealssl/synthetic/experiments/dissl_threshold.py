"""``dissl_threshold``: DISSL's teacher determinism against lambda and 1 + beta (theory/statements.md S7.2-S7.3).

With more teacher categories than orbits (K > C) the optimal teacher is deterministic iff lambda <= 1 + beta;
with K <= C it is deterministic for every lambda, unless the marginal is taken over a batch of B < K inputs.
Two parts, both with beta = 0.8 (threshold 1.8), in the iid regime:

* free logits (:func:`free_logit_dissl`, no encoder): C = 8 orbits of 2 inputs, the population objective or
  minibatches, K = 2C, C/2 and C, over the mode's ``lambdas``;
* trained encoders: DISSL on the main world (C = 16, d = 15) with K = 4C and batch 128, K = C and batch 128
  (B >= K), K = C and batch 4 (B < K), over the mode's ``lambdas_trained``; the teacher's H(M^|Z) over the whole
  world after training.
"""

from __future__ import annotations

import numpy as np
import torch

from ...objectives import available
from ...objectives.dissl import dissl_loss
from ..protocol import all_held, t_verdict
from ..worlds import World, main_world
from .runs import Measures, acc, mean_sd, train_and_assess
from .settings import IID_EXPERIMENTS, Mode, method_hparams

__all__ = ["run", "judge", "free_logit_dissl", "BETA", "MARGIN", "FREE_SETTINGS", "TRAINED_SETTINGS"]

BETA = 0.8
#: H(M^|X) above this many nats counts as a non-deterministic teacher
EPS = 0.05
#: free logits on C = 8 orbits: (name, K, batch); batch None is the population marginal
FREE_C = 8
FREE_SETTINGS = (
    ("K>C, full marginal", 2 * FREE_C, None),
    ("K<C, full marginal", FREE_C // 2, None),
    ("K<=C, batch marginal B<K", FREE_C, 2),
)
#: trained encoders on the main world: (name, K as a multiple of C, batch; None: the mode's)
TRAINED_SETTINGS = (("K=4C, B=128", 4, None), ("K=C, B=128", 1, None), ("K=C, B=4", 1, 4))


def free_logit_dissl(
    C: int,
    K: int,
    lam: float,
    beta: float,
    per_orbit: int = 2,
    batch: int | None = None,
    steps: int = 2000,
    seed: int = 0,
    lr: float = 0.05,
) -> dict:
    """Minimise the DISSL objective over free per-input teacher and student logits (no encoder).

    The inputs are ``C * per_orbit`` points in C orbits; a view of x is uniform over its orbit. With
    ``batch=None`` the loss is the population objective (every input as anchor, the exact
    expectation over its views, the teacher marginal over the whole data set); with ``batch=B`` it
    is minimised by SGD on minibatches of B anchors with the marginal of the minibatch, as the
    original code does. The loss terms are :func:`idealssl.objectives.dissl.dissl_loss`.

    Returns the conditional entropy H(M^|X) and the marginal entropy H(M^) of the teacher over the
    whole data set (``theory/statements.md`` S7.2-S7.3: H(M^|X) > 0 at the optimum iff lambda > 1 + beta when
    K > C; with a batch marginal the same argument runs with B in place of C).
    """
    g = torch.Generator().manual_seed(seed)
    N = C * per_orbit
    orbit = torch.arange(N) // per_orbit
    T = (0.1 * torch.randn(N, K, generator=g)).requires_grad_(True)
    S = (0.1 * torch.randn(N, K, generator=g)).requires_grad_(True)
    opt = torch.optim.Adam([T, S], lr=lr)
    # all ordered pairs (i, j) within an orbit, j uniform over the orbit (including i)
    pi = torch.arange(N).repeat_interleave(per_orbit)
    pj = orbit.repeat_interleave(per_orbit) * per_orbit + torch.arange(per_orbit).repeat(N)
    for _ in range(steps):
        if batch is None:
            a, b = pi, pj
        else:
            a = torch.randint(0, N, (batch,), generator=g)
            b = orbit[a] * per_orbit + torch.randint(0, per_orbit, (batch,), generator=g)
        loss, _ = dissl_loss(
            [T[a], T[b]],
            [S[a], S[b]],
            lambda_maximality=lam,
            beta_det_inv=beta,
            teacher_temperature=1.0,
            student_temperature=1.0,
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        p = T.softmax(-1)
        h_cond = float(-(p * p.clamp_min(1e-30).log()).sum(-1).mean())
        pm = p.mean(0)
        h_marg = float(-(pm * pm.clamp_min(1e-30).log()).sum())
    return {"H_M_given_X": h_cond, "H_M": h_marg}


def _free_rows(mode: Mode) -> list[dict]:
    rows = []
    for name, K, B in FREE_SETTINGS:
        for lam in mode["lambdas"]:
            hs = [
                free_logit_dissl(FREE_C, K, lam, BETA, batch=B, steps=mode["free_steps"], seed=s)
                for s in range(mode["free_restarts"])
            ]
            rows.append(
                {
                    "part": "free-logits",
                    "setting": name,
                    "C": FREE_C,
                    "K": K,
                    "batch": B,
                    "lambda": lam,
                    "beta": BETA,
                    "H_M_given_X": mean_sd([h["H_M_given_X"] for h in hs]),
                    "H_M": mean_sd([h["H_M"] for h in hs]),
                    "restarts": mode["free_restarts"],
                    "steps": mode["free_steps"],
                }
            )
    return rows


def _trained_row(mode: Mode, w: World, name: str, kmul: int, B: int, lam: float, s: int) -> dict:
    """One trained DISSL encoder and its teacher's entropies over the whole world (the full-data marginal)."""
    hp = {**method_hparams("dissl"), "categories": kmul * w.C, "lambda_maximality": lam, "beta_det_inv": BETA}
    measures = Measures(probes=("linear",), check=False)
    r = train_and_assess(w, "dissl", w.C - 1, s, mode, hparams=hp, batch=B, batch_regime="iid", measures=measures)
    if "error" in r:
        return {"part": "trained", "setting": name, "lambda": lam, "seed": s, "error": r["error"]}
    obj, enc = r["_objective"], r["_encoder"]
    rng = np.random.default_rng(1000 + s)
    X = torch.as_tensor(w.X)
    with torch.no_grad():
        out = obj([enc(X), enc(X[w.sample_views(np.arange(w.N), rng)])])
    return {
        "part": "trained",
        "setting": name,
        "C": w.C,
        "K": kmul * w.C,
        "batch": B,
        "lambda": lam,
        "beta": BETA,
        "seed": s,
        "H_M_given_Z_full": float(out.logs["H_M_given_Z"]),
        "H_M_full": float(out.logs["H_M"]),
        "H_M_given_Z_last_batch": r["logs"].get("H_M_given_Z"),
        "linear_acc_binary": acc(r),
        "invariance_ratio": r["geometry"]["invariance_ratio"],
    }


def _trained_rows(mode: Mode) -> list[dict]:
    if "dissl" not in available():
        return []
    w = main_world()
    return [
        _trained_row(mode, w, name, kmul, B or mode["batch"], lam, s)
        for name, kmul, B in TRAINED_SETTINGS
        for lam in mode["lambdas_trained"]
        for s in mode["seeds"]
    ]


def _free_claims(rows: list[dict], beta: float = BETA) -> list[dict]:
    thr = 1 + beta
    held: dict[str, bool | None] = {}
    for name, _, _ in FREE_SETTINGS:
        rs = [r for r in rows if r["setting"] == name]
        if not rs:
            held[name] = None
        elif name.startswith("K<C, full"):
            held[name] = all(r["H_M_given_X"]["mean"] < EPS for r in rs)
        else:
            held[name] = all((r["H_M_given_X"]["mean"] > EPS) == (r["lambda"] > thr) for r in rs)
    return [
        {
            "id": "dissl-threshold",
            "prediction": "with more teacher categories than orbits (K > C), the optimal teacher is deterministic "
            "iff lambda <= 1 + beta (S7.2-S7.3)",
            "criterion": f"free logits, population objective: H(M^|X) > {EPS} exactly for the lambdas > 1 + beta = "
            f"{thr}",
            "held": held[FREE_SETTINGS[0][0]],
        },
        {
            "id": "dissl-small-K",
            "prediction": "with K <= C the optimal teacher is deterministic for every lambda (S7.2)",
            "criterion": f"free logits, population objective, K = C/2: H(M^|X) < {EPS} for every lambda",
            "held": held[FREE_SETTINGS[1][0]],
        },
        {
            "id": "dissl-batch-marginal",
            "prediction": "with a batch marginal over B < K inputs, the teacher turns non-deterministic iff lambda "
            "> 1 + beta even though K <= C (S7.3 with the batch marginal)",
            "criterion": f"free logits, minibatch B = 2, K = C: H(M^|X) > {EPS} exactly for the lambdas > {thr}",
            "held": held[FREE_SETTINGS[2][0]],
        },
    ]


#: the trained claims' margin in nats: a difference of full-data H(M^|Z) counts when its interval clears it
MARGIN = 0.05
_INTERVAL = "95 % two-sided t interval over seeds (n - 1 dof)"


def _entropies(trained: list[dict]) -> dict[tuple[str, int, float], float]:
    """Full-data H(M^|Z) of every trained run that did not fail, by (setting, seed, lambda)."""
    return {(t["setting"], int(t["seed"]), t["lambda"]): t["H_M_given_Z_full"] for t in trained if "error" not in t}


def _threshold_differences(h: dict, setting: str, thr: float) -> dict[int, float]:
    """Per seed, the mean H over the lambdas above ``thr`` minus the mean over those at or below it (``setting``'s
    runs; a seed without a run on each side is left out)."""
    out = {}
    for s in sorted({k[1] for k in h if k[0] == setting}):
        hi = [v for (st, sd, lam), v in h.items() if (st, sd) == (setting, s) and lam > thr]
        lo = [v for (st, sd, lam), v in h.items() if (st, sd) == (setting, s) and lam <= thr]
        if hi and lo:
            out[s] = float(np.mean(hi)) - float(np.mean(lo))
    return out


def _batch_differences(h: dict, small: str, large: str, above: bool, thr: float) -> dict[int, float]:
    """Per seed, the mean over the lambdas on one side of ``thr`` of H(``small``) - H(``large``) (the settings K = C
    with B = 4 and with B = 128), paired by (seed, lambda): a lambda counts for a seed only when both settings' runs
    are there."""
    pairs: dict[int, list[float]] = {}
    for (st, s, lam), v in sorted(h.items()):
        if st == small and (lam > thr) == above and (large, s, lam) in h:
            pairs.setdefault(s, []).append(v - h[(large, s, lam)])
    return {s: float(np.mean(d)) for s, d in pairs.items()}


def _interval(diffs: dict[int, float], claim: str) -> tuple[dict | None, str | None]:
    """The t interval of the per-seed differences against :data:`MARGIN` (``claim``: "greater" or "less"), with its
    verdict and the differences by seed; (None, None) without a seed."""
    if not diffs:
        return None, None
    iv, v = t_verdict(list(diffs.values()), MARGIN, claim)
    return {**iv, "verdict": v, "seeds": list(diffs), "differences": list(diffs.values())}, v


def _trained_claims(trained: list[dict], beta: float = BETA) -> list[dict]:
    """The trained-encoder claims from their runs, one run per (setting, lambda, seed), judged with 95 % t intervals
    over seeds (theory/statements.md S9.3) on differences paired by seed: the seed is the independent unit (the
    runs of one seed share its initialisation and batches at every lambda), and the lambdas of a seed are averaged,
    not counted as replicates.

    * ``dissl-threshold-trained`` (S7.3): K = 4C, B = 128; per seed d_s = mean H over lambda > 1 + beta minus mean
      H over lambda <= 1 + beta; held when the interval of d lies above :data:`MARGIN`, failed when below it.
    * ``dissl-batch-marginal-trained`` (S7.3 with the batch marginal): K = C; per seed the mean over lambdas of
      H(B = 4) - H(B = 128), paired by (seed, lambda), above 1 + beta (claim: above the margin) and at or below it
      (claim: below the margin); held when both intervals agree, failed when either lies on the other side
      (:func:`idealssl.synthetic.protocol.all_held`).

    One seed gives the whole line: "cannot discriminate". No run at all gives no claim.
    """
    h = _entropies(trained)
    if not h:
        return []
    thr = 1 + beta

    def summary(setting: str) -> dict:
        def side(above: bool) -> dict:
            return mean_sd([v for (st, _, lam), v in h.items() if st == setting and (lam > thr) == above])

        return {"lambda>1+beta": side(True), "lambda<=1+beta": side(False)}

    k4, c128, c4 = (name for name, _, _ in TRAINED_SETTINGS)
    d_thr = _threshold_differences(h, k4, thr)
    d_up, d_down = _batch_differences(h, c4, c128, True, thr), _batch_differences(h, c4, c128, False, thr)
    iv_thr, v_thr = _interval(d_thr, "greater")
    iv_up, v_up = _interval(d_up, "greater")
    iv_down, v_down = _interval(d_down, "less")
    return [
        {
            "id": "dissl-threshold-trained",
            "prediction": "a trained DISSL teacher with K > C is less deterministic above lambda = 1 + beta (S7.3)",
            "criterion": "K = 4C, batch 128: per seed, the mean full-data H(M^|Z) over the lambdas > 1 + beta minus "
            f"the mean over the lambdas <= 1 + beta; held when the {_INTERVAL} of these differences lies above the "
            f"margin {MARGIN} nats; failed when it lies below it; 'cannot discriminate' when it contains it (always "
            "with one seed)",
            "values": {**summary(k4), "above_minus_at_or_below": iv_thr},
            "held": all_held([v_thr]) if v_thr else None,
        },
        {
            "id": "dissl-batch-marginal-trained",
            "prediction": "with K = C, a batch B < K makes the trained teacher non-deterministic above lambda "
            "= 1 + beta, a batch B >= K does not (S7.3 with the batch marginal)",
            "criterion": "K = C: per seed, the mean over lambdas of full-data H(M^|Z) with B = 4 minus with B = 128 "
            f"(paired by seed and lambda); held when the {_INTERVAL} for the lambdas > 1 + beta lies above the "
            f"margin {MARGIN} nats and the one for the lambdas <= 1 + beta lies below it; failed when either lies "
            "on the other side of the margin; 'cannot discriminate' otherwise (always with one seed)",
            "values": {
                "B=4": summary(c4),
                "B=128": summary(c128),
                "B4_minus_B128_above": iv_up,
                "B4_minus_B128_at_or_below": iv_down,
            },
            "held": all_held([v_up, v_down]) if v_up and v_down else None,
        },
    ]


def judge(res: dict) -> dict:
    """The verdict of a ``dissl_threshold`` result from its recorded rows and protocol (what :func:`run` records; a
    recorded file's verdict is recomputed with it, without training)."""
    beta = float(res["protocol"]["beta"])
    rows = res["rows"]
    free = [r for r in rows if r["part"] == "free-logits"]
    trained = [r for r in rows if r["part"] == "trained"]
    return {"verdict": {"claims": _free_claims(free, beta) + _trained_claims(trained, beta)}}


def run(mode: Mode, store: dict | None = None) -> dict:
    """DISSL teacher determinism vs lambda and 1 + beta; full-data vs batch marginal; free logits, then trained
    encoders."""
    rows = _free_rows(mode)
    trained = _trained_rows(mode)
    return {
        "rows": rows + trained,
        "summary": {"threshold": 1 + BETA},
        "verdict": {"claims": _free_claims(rows, BETA) + _trained_claims(trained, BETA)},
        "protocol": {
            "beta": BETA,
            "batch_regime": "iid",
            "batch_regime_reason": IID_EXPERIMENTS["dissl_threshold"],
            "temperatures": "DISSL's published defaults (the claims compare lambda, not methods)",
            "lambdas": list(mode["lambdas"]),
            "free_logits": f"C=8 orbits of 2 inputs, Adam lr 0.05, {mode['free_steps']} steps, "
            f"{mode['free_restarts']} restarts, temperatures 1, loss terms from idealssl.objectives.dissl.dissl_loss",
            "trained": f"main world (C=16), d=C-1, {mode['steps']} steps, settings (K, batch): 4C/{mode['batch']}, "
            f"C/{mode['batch']}, C/4; lambdas "
            + str(list(mode["lambdas_trained"]))
            + "; H(M^|Z) of the teacher over the whole world after training",
        },
    }
