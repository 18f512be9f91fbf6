"""VJE's directional factor intrinsically on the sphere (RECONSTRUCTED form; see theory/objectives.md, VJE).

The OpenReview change note of Oji & Fieguth (TMLR 2026, arXiv 2602.05639) says the directional construction
uses "a normalized reference model and a subnormalized directional term used in training", with the ELBO
stated for the associated subprobability model. The equations are not available; this module realises that
sentence with one concrete pair:

* **normalised reference model** :func:`angular_t_log_density`: the *angular* (projected) Student-t, the law
  of y/||y|| for y ~ t_nu(m, diag s^2) in R^D, whose density on S^{D-1} is

  .. math:: p_{ref}(u) = \\int_0^\\infty r^{D-1}\\, t_\\nu(r u;\\, m, \\mathrm{diag}\\, s^2)\\, dr

  (a probability density on the sphere by construction; computed by 1-D quadrature, for scoring);
* **subnormalised training term** :func:`angular_t_log_lower`: a closed-form lower bound of p_ref at every u
  (so it integrates to at most 1 over the sphere: a subprobability density). With
  Q(r) = (ru - m)^T S^{-1} (ru - m) = Q* + a (r - r*)^2, a = u^T S^{-1} u, b = u^T S^{-1} m,
  r* = b / a, Q* = m^T S^{-1} m - b^2 / a, p = (nu + D) / 2, it is the larger of

  .. math:: B_1 = C\\, r_*^{D-1} (1 + Q_*/\\nu)^{-p} \\sqrt{(\\nu + Q_*)/a}\\,
            \\tfrac{\\sqrt\\pi\\,\\Gamma(p - 1/2)}{2\\,\\Gamma(p)} \\quad (r_* > 0;\\ \\text{the half-line } r \\ge r_*)

  .. math:: B_2 = C\\, (1 + \\delta^2/\\nu)^{-p} (1 - r_+^D) / D \\quad (r_+ = \\max(r_*, 0) < 1;\\ r \\in [r_+, 1])

  with C = exp(c_nu(D)) / prod_j s_j the R^D Student-t constant and delta^2 = Q(1) = sum_j (u_j - m_j)^2 / s_j^2.
  For a well-predicted target (r* near 1, Q* small) B_1 is a (D-1)-dimensional Student-t in the tangent
  directions: its log-scale term is about -(D-1) log s, not the -D log s of the R^D constant.
"""

from __future__ import annotations

import math

import torch

from .base import float32_loss

__all__ = ["t_log_norm", "angular_t_log_lower", "angular_t_log_density", "angular_quadratics"]


def t_log_norm(nu: torch.Tensor, d: int) -> torch.Tensor:
    """log of the multivariate Student-t normaliser in R^d: lgamma((nu+d)/2) - lgamma(nu/2) - d/2 log(nu pi)."""
    return torch.lgamma((nu + d) / 2) - torch.lgamma(nu / 2) - d / 2 * torch.log(nu * math.pi)


def angular_quadratics(u: torch.Tensor, m: torch.Tensor, logvar: torch.Tensor):
    """(a, b, c) = (u^T S^-1 u, u^T S^-1 m, m^T S^-1 m) with S = diag(exp(logvar)); each shape (...,)."""
    w = torch.exp(-logvar)
    return (u * u * w).sum(-1), (u * m * w).sum(-1), (m * m * w).sum(-1)


