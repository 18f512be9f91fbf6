"""VJE: variational joint embedding, a symmetric conditional ELBO on embeddings (RECONSTRUCTED form).

Oji & Fieguth, "Joint Embedding Variational Bayes", TMLR 2026 (arXiv 2602.05639). The paper's equations
were not available; the structure below (symmetric conditional ELBO, polar Student-t likelihood with
direction and radius factored, diagonal Gaussian amortised posterior whose variances are the directional
likelihood's feature-wise scale, stop-gradient target, degrees of freedom as a parameter) is what the
abstract and the authors' statements say; every exact form (densities, normalisers, radial factor,
prior, weights) is a reconstruction, documented in theory/objectives.md (VJE) and theory/statements.md
(S8).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn

from .base import Objective, ObjectiveOutput, float32_loss, register
from .distributed import gather
from .heads import MLP

__all__ = ["VJE", "gaussian_kl", "directional_log_lik", "radial_log_lik", "vje_elbo"]


def _t_log_norm(nu: torch.Tensor, d: int) -> torch.Tensor:
    """log of the multivariate Student-t normaliser in R^d: lgamma((nu+d)/2) - lgamma(nu/2) - d/2 log(nu pi)."""
    return torch.lgamma((nu + d) / 2) - torch.lgamma(nu / 2) - d / 2 * torch.log(nu * math.pi)


@float32_loss
def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) = 1/2 sum_j (s_j^2 + mu_j^2 - 1 - log s_j^2), shape (N,)."""
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(-1)


@float32_loss
def directional_log_lik(u: torch.Tensor, m: torch.Tensor, logvar: torch.Tensor, nu) -> torch.Tensor:
    """Directional factor (RECONSTRUCTED): anisotropic Student-t kernel of the target direction u around m.

    .. math:: \\log p_{dir}(u \\mid m, s) = c_\\nu(D) - \\tfrac12 \\sum_j \\log s_j^2
       - \\frac{\\nu + D}{2} \\log\\Big(1 + \\frac1\\nu \\sum_j \\frac{(u_j - m_j)^2}{s_j^2}\\Big)

    u, m unit vectors (N, D); s^2 = exp(logvar), the posterior variances (shared scale); c_nu(D) the
    R^D multivariate-t normaliser (the paper's subnormaliser on the sphere is unknown). Shape (N,).
    """
    nu = torch.as_tensor(nu, dtype=u.dtype, device=u.device)
    d = u.shape[-1]
    maha = ((u - m).pow(2) * torch.exp(-logvar)).sum(-1)
    return _t_log_norm(nu, d) - 0.5 * logvar.sum(-1) - 0.5 * (nu + d) * torch.log1p(maha / nu)


@float32_loss
def radial_log_lik(log_r: torch.Tensor, loc: torch.Tensor, log_tau: torch.Tensor, nu) -> torch.Tensor:
    """Radial factor (RECONSTRUCTED): univariate Student-t on the log-norm, as a density of r = ||y||.

    .. math:: \\log p_{rad}(r) = c_\\nu(1) - \\log\\tau - \\frac{\\nu+1}{2}
       \\log\\Big(1 + \\frac{(\\log r - \\ell)^2}{\\nu \\tau^2}\\Big) - \\log r

    with location l = log||z|| and a learned scalar scale tau (the last term is the Jacobian of log r).
    Shape (N,).
    """
    nu = torch.as_tensor(nu, dtype=log_r.dtype, device=log_r.device)
    dr = (log_r - loc) / log_tau.exp()
    return _t_log_norm(nu, 1) - log_tau - 0.5 * (nu + 1) * torch.log1p(dr.pow(2) / nu) - log_r


