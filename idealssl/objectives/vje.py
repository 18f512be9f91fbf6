"""VJE: variational joint embedding, a symmetric conditional ELBO on embeddings (RECONSTRUCTED form).

Oji & Fieguth, "Joint Embedding Variational Bayes", TMLR 2026 (arXiv 2602.05639; its v1 and v3 abstracts
and the OpenReview change note are the sources; the paper's equations are not among them). The structure
(symmetric conditional ELBO on paired embeddings, polar Student-t likelihood of the target embedding with a
directional factor on the unit sphere and a radial factor, a subnormalised directional term in training
and a normalised reference model, a diagonal Gaussian amortised posterior whose feature-wise variances are
the directional likelihood's scale, an asymmetric encoder / inference / target setup with stop-gradient,
no auxiliary projection head) is what those sources state; every exact form is a reconstruction,
documented statement by statement in theory/objectives.md (VJE) and theory/statements.md (S8).

Two variants (``variant=``): ``"v1"`` (default; :mod:`.vje_polar`'s angular Student-t, prior at the scale
of the unit sphere, EMA target, wide inference network; every choice decided by experiment, see
results/digits/README.md) and ``"v0"`` (R^D Student-t constant on the sphere, prior N(0, I), shared-encoder
target, bottleneck inference network), kept for comparison: it collapses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..metrics import rankme
from .base import Objective, ObjectiveOutput, float32_loss, register
from .distributed import gather
from .ema import cosine_momentum, ema_update_, frozen_copy
from .heads import MLP
from .vje_polar import angular_t_log_density, angular_t_log_lower, t_log_norm

__all__ = [
    "VJE",
    "gaussian_kl",
    "gaussian_kl_prior",
    "directional_log_lik",
    "radial_log_lik",
    "vje_elbo",
    "vje_elbo_v1",
    "VARIANTS",
]

VARIANTS = ("v1", "v0")


def _t_log_norm(nu: torch.Tensor, d: int) -> torch.Tensor:
    """log of the multivariate Student-t normaliser in R^d (:func:`.vje_polar.t_log_norm`)."""
    return t_log_norm(nu, d)


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
def vje_elbo(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    target: torch.Tensor,
    nu,
    log_tau: torch.Tensor,
    beta: float = 1.0,
    lambda_radial: float = 1.0,
    noise: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict]:
    """Per-sample conditional ELBO of one ordered pair context -> target (RECONSTRUCTED form).

    .. math:: \\mathrm{ELBO}_{a\\to b} = \\mathbb E_{q(z|h_a)}\\big[\\log p_{dir}(u_b \\mid z/\\|z\\|, s_a)
       + \\lambda_r \\log p_{rad}(r_b \\mid \\log\\|z\\|)\\big] - (D-1)\\log r_b
       - \\beta\\,\\mathrm{KL}(q(z|h_a)\\,\\|\\,\\mathcal N(0, I))

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


@float32_loss
def gaussian_kl_prior(mu: torch.Tensor, logvar: torch.Tensor, prior_logvar) -> torch.Tensor:
    """KL(N(mu, diag s^2) || N(0, sigma_p^2 I)), sigma_p^2 = exp(prior_logvar), shape (N,).

    .. math:: \\tfrac12 \\sum_j \\big(s_j^2/\\sigma_p^2 + \\mu_j^2/\\sigma_p^2 - 1 - \\log(s_j^2/\\sigma_p^2)\\big)
    """
    prior_logvar = torch.as_tensor(prior_logvar, dtype=torch.float32, device=mu.device)
    rel = logvar.float() - prior_logvar
    return 0.5 * (rel.exp() + mu.float().pow(2) * torch.exp(-prior_logvar) - 1.0 - rel).sum(-1)


