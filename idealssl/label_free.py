"""Label-free spectral scores of a representation: RankMe, LiDAR and α-ReQ (NumPy and SciPy only).

All three read the points Z (N × d) of an orbit set, LiDAR also its orbit labels (the surrogate task where the
views of one source image form one class): the inputs of ``idealssl check`` and of a run's ``RUN/check/``.
The theory's own scores on the same orbit set (theory/statements.md S10.5) live beside the checker
(:mod:`idealssl.checker.selection`, which also bundles these three).

* :func:`effective_rank` — exp(−Σ_k p_k log p_k), p_k = v_k/‖v‖₁ + ε, the entropy rank that RankMe and LiDAR
  share.
* :func:`rankme` — RankMe (Garrido, Balestriero, Najman and LeCun, ICML 2023, eq. 1): the effective rank of the
  singular values σ_k of Z (not centred), ε = 1e-7.
* :func:`lidar` — LiDAR (Thilak et al., ICLR 2024, Sec. 3): the effective rank of the eigenvalues of
  Σ_lidar = Σ_w^(−1/2) Σ_b Σ_w^(−1/2) of the surrogate task (δ = 1e-4 on Σ_w, ε = 1e-8).
* :func:`alpha_req` — α-ReQ (Agrawal, Mondal, Ghosh and Richards, NeurIPS 2022): the exponent α of the power law
  λ_k ∝ k^(−α) fitted to the eigenvalues of Z's covariance, by the authors' weighted least squares in log–log
  space over ranks 6..100.

:mod:`idealssl.metrics` (torch) computes RankMe through :func:`effective_rank`, so the two agree by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import entr

from .errors import InputError
from .inputs.orbits import orbits_from_labels
from .inputs.representation import validate_header

#: RankMe's ε (Garrido et al. 2023, eq. 1; the same in their code)
RANKME_EPS = 1e-7
#: LiDAR's ridge δ on the within-class covariance (Thilak et al. 2024, Sec. 3)
LIDAR_DELTA = 1e-4
#: LiDAR's ε in p_k = λ_k/‖λ‖₁ + ε (Thilak et al. 2024, Sec. 3)
LIDAR_EPS = 1e-8
#: α-ReQ's fitting range, eigenvalue ranks lo..hi inclusive (1-based; Agrawal et al.'s code fits indices 5..99)
ALPHA_RANKS = (6, 100)


def as_points(Z, what: str = "Z") -> np.ndarray:
    """Z as a float64 (N, d) array: real, 2-D, non-empty and finite, else :class:`InputError` (one line)."""
    arr = np.asarray(Z)
    validate_header(arr.shape, arr.dtype, what)
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        raise InputError(f"{what}: holds a non-finite value in row {int(np.argmin(np.isfinite(arr).all(axis=1)))}")
    return arr


def effective_rank(values, eps: float) -> float:
    """exp(H(p)) with p_k = v_k / max(‖v‖₁, ε) + ε over non-negative ``values`` v (Roy and Vetterli 2007's entropy
    rank with the ε of RankMe and LiDAR).

    Equals r when v has r equal non-zero entries and ε = 0; the ε keeps the logarithm finite on zeros and, with
    the clamp of the sum, makes a zero spectrum give exp(−d ε log ε) ≈ 1 (collapse), not NaN.
    """
    v = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0:
        raise InputError("effective_rank needs at least one value")
    total = max(float(v.sum()), eps)
    p = (v / total if total > 0 else v) + eps
    return float(np.exp(entr(p).sum()))  # entr(p) = −p log p, 0 at p = 0


def rankme(Z, eps: float = RANKME_EPS) -> float:
    """RankMe of the points Z (N × d): exp(−Σ p_k log p_k), p_k = σ_k(Z)/‖σ(Z)‖₁ + ε.

    Parameters
    ----------
    Z : array (N, d)
        Embeddings, not centred (as in the paper).
    eps : float
        ε (default 1e-7, the paper's).

    Returns
    -------
    float
        Between about 1 (all points on one line through the origin) and min(N, d); invariant under rotations
        and under scaling of Z.

    References
    ----------
    Garrido, Balestriero, Najman and LeCun, "RankMe: Assessing the downstream performance of pretrained
    self-supervised representations by their rank", ICML 2023, eq. (1).
    """
    return effective_rank(np.linalg.svd(as_points(Z), compute_uv=False), eps)


@dataclass(frozen=True)
class Lidar:
    """Result of :func:`lidar`: ``value`` (the effective rank), ``eigenvalues`` of Σ_lidar (descending),
    ``n_classes`` n, ``n_points`` N, ``delta``, ``eps``."""

    value: float
    eigenvalues: np.ndarray
    n_classes: int
    n_points: int
    delta: float
    eps: float


def lda_scatter(Z, labels) -> tuple[np.ndarray, np.ndarray, int]:
    """(Σ_b, Σ_w, n) of the surrogate task whose classes are the orbits of ``labels`` (Thilak et al., Sec. 3).

    Σ_b = 1/(n−1) Σ_i (μ_i − μ)(μ_i − μ)ᵀ over the n class means μ_i, μ their plain mean; Σ_w = 1/(N − n)
    Σ_i Σ_{j∈i} (z_j − μ_i)(z_j − μ_i)ᵀ, the pooled within-class covariance (1/(n(q−1)) for n classes of q views,
    the paper's form). Needs n ≥ 2 and N > n.
    """
    X = as_points(Z)
    orb = orbits_from_labels(labels, source="labels")
    if orb.n != len(X):
        raise InputError(f"labels cover {orb.n} points but Z has N = {len(X)} rows")
    n, lab = orb.n_orbits, orb.labels
    if n < 2:
        raise InputError(f"LiDAR needs at least 2 orbits (classes of the surrogate task), got {n}")
    if len(X) <= n:
        raise InputError(f"LiDAR needs an orbit with at least 2 points (N = {len(X)}, {n} orbits)")
    sizes = np.bincount(lab, minlength=n).astype(np.float64)
    means = np.zeros((n, X.shape[1]))
    np.add.at(means, lab, X)
    means /= sizes[:, None]
    B = means - means.mean(axis=0)
    W = X - means[lab]
    return B.T @ B / (n - 1), W.T @ W / (len(X) - n), n


def lidar(Z, labels, delta: float = LIDAR_DELTA, eps: float = LIDAR_EPS) -> Lidar:
    """LiDAR of an orbit set: the effective rank of Σ_lidar = Σ_w(δ)^(−1/2) Σ_b Σ_w(δ)^(−1/2), Σ_w(δ) = Σ_w + δ I.

    Parameters
    ----------
    Z : array (N, d)
        The points (views).
    labels : sequence of N orbit labels
        The surrogate classes: the views of one source image share a label.
    delta : float
        δ ≥ 0, the ridge on Σ_w (default 1e-4, the paper's); δ = 0 needs Σ_w invertible.
    eps : float
        ε of :func:`effective_rank` (default 1e-8, the paper's).

    Returns
    -------
    Lidar
        ``value`` = exp(−Σ p_k log p_k), p_k = λ_k/‖λ‖₁ + ε over the eigenvalues λ_k ≥ 0 of Σ_lidar (Σ_b, Σ_w from
        :func:`lda_scatter`). At most min(d, n − 1) eigenvalues are non-zero. Invariant under rotations of Z and
        translations; with δ = 0 under every invertible linear map (LDA's invariance), with δ > 0 under the scaling
        Z → cZ only together with δ → c²δ (the ridge has the units of a variance).

    References
    ----------
    Thilak, Huang, Saremi, Dinh, Goh, Nakkiran, Susskind and Littwin, "LiDAR: Sensing linear probing performance
    in joint embedding SSL architectures", ICLR 2024, Sec. 3.
    """
    if not (isinstance(delta, (int, float)) and math.isfinite(delta) and delta >= 0):
        raise InputError(f"delta must be a finite number >= 0, got {delta!r}")
    Sb, Sw, n = lda_scatter(Z, labels)
    w, V = np.linalg.eigh(Sw + delta * np.eye(len(Sw)))
    if w.min() <= w.max() * len(w) * np.finfo(np.float64).eps:
        raise InputError("LiDAR: the within-orbit covariance is singular; give a ridge delta > 0")
    R = (V / np.sqrt(w)) @ V.T  # Σ_w(δ)^(−1/2)
    lam = np.clip(np.linalg.eigvalsh(R @ Sb @ R), 0.0, None)[::-1]
    return Lidar(effective_rank(lam, eps), lam, n, len(np.asarray(Z)), float(delta), float(eps))


@dataclass(frozen=True)
class AlphaReq:
    """Result of :func:`alpha_req`: ``alpha`` (NaN when fewer than 3 ranks can be fitted), ``r2`` of the fit in
    log–log space, ``ranks`` (lo, hi) fitted (None when none), ``n_positive`` eigenvalues above round-off."""

    alpha: float
    r2: float
    ranks: tuple[int, int] | None
    n_positive: int


def alpha_req(Z, ranks: tuple[int, int] = ALPHA_RANKS) -> AlphaReq:
    """α-ReQ: the decay exponent α of the eigenspectrum λ_1 ≥ λ_2 ≥ … of the covariance of Z, λ_k ≈ c k^(−α).

    (log c, α) minimise Σ_k w_k (log λ_k − log c + α log k)² with w_k = 1/k over the ranks k = lo..hi of ``ranks``
    clipped to the eigenvalues above round-off (λ_k > λ_1 · max(N, d) · 2⁻⁵²); the weights and the default range
    6..100 are the authors' code's (after Stringer et al., Nature 2019). Scale and rotation invariant. The paper
    reads α near 1 as best (smaller: noisy, whitened features; larger: collapsing ones).

    Returns
    -------
    AlphaReq
        α NaN (and ``ranks`` None) when fewer than 3 ranks remain, e.g. a representation of rank ≤ lo + 1.

    References
    ----------
    Agrawal, Mondal, Ghosh and Richards, "α-ReQ: Assessing representation quality in self-supervised learning by
    measuring eigenspectrum decay", NeurIPS 2022.
    """
    lo, hi = (int(r) for r in ranks)
    if not 1 <= lo <= hi:
        raise InputError(f"ranks must be 1 <= lo <= hi, got {ranks!r}")
    X = as_points(Z)
    if len(X) < 2:
        raise InputError("alpha_req needs at least 2 points")
    lam = np.linalg.svd(X - X.mean(axis=0), compute_uv=False) ** 2 / (len(X) - 1)
    pos = int((lam > lam[0] * max(X.shape) * np.finfo(np.float64).eps).sum()) if lam[0] > 0 else 0
    hi = min(hi, pos)
    if hi - lo + 1 < 3:
        return AlphaReq(math.nan, math.nan, None, pos)
    k = np.arange(lo, hi + 1, dtype=np.float64)
    y = np.log(lam[lo - 1 : hi])
    A = np.stack([-np.log(k), np.ones_like(k)], axis=1)
    sw = np.sqrt(1.0 / k)
    coef = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)[0]
    resid = y - A @ coef
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss if ss > 0 else 1.0
    return AlphaReq(float(coef[0]), r2, (lo, hi), pos)