@float32_loss
def vje_elbo(mu: torch.Tensor, logvar: torch.Tensor, target: torch.Tensor, nu, log_tau: torch.Tensor,
             beta: float = 1.0, lambda_radial: float = 1.0, noise: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, dict]:
    """Per-sample conditional ELBO of one ordered pair context -> target (RECONSTRUCTED form).

    .. math:: \\mathrm{ELBO}_{a\\to b} = \\mathbb E_{q(z|h_a)}\\big[\\log p_{dir}(u_b \\mid z/\\|z\\|, s_a)
       + \\lambda_r \\log p_{rad}(r_b \\mid \\log\\|z\\|)\\big] - (D-1)\\log r_b - \\beta\\,\\mathrm{KL}(q(z|h_a)\\,\\|\\,\\mathcal N(0, I))

    with y_b = sg(h_b) = r_b u_b (polar decomposition; -(D-1) log r_b is the polar Jacobian, constant in
    the parameters), q(z|h_a) = N(mu_a, diag s_a^2), and the expectation estimated with
    z = mu + s * eps for each of the S noise draws in ``noise`` (S, N, D); ``noise=None`` uses z = mu
    (plug-in). Returns the (N,) ELBO (a bound on the log-density of y_b in R^D) and a dict of per-sample
    terms ``log_dir``, ``log_rad``, ``kl`` and ``jacobian`` (= -(D-1) log r_b; subtract it for the bound on
    the density of the polar coordinates (u_b, r_b), as :meth:`VJE.score` does by default).
    """
    y = target.detach().float()
    mu, logvar = mu.float(), logvar.float()
    d = y.shape[-1]
    r_y = y.norm(dim=-1).clamp_min(1e-12)
    u = y / r_y[:, None]
    if noise is None:
        zs = mu[None]
    else:
        zs = mu[None] + torch.exp(0.5 * logvar)[None] * noise.to(mu)
    r_z = zs.norm(dim=-1).clamp_min(1e-12)
    m = zs / r_z[..., None]
    log_dir = torch.stack([directional_log_lik(u, m[k], logvar, nu) for k in range(zs.shape[0])]).mean(0)
    log_rad = torch.stack([radial_log_lik(r_y.log(), r_z[k].log(), log_tau, nu) for k in range(zs.shape[0])]).mean(0)
    kl = gaussian_kl(mu, logvar)
    jac = -(d - 1) * r_y.log()
    elbo = log_dir + lambda_radial * log_rad + jac - beta * kl
    return elbo, {"log_dir": log_dir, "log_rad": log_rad, "kl": kl, "jacobian": jac}