@float32_loss
def vje_elbo_v1(  # noqa: PLR0913  (the ELBO's terms and the published hyperparameters, as pure-function arguments)
    mu: torch.Tensor,
    logvar: torch.Tensor,
    target: torch.Tensor,
    nu,
    log_tau: torch.Tensor,
    radial_offset: torch.Tensor,
    prior_logvar: float,
    beta: float = 1.0,
    lambda_radial: float = 1.0,
    noise: torch.Tensor | None = None,
    reference: bool = False,
    polar_scale: bool = True,
) -> tuple[torch.Tensor, dict]:
    """Per-sample conditional ELBO of one ordered pair context -> target, variant v1 (RECONSTRUCTED form).

    .. math:: \\mathrm{ELBO}_{a\\to b} = \\mathbb E_{q(z|h_a)}\\big[\\log \\tilde p_{dir}(u_b \\mid z/\\|z\\|, s_a)
       + \\lambda_r \\log p_{rad}(r_b \\mid \\log\\|z\\| + o)\\big]
       - \\beta\\,\\mathrm{KL}(q(z|h_a)\\,\\|\\,\\mathcal N(0, \\sigma_p^2 I))

    y_b = sg(target) = r_b u_b; p~_dir the subnormalised angular Student-t
    (:func:`.vje_polar.angular_t_log_lower`), or the normalised reference model
    (:func:`.vje_polar.angular_t_log_density`) when ``reference=True`` (scoring; no gradient); p_rad the
    Student-t on log r (:func:`radial_log_lik`) around log||z|| plus a learned offset o; the polar Jacobian is
    left out (a bound on the density of the polar coordinates (u_b, r_b)). ``noise`` (S, N, D): z = mu + s eps
    per draw; None: z = mu. Returns the (N,) ELBO and the per-sample terms ``log_dir``, ``log_rad``, ``kl``,
    ``cos_sample`` (cosine of z to the target).
    """
    y = target.detach().float()
    mu, logvar = mu.float(), logvar.float()
    r_y = y.norm(dim=-1).clamp_min(1e-12)
    u = y / r_y[:, None]
    zs = mu[None] if noise is None else mu[None] + torch.exp(0.5 * logvar)[None] * noise.to(mu)
    r_z = zs.norm(dim=-1).clamp_min(1e-12)
    m = zs / r_z[..., None]
    lv_dir = logvar[None] - 2 * r_z.log()[..., None] if polar_scale else logvar[None].expand_as(zs)
    if reference:
        log_dir = torch.stack([angular_t_log_density(u, m[k], lv_dir[k], nu) for k in range(zs.shape[0])]).mean(0)
    else:
        log_dir = angular_t_log_lower(u[None], m, lv_dir, nu).mean(0)
    log_rad = radial_log_lik(r_y.log()[None], r_z.log() + radial_offset, log_tau, nu).mean(0)
    kl = gaussian_kl_prior(mu, logvar, prior_logvar)
    elbo = log_dir + lambda_radial * log_rad - beta * kl
    cos = (m * u[None]).sum(-1).mean(0)
    return elbo, {"log_dir": log_dir, "log_rad": log_rad, "kl": kl, "cos_sample": cos}


_V0: dict[str, Any] = dict(
    hidden_dim=None,
    nu=5.0,
    prior_var=1.0,
    target="shared",
    logvar_min=-10.0,
    init_logvar=None,
    projector_hidden_dim=0,
    beta=1.0,
)
_V1: dict[str, Any] = dict(
    beta=1e-3,
    hidden_dim=256,
    nu=5.0,
    prior_var=None,
    target="ema",
    logvar_min=-14.0,
    init_logvar="prior",
    projector_hidden_dim=256,
)


