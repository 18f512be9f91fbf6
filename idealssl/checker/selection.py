"""Label-free scores of one orbit set, for choosing among encoders without labels (``idealssl select``).

One orbit set (points Z, orbit labels: the inputs of ``idealssl check`` and of a run's ``RUN/check/``) gives every
score in :data:`SCORES`: the theory's soft scores (theory/statements.md S10.5, from :mod:`.certified`) and the
spectral scores of the literature (RankMe, LiDAR, α-ReQ, from :mod:`idealssl.label_free`). Each score has a value,
a ranking key (larger is better), its parts, its definition with its constants, and what it predicts.
NumPy and SciPy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import label_free as lf
from ..errors import InputError
from . import certified as cert

#: the deviation quantile α of the theory's pair and margin scores (the α-core: the half of each orbit nearest its code)
CORE_QUANTILE = 0.5


@dataclass(frozen=True)
class Score:
    """One label-free score: ``name``, ``family`` (``theory`` or ``spectral``), ``definition`` (with its constants),
    ``predicts`` (what the theory or the paper says it predicts) and ``compute(Z, labels, prob) -> (value, parts)``;
    ``key(value)`` orders runs, larger is better."""

    name: str
    family: str
    definition: str
    predicts: str
    compute: Callable[[np.ndarray, np.ndarray, cert.Problem], tuple[float, dict[str, Any]]]
    key: Callable[[float], float] = lambda v: v


def _finite_median(r: np.ndarray) -> float:
    return float(np.median(r)) if len(r) else math.nan


def _pair_ratio(Z, labels, prob):
    r = cert.pair_ratios(prob, CORE_QUANTILE)
    r1 = cert.pair_ratios(prob, 1.0)
    parts = {
        "median_ratio_q1": _finite_median(r1),
        "pairs_certified_q0.5": float((r > 1).mean()) if len(r) else math.nan,
        "pairs_certified_q1": float((r1 > 1).mean()) if len(r1) else math.nan,
        "pairs": int(len(r)),
    }
    return _finite_median(r), parts


def _pair_separation(Z, labels, prob):
    s = cert.pair_separation(prob, CORE_QUANTILE)
    return s["pairs"], {"orbits_certified": s["orbits"], "quantile": CORE_QUANTILE}


def _margin_ratio(Z, labels, prob):
    m = cert.margin_radius_ratio(prob, quantiles=(CORE_QUANTILE, 1.0))
    return m[f"q{CORE_QUANTILE:g}"], {"ratio_q1": m["q1"], "gamma": cert.code_margin(prob.codes, prob.probe).lower}


def _multiscale(Z, labels, prob):
    m = cert.multiscale_certified(prob, n_subsets=16)
    return m["area"], {"scale": m["scale"], "per_k": {str(r["k"]): r["certified"] for r in m["scales"]}}


def _certified_mass(Z, labels, prob):
    return cert.certified_mass(prob, "population"), {}


def _rankme(Z, labels, prob):
    return lf.rankme(Z), {"d": int(Z.shape[1]), "N": int(Z.shape[0])}


def _lidar(Z, labels, prob):
    res = lf.lidar(Z, labels)
    top = float(res.eigenvalues[0]) if len(res.eigenvalues) else 0.0
    return res.value, {
        "n_classes": res.n_classes,
        "top_eigenvalue": top,
        "max_rank": min(Z.shape[1], res.n_classes - 1),
    }


def _alpha_req(Z, labels, prob):
    res = lf.alpha_req(Z)
    return res.alpha, {"r2": res.r2, "ranks": list(res.ranks) if res.ranks else None, "n_positive": res.n_positive}


SCORES: dict[str, Score] = {
    s.name: s
    for s in (
        Score(
            "pair_ratio",
            "theory",
            f"median over orbit pairs of 2γ_mm'/(ε_m + ε_m') (γ_mm' the pair's exact margin, ε_m the radius of the "
            f"{CORE_QUANTILE:g}-core of orbit m; without bias γ/max ε), S10.5",
            "pairwise separability of orbits by the probe family with margin to spare; above 1 the median pair is "
            "certified (S10.2 on the pair)",
            _pair_ratio,
        ),
        Score(
            "pair_separation",
            "theory",
            f"share of orbit pairs certified, each orbit by its {CORE_QUANTILE:g}-core (S10.5, population test)",
            "binary discriminability of orbits: the quantity behind k-NN and pairwise probe accuracy",
            _pair_separation,
        ),
        Score(
            "margin_ratio",
            "theory",
            f"γ_F/ε_α of the whole problem, α = {CORE_QUANTILE:g} (γ_F by code_margin: exact for C ≤ 12, "
            "else the cheap lower bound), S10.5",
            "above 1 at α = 1 every invariant task is fitted on every point (S10.2); 0 when C > d + 1 for linear "
            "probes",
            _margin_ratio,
        ),
        Score(
            "multiscale",
            "theory",
            "mean over k = 2, 4, 8, … ≤ min(C, d + 1) of the share of 16 random k-orbit sub-problems that meet the "
            "n-shot premise δ + ε < γ (S10.3, S10.5), numpy seed 0",
            "how many classes few-shot linear probes on orbit-level tasks handle with certified error",
            _multiscale,
        ),
        Score(
            "certified_mass",
            "theory",
            "mass of the largest core with ε(r) < γ_F of all C codes (S10.2, S10.5)",
            "a floor on the accuracy of fully trained probes on every invariant task (0 far from ideal)",
            _certified_mass,
        ),
        Score(
            "rankme",
            "spectral",
            "RankMe: exp(−Σ p log p), p_k = σ_k(Z)/‖σ‖₁ + 1e-7, over all views, not centred (Garrido et al. 2023)",
            "downstream (linear-probe) accuracy rises with the effective rank of the embedding (the paper's claim)",
            _rankme,
        ),
        Score(
            "lidar",
            "spectral",
            "LiDAR: effective rank (ε = 1e-8) of Σ_w^(−1/2) Σ_b Σ_w^(−1/2) on the surrogate task (an orbit = a "
            "class), Σ_b over the orbit means /(n−1), Σ_w pooled /(N−n) + 1e-4 I (Thilak et al. 2024)",
            "linear-probe accuracy across hyperparameters of one method (the paper's claim)",
            _lidar,
        ),
        Score(
            "alpha_req",
            "spectral",
            "α-ReQ: α of λ_k ∝ k^(−α) fitted to the eigenvalues of Z's covariance by least squares in log-log space, "
            "weights 1/k, ranks 6..100 (Agrawal et al. 2022); ranked by −|α − 1|",
            "α near 1 goes with the best downstream accuracy (the paper's claim); NaN when < 3 ranks can be fitted",
            _alpha_req,
            key=lambda v: -abs(v - 1.0) if math.isfinite(v) else -math.inf,
        ),
    )
}
#: the score ``idealssl select`` ranks by unless told otherwise
DEFAULT_SCORE = "pair_ratio"


def score_names(which: str | list[str] | None = None) -> list[str]:
    """The names ``which`` asks for (None or ``all``: every score), validated."""
    if which is None or which == "all":
        return list(SCORES)
    names = [which] if isinstance(which, str) else list(which)
    for n in names:
        if n not in SCORES:
            raise InputError(f"unknown score {n!r}; choose from {', '.join(SCORES)}")
    return names


def score_orbit_set(Z, labels, probe: str = "linear", which: str | list[str] | None = None) -> dict[str, Any]:
    """Every score of ``which`` on one orbit set.

    Parameters
    ----------
    Z : array (N, d)
    labels : sequence of N orbit labels
    probe : ``linear`` | ``linear-nobias`` | ``mlp``
        The probe family of the theory's scores (their geometry: S10.1).
    which : score name, list of names, or None for all (:data:`SCORES`)

    Returns
    -------
    dict
        name -> {``value``, ``key`` (larger is better), ``family``, ``parts``, ``definition``, ``predicts``}.
    """
    names = score_names(which)
    Zf = lf.as_points(Z)
    prob = cert.problem(Zf, labels, probe)
    out = {}
    for n in names:
        s = SCORES[n]
        value, parts = s.compute(Zf, prob.labels, prob)
        out[n] = {
            "value": float(value),
            "key": float(s.key(float(value))),
            "family": s.family,
            "parts": parts,
            "definition": s.definition,
            "predicts": s.predicts,
        }
    return out
