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
from ..worlds import World, main_world
from .runs import Measures, acc, mean_sd, train_and_assess
from .settings import IID_EXPERIMENTS, Mode, method_hparams

__all__ = ["run", "free_logit_dissl", "BETA", "FREE_SETTINGS", "TRAINED_SETTINGS"]

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


def _free_claims(rows: list[dict]) -> list[dict]:
    thr = 1 + BETA
    held = {}
    for name, _, _ in FREE_SETTINGS:
        rs = [r for r in rows if r["setting"] == name]
        if name.startswith("K<C, full"):
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


def _exceeds(a: list[float], b: list[float]) -> bool:
    """The mean of ``a`` exceeds that of ``b`` by more than 0.05 nats."""
    return float(np.mean(a)) > float(np.mean(b)) + 0.05


def _trained_claims(trained: list[dict]) -> list[dict]:
    ok = [t for t in trained if "error" not in t]
    if not ok:
        return []

    def h(setting: str, above: bool) -> list[float]:
        return [t["H_M_given_Z_full"] for t in ok if t["setting"] == setting and (t["lambda"] > 1 + BETA) == above]

    tsum = {
        name: {"lambda>1+beta": mean_sd(h(name, True)), "lambda<=1+beta": mean_sd(h(name, False))}
        for name, _, _ in TRAINED_SETTINGS
    }
    hi, lo = h("K=4C, B=128", True), h("K=4C, B=128", False)
    b4h, b128h = h("K=C, B=4", True), h("K=C, B=128", True)
    b4l, b128l = h("K=C, B=4", False), h("K=C, B=128", False)
    return [
        {
            "id": "dissl-threshold-trained",
            "prediction": "a trained DISSL teacher with K > C is less deterministic above lambda = 1 + beta (S7.3)",
            "criterion": "K = 4C, batch 128: mean full-data H(M^|Z) over runs with lambda > 1 + beta exceeds "
            "the mean over runs with lambda <= 1 + beta by > 0.05 nats",
            "values": tsum["K=4C, B=128"],
            "held": _exceeds(hi, lo) if hi and lo else None,
        },
        {
            "id": "dissl-batch-marginal-trained",
            "prediction": "with K = C, a batch B < K makes the trained teacher non-deterministic above lambda "
            "= 1 + beta, a batch B >= K does not (S7.3 with the batch marginal)",
            "criterion": "lambda > 1 + beta: mean H(M^|Z) with B = 4 exceeds that with B = 128 by > 0.05 nats; "
            "lambda <= 1 + beta: it does not",
            "values": {"B=4": tsum["K=C, B=4"], "B=128": tsum["K=C, B=128"]},
            "held": (_exceeds(b4h, b128h) and not _exceeds(b4l, b128l)) if b4h and b128h and b4l and b128l else None,
        },
    ]


def run(mode: Mode, store: dict | None = None) -> dict:
    """DISSL teacher determinism vs lambda and 1 + beta; full-data vs batch marginal; free logits, then trained
    encoders."""
    rows = _free_rows(mode)
    trained = _trained_rows(mode)
    return {
        "rows": rows + trained,
        "summary": {"threshold": 1 + BETA},
        "verdict": {"claims": _free_claims(rows) + _trained_claims(trained)},
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