@register("vje")
class VJE(Objective):
    """VJE (Oji & Fieguth, TMLR 2026, "Joint Embedding Variational Bayes", arXiv 2602.05639; the official
    code was not found). **The exact form here is reconstructed** (see the module docstring and
    theory/objectives.md): only the structure is from the paper's abstract and the authors' statements.

    An inference network g (MLP) maps the context embedding h_a to a diagonal Gaussian posterior
    q(z|h_a) = N(mu_a, diag s_a^2) over a latent z in R^D (D = ``dim``); the stop-gradient target
    embedding y_b = sg(h_b) is modelled in polar form y = r u by a Student-t direction on the sphere around
    z/||z|| whose feature-wise scale is the posterior's s_a (shared, no extra head) and a Student-t radius
    (on log r) around log||z||. The loss is the negative symmetric conditional ELBO:

    .. math:: \\mathcal L = -\\frac{1}{D\\,|P|} \\sum_{(a,b) \\in P} \\frac1N \\sum_n \\mathrm{ELBO}_{a \\to b}^{(n)},
       \\quad \\mathrm{ELBO}_{a\\to b} = \\mathbb E_q[\\log p_{dir} + \\lambda_r \\log p_{rad}]
       - (D-1)\\log r_b - \\beta\\, \\mathrm{KL}(q \\| \\mathcal N(0, I))

    P = ordered pairs (a, b), b a global view, a any other view ((1,2) and (2,1) for two views);
    :func:`vje_elbo`, :func:`directional_log_lik`, :func:`radial_log_lik`, :func:`gaussian_kl`.

    Parameters (reconstructed defaults, not the paper's: none were recoverable)
    ------------------------------------------------------------------------
    dim : int
    hidden_dim : int or None, default None
        Width of the inference network's hidden layer (Linear -> BN -> ReLU -> Linear(., 2D));
        None means max(dim // 4, 8) (a SimSiam-predictor-like bottleneck).
    nu : float, default 5.0
        Student-t degrees of freedom (the paper reports failure in the Gaussian limit nu -> inf).
    learn_nu : bool, default False
        Learn log nu as a parameter.
    beta : float, default 1.0
        KL weight (1 = the ELBO).
    lambda_radial : float, default 1.0
        Weight of the radial factor (1 = the ELBO).
    learn_radial_scale : bool, default True
        Learn the radial scale tau (initialised at 1); else tau = 1.
    n_samples : int, default 1
        Monte Carlo samples of z per pair in training (0: plug-in z = mu, deterministic).
    logvar_min, logvar_max : float, default -10, 5
        Clamp of log s^2.
    normalize_by_dim : bool, default True
        Divide the loss by D (a learning-rate rescaling only).
    gather : bool, default True
        Inference-network batch-norm statistics and the reported mean over all processes.

    Anomaly score
    -------------
    ``score(views, n_samples=8, generator=None, jacobian=False) -> Tensor[B]``: per-sample negative ELBO
    in nats (not divided by D) of the target in polar coordinates (u_b, r_b), i.e. without the polar
    Jacobian -(D-1) log r_b, averaged over the ordered view pairs P and over ``n_samples`` draws of z
    (0: plug-in z = mu); higher = more anomalous. The Jacobian is excluded by default because it is a
    function of the target norm alone, independent of every parameter: with D = 64 it outweighs the
    fitted terms (on digits it was ~94 % of the score's spread across samples) and makes the score of a
    head fitted on class c the same norm ranking for every c (mean one-class AUROC 0.50 by
    construction). ``jacobian=True`` gives the bound on the density of y_b in R^D. Runs without gradient in the module's current mode:
    call ``.eval()`` first so batch norm uses running statistics and the score of a sample does not depend
    on its batch. ``views``: list of V >= 2 tensors (B, dim) (online encoder embeddings of V augmented
    views of the B inputs; average over several calls for more augmentation pairs).

    Logs: ``loss``, ``elbo`` (mean per-sample ELBO, nats), ``log_dir``, ``log_rad``, ``kl``,
    ``mean_logvar``, ``radial_scale``, ``nu``.

    Examples
    --------
    >>> obj = build("vje", dim=64, nu=5.0)
    >>> out = obj([torch.randn(16, 64), torch.randn(16, 64)]); out.loss.backward()
    >>> anomaly = obj.eval().score([torch.randn(16, 64), torch.randn(16, 64)])   # shape (16,)
    """

    n_global = 2

    def __init__(self, dim: int, hidden_dim: Optional[int] = None, nu: float = 5.0, learn_nu: bool = False,
                 beta: float = 1.0, lambda_radial: float = 1.0, learn_radial_scale: bool = True, n_samples: int = 1,
                 logvar_min: float = -10.0, logvar_max: float = 5.0, normalize_by_dim: bool = True,
                 gather: bool = True):
        super().__init__(dim)
        if nu <= 0:
            raise ValueError(f"nu must be > 0, got {nu}")
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        if logvar_min >= logvar_max:
            raise ValueError("logvar_min must be < logvar_max")
        hidden_dim = max(dim // 4, 8) if hidden_dim is None else hidden_dim
        self.beta, self.lambda_radial = float(beta), float(lambda_radial)
        self.n_samples = int(n_samples)
        self.logvar_min, self.logvar_max = float(logvar_min), float(logvar_max)
        self.normalize_by_dim = bool(normalize_by_dim)
        self.gather = bool(gather)
        self.inference = MLP(dim, 2 * dim, hidden_dim=hidden_dim, n_hidden=1, gather=gather)
        log_nu = torch.tensor(math.log(nu))
        if learn_nu:
            self.log_nu = nn.Parameter(log_nu)
        else:
            self.register_buffer("log_nu", log_nu)
        if learn_radial_scale:
            self.log_tau = nn.Parameter(torch.zeros(()))
        else:
            self.register_buffer("log_tau", torch.zeros(()))

    @property
    def nu(self) -> torch.Tensor:
        """Degrees of freedom."""
        return self.log_nu.exp()

    def posterior(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log s^2) of q(z|h), each (N, D); log s^2 clamped to [logvar_min, logvar_max]."""
        mu, logvar = self.inference(h).float().chunk(2, dim=-1)
        return mu, logvar.clamp(self.logvar_min, self.logvar_max)

    def pairs(self, n_views: int) -> list[tuple[int, int]]:
        """Ordered (context, target) pairs: target a global view, context any other view."""
        return [(a, b) for b in range(min(self.n_global, n_views)) for a in range(n_views) if a != b]

    def posterior_all(self, views: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Posterior (mu, log s^2) of every view, from one pass of the inference network over all views."""
        mu, logvar = self.posterior(torch.cat(list(views), 0))
        return list(zip(mu.chunk(len(views)), logvar.chunk(len(views))))

    def forward(self, views: Sequence[torch.Tensor], targets: Optional[Sequence[torch.Tensor]] = None) -> ObjectiveOutput:
        views = self.check_views(views)
        post = self.posterior_all(views)
        elbos, terms = [], {"log_dir": [], "log_rad": [], "kl": []}
        for a, b in self.pairs(len(views)):
            mu, logvar = post[a]
            noise = torch.randn((self.n_samples, *mu.shape), device=mu.device) if self.n_samples > 0 else None
            e, t = vje_elbo(mu, logvar, views[b], self.nu, self.log_tau, self.beta, self.lambda_radial, noise)
            elbos.append(gather(e, self.gather))
            for k in terms:
                terms[k].append(gather(t[k].detach(), self.gather))
        elbo = torch.stack(elbos).mean()
        d = self.dim if self.normalize_by_dim else 1
        loss = -elbo / d
        with torch.no_grad():
            logs = {"loss": loss.detach(), "elbo": elbo.detach(),
                    **{k: torch.cat(t).mean() for k, t in terms.items()},
                    "mean_logvar": gather(torch.cat([lv.detach() for _, lv in post]), self.gather).mean(),
                    "radial_scale": self.log_tau.exp().detach(), "nu": self.nu.detach()}
        return ObjectiveOutput(loss, logs)

    @torch.no_grad()
    def score(self, views: Sequence[torch.Tensor], n_samples: int = 8, generator: Optional[torch.Generator] = None,
              jacobian: bool = False) -> torch.Tensor:
        """Anomaly score: per-sample negative ELBO (nats) of the polar target (u_b, r_b), averaged over
        ordered view pairs and draws.

        Parameters
        ----------
        views : list of V >= 2 tensors (B, dim)
        n_samples : int
            Draws of z per pair (0: plug-in z = mu).
        generator : torch.Generator, optional
            For reproducible draws.
        jacobian : bool, default False
            Include the polar Jacobian -(D-1) log r_b (density of y_b in R^D instead of (u_b, r_b)). It
            depends on the input's norm only, not on the fitted model, and dominates the score for large D.

        Returns
        -------
        torch.Tensor of shape (B,)
            Higher means less likely under the model (more anomalous).
        """
        views = self.check_views(views)
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        post = self.posterior_all(views)
        scores = []
        for a, b in self.pairs(len(views)):
            mu, logvar = post[a]
            noise = None
            if n_samples > 0:
                noise = torch.randn((n_samples, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
            e, t = vje_elbo(mu, logvar, views[b], self.nu, self.log_tau, self.beta, self.lambda_radial, noise)
            scores.append(-e if jacobian else -(e - t["jacobian"]))
        return torch.stack(scores).mean(0)