@float32_loss
def angular_t_log_lower(u: torch.Tensor, m: torch.Tensor, logvar: torch.Tensor, nu) -> torch.Tensor:
    """Subnormalised directional log-density log max(B_1, B_2) <= log p_ref(u) (module docstring), shape (...,).

    u : unit target directions (..., D); m : unit locations (..., D) (broadcast against u);
    logvar : log s^2, the posterior's feature-wise variances (shared scale) (..., D); nu : degrees of freedom.
    """
    u, m, logvar = u.float(), m.float(), logvar.float()
    nu = torch.as_tensor(nu, dtype=u.dtype, device=u.device)
    d = u.shape[-1]
    p = (nu + d) / 2
    a, b, c = angular_quadratics(u, m, logvar)
    log_c = t_log_norm(nu, d) - 0.5 * logvar.sum(-1)
    r_star = b / a
    q_star = (c - b * b / a).clamp_min(0.0)
    pos = r_star > 0
    safe_r = torch.where(pos, r_star, torch.ones_like(r_star))
    half = math.log(0.5 * math.sqrt(math.pi)) + torch.lgamma(p - 0.5) - torch.lgamma(p)
    b1 = log_c + (d - 1) * safe_r.log() - p * torch.log1p(q_star / nu) + 0.5 * torch.log((nu + q_star) / a) + half
    b1 = torch.where(pos, b1, torch.full_like(b1, -math.inf))
    delta2 = (a - 2 * b + c).clamp_min(0.0)
    r_plus = r_star.clamp(0.0, 1.0)
    inner = (1 - r_plus.pow(d)).clamp_min(1e-30)
    b2 = log_c - p * torch.log1p(delta2 / nu) + inner.log() - math.log(d)
    b2 = torch.where(r_star < 1, b2, torch.full_like(b2, -math.inf))
    return torch.maximum(b1, b2)


@torch.no_grad()
def angular_t_log_density(
    u: torch.Tensor, m: torch.Tensor, logvar: torch.Tensor, nu, n_grid: int = 4096, chunk: int = 256
) -> torch.Tensor:
    """Normalised reference model: log p_ref(u) of the angular Student-t (module docstring), shape (N,).

    Quadrature in float64 after the substitution r = r* + w sinh(v), w = sqrt((nu + Q*)/a), which turns the
    radial integrand into C (1 + Q*/nu)^{-p} cosh(v)^{1-2p} r^{D-1} w (smooth, tails ~ exp(-nu v)); trapezoid on
    ``n_grid`` points from v_lo = asinh(-r*/w) (r = 0) to where the tail is below e^-50. u, m, logvar: (N, D).
    """
    out = []
    for i in range(0, u.shape[0], chunk):
        out.append(
            _angular_chunk(
                u[i : i + chunk].double(), m[i : i + chunk].double(), logvar[i : i + chunk].double(), float(nu), n_grid
            )
        )
    return torch.cat(out).to(u.dtype)


def _angular_chunk(u, m, logvar, nu: float, n_grid: int) -> torch.Tensor:
    d = u.shape[-1]
    p = (nu + d) / 2
    a, b, c = angular_quadratics(u, m, logvar)
    r_star = b / a
    q_star = (c - b * b / a).clamp_min(0.0)
    w = torch.sqrt((nu + q_star) / a)
    v_lo = torch.asinh(-r_star / w)
    v_hi = v_lo.clamp_min(0.0) + torch.log1p(2 * r_star.abs() / w) + 50.0 / min(nu, 50.0) + 5.0
    t = torch.linspace(0.0, 1.0, n_grid, dtype=u.dtype, device=u.device)
    v = v_lo[:, None] + (v_hi - v_lo)[:, None] * t[None]
    r = (r_star[:, None] + w[:, None] * torch.sinh(v)).clamp_min(1e-300)
    log_f = (1 - 2 * p) * torch.log(torch.cosh(v)) + (d - 1) * torch.log(r)
    lw = torch.full_like(log_f, 0.0)
    lw[:, 0] = lw[:, -1] = math.log(0.5)
    log_int = torch.logsumexp(log_f + lw, dim=1) + torch.log((v_hi - v_lo) / (n_grid - 1))
    nu_t = torch.tensor(nu, dtype=u.dtype)
    log_c = t_log_norm(nu_t, d) - 0.5 * logvar.sum(-1)
    return log_c - p * torch.log1p(q_star / nu) + torch.log(w) + log_int