@register("vje")
class VJE(Objective):
    """VJE (Oji & Fieguth, TMLR 2026, "Joint Embedding Variational Bayes", arXiv 2602.05639; the official
    code is not among the sources). **The exact form here is reconstructed** (module docstring, theory/objectives.md):
    only the structure is from the paper's abstracts, its OpenReview change note and the authors' statements.

    An inference network g (MLP) maps the context embedding h_a to a diagonal Gaussian posterior
    q(z|h_a) = N(mu_a, diag s_a^2) over a latent z in R^D (D = ``dim``); the stop-gradient target embedding
    y_b (``target="ema"``: the EMA encoder's embedding of view b; ``"shared"``: sg of the online embedding)
    is modelled in polar form y = r u by a Student-t direction on the sphere around z/||z|| whose
    feature-wise scale is the posterior's s_a (shared, no extra head) and a Student-t radius (on log r).
    The loss is the negative symmetric conditional ELBO:

    .. math:: \\mathcal L = -\\frac{1}{D\\,|P|} \\sum_{(a,b) \\in P} \\frac1N \\sum_n \\mathrm{ELBO}_{a \\to b}^{(n)}

    P = ordered pairs (a, b), b a global view, a any other view ((1,2) and (2,1) for two views); ELBO:
    :func:`vje_elbo_v1` (variant v1) or :func:`vje_elbo` (variant v0).

    Parameters (reconstructed; none of the paper's values were recoverable; ``None`` = the variant's default)
    ------------------------------------------------------------------------------------------------------
    dim : int
    variant : {"v1", "v0"}, default "v1"
        v1: angular Student-t (subnormalised in training, normalised reference model for scoring), prior
        N(0, I/E), EMA target, projector d -> 256 -> E with output batch norm, inference net E -> 256 -> 2E,
        KL weight 1e-3. v0: R^D Student-t constant on the sphere, prior N(0, I), shared target,
        d -> max(d/4, 8) -> 2d; it collapses (results/digits/README.md).
    hidden_dim : int or None
        Hidden width of the inference network (Linear -> BN -> ReLU -> Linear(., 2D)); v0: max(dim // 4, 8).
    nu : float or None, default 5
        Student-t degrees of freedom (the paper reports failure in the Gaussian limit nu -> inf).
    learn_nu : bool, default False
    beta : float or None
        KL weight; 1 = the ELBO. v1: 1e-3, because with beta = 1 the posterior stays at the prior and the
        representation collapses (digits k-NN 69 %; theory/objectives.md, VJE); v0: 1.
    lambda_radial : float, default 1
        Radial weight (1 = the ELBO).
    learn_radial_scale : bool, default True
        Learn the radial scale tau (else tau = 1).
    n_samples : int, default 1
        Monte Carlo draws of z per pair in training (0: plug-in z = mu).
    prior_var : float, "learned" or None
        Prior N(0, prior_var I) ("learned": a learned scalar, initialised at 1/E); v1 None = 1/E
        (E||z||^2 = 1, the scale of the unit sphere on which the shared variances act), v0 1.0.
    target : {"ema", "shared"} or None
        Target branch: an EMA copy of the encoder (``momentum_backbone``; cosine schedule from
        ``base_momentum`` to 1, as BYOL) or the online encoder's own stop-gradient embedding.
    base_momentum : float, default 0.996
    projector_hidden_dim : int or None
        Hidden width of the projector P (Linear -> BN -> ReLU -> Linear -> BN) whose output e = P(h) is the
        embedding the model is defined on (the probes read h); 0 = no projector (v0). v1: 256.
    out_dim : int or None
        Embedding dimension E (None: dim).
    polar_scale : bool, default True
        v1: the directional scale is s / ||z|| (the posterior noise's angular spread at the sample's radius);
        False: s itself.
    init_logvar : float, "prior" or None
        Initial bias of the log-variance output ("prior": log prior_var; None: PyTorch's default init).
    logvar_min, logvar_max : float
        Clamp of log s^2 (v1: [-14, 5]; v0: [-10, 5]).
    normalize_by_dim : bool, default True
        Divide the loss by D (a learning-rate rescaling only).
    gather : bool, default True

    Anomaly score
    -------------
    ``score(views, n_samples=8, generator=None, jacobian=False) -> Tensor[B]``: per-sample negative ELBO in
    nats of the target in polar coordinates (u_b, r_b), averaged over ordered view pairs P and ``n_samples``
    draws of z (0: plug-in z = mu); v1 uses the normalised reference model for the direction. Higher = more
    anomalous. The polar Jacobian -(D-1) log r_b (parameter-free, a function of the input norm) is excluded
    (v0: ``jacobian=True`` adds it back). Call ``.eval()`` first (batch norm on running statistics).

    Logs (every step the trainer records): ``loss``, ``elbo``, ``log_dir``, ``log_rad``, ``kl``,
    ``mean_logvar``, ``radial_scale``, ``nu``, and the collapse monitors ``eff_rank`` (RankMe of the
    centred batch embeddings), ``mu_norm`` (mean ||mu||), ``noise_norm`` (mean ||s||, the norm of the
    posterior noise s * eps), ``cos_sample`` (cosine of the sampled z to the target), ``cos_mean``
    (cosine of mu to the target).

    Examples
    --------
    >>> obj = build("vje", dim=64, target="shared")
    >>> out = obj([torch.randn(16, 64), torch.randn(16, 64)]); out.loss.backward()
    >>> anomaly = obj.eval().score([torch.randn(16, 64), torch.randn(16, 64)])   # shape (16,)
    """

    n_global = 2

    def __init__(  # noqa: PLR0913  (one keyword per published hyperparameter)
        self,
        dim: int,
        variant: str = "v1",
        hidden_dim: int | None = None,
        nu: float | None = None,
        learn_nu: bool = False,
        beta: float | None = None,
        lambda_radial: float = 1.0,
        learn_radial_scale: bool = True,
        n_samples: int = 1,
        prior_var: float | None = None,
        target: str | None = None,
        base_momentum: float = 0.996,
        init_logvar=None,
        logvar_min: float | None = None,
        logvar_max: float = 5.0,
        projector_hidden_dim: int | None = None,
        out_dim: int | None = None,
        polar_scale: bool = True,
        normalize_by_dim: bool = True,
        gather: bool = True,
    ):
        super().__init__(dim)
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        dflt = _V1 if variant == "v1" else _V0
        nu = dflt["nu"] if nu is None else nu
        beta = dflt["beta"] if beta is None else beta
        target = dflt["target"] if target is None else target
        logvar_min = dflt["logvar_min"] if logvar_min is None else logvar_min
        hidden_dim = (dflt["hidden_dim"] or max(dim // 4, 8)) if hidden_dim is None else hidden_dim
        init_logvar = dflt["init_logvar"] if init_logvar is None and variant == "v1" else init_logvar
        proj = dflt["projector_hidden_dim"] if projector_hidden_dim is None else projector_hidden_dim
        e = dim if (out_dim is None or not proj) else int(out_dim)
        prior_var = (dflt["prior_var"] or 1.0 / e) if prior_var is None else prior_var
        learn_prior = prior_var == "learned"
        prior_var = 1.0 / e if learn_prior else float(prior_var)
        _check(nu, n_samples, logvar_min, logvar_max, target, prior_var, base_momentum)
        self.variant, self.target, self.polar_scale = variant, target, bool(polar_scale)
        self.momentum_backbone = target == "ema"
        self.base_momentum = float(base_momentum)
        self.beta, self.lambda_radial = float(beta), float(lambda_radial)
        self.n_samples = int(n_samples)
        self.prior_logvar: torch.Tensor | float
        if learn_prior:
            self.prior_logvar = nn.Parameter(torch.tensor(math.log(prior_var)))
        else:
            self.prior_logvar = math.log(prior_var)
        self.logvar_min, self.logvar_max = float(logvar_min), float(logvar_max)
        self.normalize_by_dim = bool(normalize_by_dim)
        self.gather = bool(gather)
        self.embed_dim = e
        self.projector = MLP(dim, e, hidden_dim=proj, n_hidden=1, out_norm=True, gather=gather) if proj else None
        self.target_projector = frozen_copy(self.projector) if self.projector is not None and target == "ema" else None
        self.inference = MLP(e, 2 * e, hidden_dim=hidden_dim, n_hidden=1, gather=gather)
        if init_logvar is not None:
            last = self.inference[-1]
            assert isinstance(last, nn.Linear) and last.bias is not None
            with torch.no_grad():
                last.bias[e:] = math.log(prior_var) if init_logvar == "prior" else float(init_logvar)
        log_nu = torch.tensor(math.log(nu))
        if learn_nu:
            self.log_nu = nn.Parameter(log_nu)
        else:
            self.register_buffer("log_nu", log_nu)
        if learn_radial_scale:
            self.log_tau = nn.Parameter(torch.zeros(()))
        else:
            self.register_buffer("log_tau", torch.zeros(()))
        self.radial_offset = nn.Parameter(torch.zeros(())) if variant == "v1" else None

    @property
    def nu(self) -> torch.Tensor:
        """Degrees of freedom."""
        return self.log_nu.exp()

    def momentum(self, step: int, total_steps: int) -> float:
        """EMA coefficient of the target encoder (``target="ema"``): cosine from ``base_momentum`` to 1."""
        return cosine_momentum(self.base_momentum, step, total_steps)

    def posterior(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, log s^2) of q(z|h) for backbone outputs h (N, dim) (the projector, if any, is applied first),
        each (N, E); log s^2 clamped to [logvar_min, logvar_max]."""
        return self._infer(self.embed([h])[0])

    def _infer(self, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.inference(e).float().chunk(2, dim=-1)
        return mu, logvar.clamp(self.logvar_min, self.logvar_max)

    def pairs(self, n_views: int) -> list[tuple[int, int]]:
        """Ordered (context, target) pairs: target a global view, context any other view."""
        return [(a, b) for b in range(min(self.n_global, n_views)) for a in range(n_views) if a != b]

    def embed(self, views: Sequence[torch.Tensor], projector: nn.Module | None = None) -> list[torch.Tensor]:
        """The embeddings the model is defined on: projector(backbone output) (one pass), or the output itself."""
        projector = self.projector if projector is None else projector
        if projector is None:
            return list(views)
        return list(projector(torch.cat(list(views), 0)).float().chunk(len(views)))

    def posterior_all(self, embeddings: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Posterior (mu, log s^2) of every view's embedding, from one pass of the inference network."""
        mu, logvar = self._infer(torch.cat(list(embeddings), 0))
        return list(zip(mu.chunk(len(embeddings)), logvar.chunk(len(embeddings))))

    def target_embeddings(
        self, views: Sequence[torch.Tensor], emb: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None
    ) -> list:
        """The observed (stop-gradient) target of each global view: the EMA encoder's or the online one's."""
        t = self.n_global
        if self.target == "ema":
            if targets is not None and len(targets) != t:
                raise ValueError(f"vje: targets must be the EMA encoder's embeddings of the {t} global views")
            # without an EMA encoder (e.g. heads refitted on a frozen backbone), the given views are the targets
            src = [x.detach() for x in (targets if targets is not None else views[:t])]
            with torch.no_grad():
                return [x.detach() for x in self.embed(src, self.target_projector)]
        return [v.detach() for v in emb[:t]]

    @torch.no_grad()
    def update(self, step: int, total_steps: int) -> None:
        """EMA update of the target projector (``target="ema"`` with a projector)."""
        if self.target_projector is not None and self.projector is not None:
            ema_update_(self.target_projector, self.projector, self.momentum(step, total_steps))

    def _elbo(self, mu, logvar, y, noise, reference: bool = False):
        if self.variant == "v0":
            return vje_elbo(mu, logvar, y, self.nu, self.log_tau, self.beta, self.lambda_radial, noise)
        return vje_elbo_v1(
            mu,
            logvar,
            y,
            self.nu,
            self.log_tau,
            self.radial_offset,
            self.prior_logvar,
            self.beta,
            self.lambda_radial,
            noise,
            reference=reference,
            polar_scale=self.polar_scale,
        )

    def forward(self, views: Sequence[torch.Tensor], targets: Sequence[torch.Tensor] | None = None) -> ObjectiveOutput:
        views = self.check_views(views)
        emb = self.embed(views)
        tgt = self.target_embeddings(views, emb, targets)
        post = self.posterior_all(emb)
        elbos, draws = [], []
        terms: dict[str, list[torch.Tensor]] = {"log_dir": [], "log_rad": [], "kl": []}
        for a, b in self.pairs(len(views)):
            mu, logvar = post[a]
            noise = torch.randn((self.n_samples, *mu.shape), device=mu.device) if self.n_samples > 0 else None
            draws.append((mu, logvar, noise, tgt[b]))
            e, t = self._elbo(mu, logvar, tgt[b], noise)
            elbos.append(gather(e, self.gather))
            for k in terms:
                terms[k].append(gather(t[k].detach(), self.gather))
        elbo = torch.stack(elbos).mean()
        loss = -elbo / (self.embed_dim if self.normalize_by_dim else 1)
        with torch.no_grad():
            logs = {
                "loss": loss.detach(),
                "elbo": elbo.detach(),
                **{k: torch.cat(t).mean() for k, t in terms.items()},
                "radial_scale": self.log_tau.exp().detach(),
                "nu": self.nu.detach(),
                "prior_var": torch.exp(torch.as_tensor(self.prior_logvar)).detach(),
                **self.monitors(views, emb, draws),
            }
        return ObjectiveOutput(loss, logs)

    @torch.no_grad()
    def monitors(self, views, emb, draws) -> dict:
        """Collapse monitors over the gathered batch: effective rank of the centred representations (backbone
        outputs) and embeddings, and the posterior's statistics; ``draws``: (mu, logvar, noise, target) per
        ordered pair, the sample z being the loss's first draw (mu when plug-in)."""

        def g(x):
            return gather(x.detach().float(), self.gather)

        h, he = g(torch.cat(list(views))), g(torch.cat(list(emb)))
        mu_n, cs, cm, lv = [], [], [], []
        for mu, logvar, noise, y in draws:
            z = mu if noise is None else mu + torch.exp(0.5 * logvar) * noise[0]
            cs.append(g(nn.functional.cosine_similarity(z, y.float(), dim=-1)))
            cm.append(g(nn.functional.cosine_similarity(mu, y.float(), dim=-1)))
            mu_n.append(g(mu.norm(dim=-1)))
            lv.append(g(logvar))
        lv_all = torch.cat(lv)
        return {
            "eff_rank": torch.tensor(rankme(h - h.mean(0))),
            "eff_rank_embedding": torch.tensor(rankme(he - he.mean(0))),
            "mean_logvar": lv_all.mean(),
            "mu_norm": torch.cat(mu_n).mean(),
            "noise_norm": torch.exp(0.5 * lv_all).pow(2).sum(-1).sqrt().mean(),
            "cos_sample": torch.cat(cs).mean(),
            "cos_mean": torch.cat(cm).mean(),
        }

    @torch.no_grad()
    def score(
        self,
        views: Sequence[torch.Tensor],
        n_samples: int = 8,
        generator: torch.Generator | None = None,
        jacobian: bool = False,
    ) -> torch.Tensor:
        """Anomaly score: per-sample negative ELBO (nats) of the polar target (u_b, r_b), averaged over
        ordered view pairs and draws (the target is each view's own embedding: ``views`` are what is scored).

        Parameters
        ----------
        views : list of V >= 2 tensors (B, dim)
        n_samples : int
            Draws of z per pair (0: plug-in z = mu).
        generator : torch.Generator, optional
            For reproducible draws.
        jacobian : bool, default False
            Include the polar Jacobian -(D-1) log r_b (density of y_b in R^D instead of (u_b, r_b)); v0 only
            (v1's ELBO is defined on the polar coordinates).

        Returns
        -------
        torch.Tensor of shape (B,)
            Higher means less likely under the model (more anomalous).
        """
        views = self.check_views(views)
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        emb = self.embed(views)
        post = self.posterior_all(emb)
        scores = []
        for a, b in self.pairs(len(views)):
            mu, logvar = post[a]
            noise = None
            if n_samples > 0:
                noise = torch.randn((n_samples, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
            e, t = self._elbo(mu, logvar, emb[b], noise, reference=True)
            scores.append(-e if (jacobian or self.variant == "v1") else -(e - t["jacobian"]))
        return torch.stack(scores).mean(0)


def _check(nu, n_samples, logvar_min, logvar_max, target, prior_var, base_momentum) -> None:
    if nu <= 0:
        raise ValueError(f"nu must be > 0, got {nu}")
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if logvar_min >= logvar_max:
        raise ValueError("logvar_min must be < logvar_max")
    if target not in ("ema", "shared"):
        raise ValueError(f"target must be 'ema' or 'shared', got {target!r}")
    if prior_var <= 0:
        raise ValueError(f"prior_var must be > 0, got {prior_var}")
    if not 0.0 <= base_momentum <= 1.0:
        raise ValueError(f"base_momentum must be in [0, 1], got {base_momentum}")
