"""Evaluation of a representation Z of a finite world, against what the theory predicts.

Everything here takes ``Z`` (N x d, row i the representation of input i) and the orbit labels
M(x_i); the world is the population, so "population" quantities are exact averages over its N
inputs (uniform distribution on X).

* :func:`geometry` — invariance ratio, affine and linear rank of the orbit codes, distance of the
  centred, normalised codes to the regular simplex (Theorem 1; theory/statements.md S1.2-S1.3).
* :func:`ideal_log_loss` — the ideal ISSL log loss L_I (Eq. 6) with unit-norm representations and
  unit-norm class weights at temperature 1, and its optimum log(1 + (C-1) e^{-C/(C-1)}) (Prop. 3;
  theory/statements.md S4.2), computed by :func:`idealssl.derive.logloss.minimise_ideal_log_loss`.
* :func:`worst_case_risk` — W_n = sum_m p_m (1 - p_m)^n, the worst-case expected ERM risk of a
  sample-optimal encoder (Prop. 2; theory/statements.md S3.1).
* :func:`probe_tasks` — probe accuracy on many random invariant tasks (random labellings of the
  orbits), with the full finite world as training set (population optimality, Def. 2) and in the
  few-shot regime (n i.i.d. labelled inputs), where the error is split into seen and unseen orbits
  and compared with W_n.
* :func:`run_check` — the verdict of :func:`idealssl.check` when the checker is installed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..jsonutil import plain
from ..probes import get_family
from ..theory_math import affine_rank, erm_risk, ideal_log_loss_optimum, matrix_rank

__all__ = [
    "geometry",
    "ideal_log_loss",
    "ideal_log_loss_optimum",
    "worst_case_risk",
    "random_labellings",
    "probe_tasks",
    "run_check",
]


def _orbit_means(Z: np.ndarray, orbits: np.ndarray, C: int) -> np.ndarray:
    counts = np.bincount(orbits, minlength=C).astype(float)
    mu = np.zeros((C, Z.shape[1]))
    np.add.at(mu, orbits, Z)
    return mu / counts[:, None]


def geometry(Z: np.ndarray, orbits: np.ndarray, rtol: float = 1e-3) -> dict[str, float]:
    """Invariance and dimension figures of a representation.

    Parameters
    ----------
    Z : array, shape (N, d)
    orbits : int array, shape (N,)
        M(x_i) in 0..C-1.
    rtol : float
        Relative singular-value threshold for ranks (singular values below rtol * s_max count as 0).

    Returns
    -------
    dict
        ``invariance_ratio`` = sum_i ||z_i - mu_{M(x_i)}||^2 / sum_i ||z_i - zbar||^2 (0 for an
        invariant encoder; 1 - R^2 of predicting z from the orbit); ``affine_rank`` =
        rank[mu_m - mubar]_m (:func:`idealssl.theory_math.affine_rank`; Theorem 1 needs C-1,
        theory/statements.md S1.3); ``span_rank`` =
        rank[mu_m] (the paper's literal wording); ``simplex_distance`` = ||G - G*||_F / ||G*||_F
        with G the Gram matrix of the centred, unit-normalised codes and G* that of the regular
        simplex (1 on the diagonal, -1/(C-1) elsewhere; the minimiser of L_I, S4.2).
    """
    Z = np.asarray(Z, dtype=np.float64)
    orbits = np.asarray(orbits)
    C = int(orbits.max()) + 1
    mu = _orbit_means(Z, orbits, C)
    within = float(np.sum((Z - mu[orbits]) ** 2))
    total = float(np.sum((Z - Z.mean(0)) ** 2))
    U = mu - mu.mean(0)
    U = U / np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-12)
    G = U @ U.T
    Gs = np.full((C, C), -1.0 / (C - 1))
    np.fill_diagonal(Gs, 1.0)
    return {
        "C": C,
        "d": int(Z.shape[1]),
        "invariance_ratio": within / total if total > 0 else 0.0,
        "affine_rank": affine_rank(mu, rtol),
        "span_rank": matrix_rank(mu, rtol),
        "simplex_distance": float(np.linalg.norm(G - Gs) / np.linalg.norm(Gs)),
    }


def ideal_log_loss(Z: np.ndarray, orbits: np.ndarray, iters: int = 300) -> dict[str, float]:
    """The ideal ISSL log loss of a representation (Dubois et al. 2022, Eq. 6).

    .. math::

        L_I(\\phi) = \\min_{\\|w_m\\| = 1} \\frac{1}{N} \\sum_i
            -\\log \\frac{\\exp(w_{M(x_i)}^\\top \\hat z_i)}{\\sum_{m'} \\exp(w_{m'}^\\top \\hat z_i)},
        \\qquad \\hat z_i = z_i / \\|z_i\\|

    (unit-norm representations and weights, temperature 1, uniform p_X: every input weighs 1/N),
    minimised over the C weights by the NumPy minimiser of ``idealssl derive``
    (:func:`idealssl.derive.logloss.minimise_ideal_log_loss`: multi-start L-BFGS on the sphere, at most
    ``iters`` iterations per start). With equiprobable orbits its minimum over representations is
    log(1 + (C-1) e^{-C/(C-1)}), reached at the regular simplex iff d >= C-1 (Prop. 3;
    theory/statements.md S4.2); the returned ``gap`` is L_I minus that optimum.
    """
    from ..derive.logloss import minimise_ideal_log_loss

    Z = np.asarray(Z, dtype=np.float64)
    orbits = np.asarray(orbits, dtype=np.int64)
    C = int(orbits.max()) + 1
    z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    w = np.full(len(z), 1.0 / len(z))
    val = minimise_ideal_log_loss(z, orbits, C, w, restarts=1, maxiter=iters, relaxation=False).value
    opt_val = ideal_log_loss_optimum(C)
    return {"ideal_log_loss": val, "optimum": opt_val, "gap": val - opt_val}


def worst_case_risk(p: ArrayLike, n: int) -> float:
    """W_n = sum_m p_m (1 - p_m)^n (Prop. 2 with a fixed orbit marginal p; theory/statements.md S3.1).

    It is the expected mass of the orbits that n i.i.d. labelled inputs leave unseen: the worst ERM
    on a sample-optimal encoder is right on every seen orbit and wrong on every unseen one. For
    equiprobable orbits it equals (1 - 1/C)^n.
    """
    return erm_risk(p, n)


def random_labellings(n_groups: int, n_tasks: int, n_labels: int, rng: np.random.Generator) -> np.ndarray:
    """``n_tasks`` random labellings of ``n_groups`` groups with ``n_labels`` labels, each using every label.

    Every such labelling is an invariant task (Def. 1) when the groups are orbits or unions of orbits.
    """
    n_labels = min(n_labels, n_groups)
    out = np.empty((n_tasks, n_groups), dtype=np.int64)
    for t in range(n_tasks):
        while True:
            lab = rng.integers(0, n_labels, size=n_groups)
            if np.unique(lab).size == n_labels:
                break
        out[t] = lab
    return out


def _features(Z: np.ndarray, probe: str) -> np.ndarray:
    """Probe input: affine probes see Z standardised over the whole world (an invertible affine map,
    which leaves affine separability unchanged); the bias-free probe only sees Z divided by its RMS
    (no centring, which would smuggle in a bias)."""
    Z = np.asarray(Z, dtype=np.float64)
    if probe == "linear-nobias":
        return Z / max(float(np.sqrt(np.mean(Z**2))), 1e-12)
    sd = Z.std(0)
    return (Z - Z.mean(0)) / np.where(sd > 1e-12, sd, 1.0)


def _fit_predict(F_tr, y_tr, F_te, probe: str, seed: int):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    labels = np.unique(y_tr)
    if labels.size == 1:
        return np.full(F_te.shape[0], labels[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if probe == "mlp":
            clf = MLPClassifier(hidden_layer_sizes=(64,), solver="lbfgs", alpha=1e-5, max_iter=300, random_state=seed)
        else:
            clf = LogisticRegression(C=1e3, max_iter=1000, fit_intercept=(probe == "linear"))
        clf.fit(F_tr, y_tr)
    return clf.predict(F_te)


def probe_tasks(
    Z: np.ndarray,
    orbits: np.ndarray,
    probe: str = "linear",
    n_tasks: int = 20,
    n_labels: Iterable[int] = (2, 5),
    shots: Sequence[int] = (),
    task_groups: np.ndarray | None = None,
    seed: int = 0,
) -> dict:
    """Probe accuracy on random invariant tasks, full-data and few-shot.

    Parameters
    ----------
    Z : array (N, d)
    orbits : int array (N,)
        The encoder's orbits (the partition used to count seen/unseen orbits and W_n).
    probe : {"linear", "linear-nobias", "mlp"}
        Affine logistic regression (C=1e3), the same without bias, or an MLP with one hidden layer
        of 64 ReLU units (L-BFGS, alpha=1e-5, 300 iterations).
    n_tasks : int
        Tasks per label count.
    n_labels : iterable of int
        Label counts of the random labellings (2: binary; capped at the number of groups).
    shots : sequence of int
        Few-shot training-set sizes n (n i.i.d. inputs drawn uniformly from X, labels from the task;
        one draw per task). Empty: full data only.
    task_groups : int array (C,), optional
        Tasks label these groups of orbits (e.g. the classes of a coarseness family); default: the
        orbits themselves, i.e. all invariant tasks.
    seed : int

    Returns
    -------
    dict
        ``full``: per label count, mean and min accuracy when training and testing on all N inputs,
        and the fraction of tasks fitted perfectly (population optimality, Def. 2, asks for 1.0).
        ``fewshot``: per n, mean error over tasks, mean error on inputs of seen / unseen orbits,
        the measured unseen mass and the theoretical W_n (Prop. 2 predicts: seen-orbit error 0 and
        error <= W_n for an ideal encoder, with equality for the worst ERM).
    """
    get_family(probe)  # InputError for an unknown family
    rng = np.random.default_rng(seed)
    orbits = np.asarray(orbits)
    C = int(orbits.max()) + 1
    groups = np.arange(C) if task_groups is None else np.asarray(task_groups)
    n_groups = int(groups.max()) + 1
    F = _features(Z, probe)
    N = F.shape[0]
    full = {}
    few: dict[int, list[tuple[float, float, float, float]]] = {n: [] for n in shots}
    for K in n_labels:
        tasks = random_labellings(n_groups, n_tasks, K, rng)
        accs = []
        for t, lab in enumerate(tasks):
            y = lab[groups[orbits]]
            accs.append(float(np.mean(_fit_predict(F, y, F, probe, seed + t) == y)))
            for n in shots:
                few[n].append(_fewshot_once(F, y, orbits, C, rng.integers(0, N, size=n), probe, seed + t))
        full[str(min(K, n_groups))] = {
            "mean_acc": float(np.mean(accs)),
            "min_acc": float(np.min(accs)),
            "frac_perfect": float(np.mean(np.asarray(accs) >= 1.0 - 1e-12)),
            "n_tasks": int(len(accs)),
        }
    p = np.bincount(orbits, minlength=C) / N
    return {"probe": probe, "full": full, "fewshot": {str(n): _fewshot_summary(few[n], p, n) for n in shots}}


def _fewshot_once(
    F: np.ndarray, y: np.ndarray, orbits: np.ndarray, C: int, tr: np.ndarray, probe: str, seed: int
) -> tuple[float, float, float, float]:
    """The probe fitted on the inputs ``tr`` and tested on all: error, error on inputs of seen orbits, on unseen
    orbits (0 when none is unseen), and the mass of the unseen orbits."""
    wrong = _fit_predict(F[tr], y[tr], F, probe, seed) != y
    seen = np.zeros(C, bool)
    seen[orbits[tr]] = True
    s = seen[orbits]
    unseen = float(wrong[~s].mean()) if (~s).any() else 0.0
    return float(wrong.mean()), float(wrong[s].mean()), unseen, float(np.mean(~s))


def _fewshot_summary(runs: list[tuple[float, float, float, float]], p: np.ndarray, n: int) -> dict[str, float]:
    """Means over tasks of :func:`_fewshot_once`'s figures, the standard error of the error, and W_n."""
    err, seen, unseen, mass = (np.asarray(col) for col in zip(*runs))
    return {
        "error": float(np.mean(err)),
        "error_sem": float(np.std(err) / math.sqrt(len(err))),
        "seen_orbit_error": float(np.mean(seen)),
        "unseen_orbit_error": float(np.mean(unseen)),
        "unseen_mass": float(np.mean(mass)),
        "W_n": worst_case_risk(p, n),
    }


def run_check(Z: np.ndarray, orbits: np.ndarray, probe: str = "linear", **kwargs) -> dict | None:
    """The checker's verdict (:func:`idealssl.check`) as a plain dict, or ``None`` when the
    checker is not installed. Errors from the checker are recorded, not raised."""
    try:
        from ..checker.api import check
    except ImportError:
        return None

    try:
        rep = check(np.asarray(Z, dtype=np.float64), np.asarray(orbits), probe=probe, **kwargs)
    except Exception as exc:  # recorded in the results: a checker failure is a finding too
        return {"error": f"{type(exc).__name__}: {exc}"}
    out: dict[str, Any] = {"ideal": bool(rep.ideal)}
    try:
        out["conditions"] = {
            k: {"holds": bool(c.holds), "value": plain(c.value), "threshold": plain(c.threshold)}
            for k, c in rep.conditions.items()
        }
    except Exception:  # pragma: no cover - depends on the checker's report type
        out["report"] = plain(rep.to_dict()) if hasattr(rep, "to_dict") else str(rep)
    return out
