"""What the theory prescribes for a probe family and C orbits (``idealssl derive --probe``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..objectives.defaults import DISSL
from ..probes import ProbeFamily, get_family
from ..theory_math import dissl_teacher_optimum, ideal_log_loss_optimum, worst_case_erm_risk
from .logloss import ideal_log_loss_minimum
from .params import check_teacher_size, validated

#: the basis of a value the theory does not decide
SILENT = "the theory is silent"

#: where each prescribed value comes from (:attr:`Configuration.provenance`)
PROVENANCE = {
    "minimal_dimension": "S1.3-S1.4 (linear probes, with and without bias) / S2.1 (MLP probes)",
    "ideal_objective.temperature": f"{SILENT}: the minimiser is the simplex at every tau (S4.2); L* is evaluated at "
    "the temperature given (default 1)",
    "cissl.student_head": "S6.2-S6.3: the branch dotted with the other in the probe family",
    "cissl.teacher_head": "S6.3: as expressive as possible",
    "cissl.temperature": f"{SILENT}: the minimiser is the simplex at every tau (S4.2, S6.1); the published default",
    "dissl.student_head": "S7.4: the student in the probe family",
    "dissl.teacher_head": "S7.1-S7.2: as expressive as possible",
    "dissl.categories": "S7.1-S7.2: K >= C for a maximal teacher, K = C the smallest",
    "dissl.lambda": "S7.2-S7.3: lambda < 1 + beta when K > C or with a batch marginal over B < K inputs "
    "(derive.prescriptions.dissl_lambda_bound); inside the interval the theory is silent",
    "dissl.beta": f"{SILENT} beyond beta > 0 (S7.1); the published default",
    "sample_efficiency": "S3.1",
    "head_output_width": "S1.3 (with S1.4 / S2.1 for the other families): the objective sees the representation "
    "only through its student head's output h(z) in R^k, an affine image of the codes whose affine rank is at most "
    "k, so an objective that is to ask for affine rank C - 1 needs k >= C - 1 (the family's minimal dimension); "
    "above it the theory is silent",
    "head_hidden_widths": f"{SILENT}: the suite's (or the published) hidden widths of the heads",
}


@dataclass
class Configuration:
    """What the theory prescribes for a probe family and C orbits (``idealssl derive --probe``).

    Attributes
    ----------
    probe, classes : the inputs.
    minimal_dimension : int
        Smallest d for which an ideal encoder exists (S1.3/S1.4/S2.1).
    dim, dim_can_be_ideal, dim_reason : the optional ``--dim`` and its verdict.
    ideal_objective : dict
        L*(C) at temperature 1, the simplex cosine, and (for ``--dim`` < C − 1, linear probes) the
        strictly larger minimum in that dimension.
    cissl, dissl : dict
        Head placement and hyper-parameter constraints (S6, S7).
    sample_efficiency : dict
        W_n = (1 − 1/C)^n at a few n (S3.1).
    statements : dict
        name -> statement number in theory/statements.md.
    provenance : dict
        Every value prescribed (``section.key``) -> the statement it comes from, or :data:`SILENT` and where the
        value comes from instead.
    """

    probe: str
    classes: int
    minimal_dimension: int
    dim: int | None
    dim_can_be_ideal: bool | None
    dim_reason: str | None
    ideal_objective: dict
    cissl: dict
    dissl: dict
    sample_efficiency: dict
    statements: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _ideal_objective(family: ProbeFamily, C: int, temperature: float) -> dict:
    """The ideal ISSL log loss (S4) where it characterises the family (linear probes), and what is and
    is not defined for MLP probes (S2.1)."""
    Lstar = ideal_log_loss_optimum(C, temperature)
    ideal = {
        "name": "ideal ISSL log loss L_I (Dubois et al. Eq. 6), unit-norm weights and codes, equiprobable orbits",
        "temperature": temperature,
        "optimum": Lstar,
        "optimum_formula": "log(1 + (C-1) exp(-C / ((C-1) tau)))",
        "minimiser": "regular simplex: orbit codes = unit vectors with pairwise cosine -1/(C-1), "
        "weights w_m = code of orbit m",
        "simplex_cosine": -1.0 / (C - 1),
        "simplex_dimension": C - 1,
        "defined": True,
    }
    if not family.log_loss_defined:
        ideal.update(
            defined=False,
            optimum=None,
            optimum_for_linear_probes=Lstar,
            note=(
                "not defined for MLP probes: L_I has linear class weights, so its optimum L*, the simplex minimiser "
                "and the normalised loss (S5.1) characterise linear probes only. Defined for MLP probes: the "
                "condition (invariant, distinct codes, any d >= 1; S2.1), W_n (S3.1), and the CISSL/DISSL "
                "prescriptions with the head of the probe's MLP architecture (their optima are values of those "
                "objectives, reached when that head's output is ideal for linear probes). Not derived: the smallest "
                "d for a fixed-width MLP (between VC and memory-capacity bounds, S2.1)"
            ),
        )
    return ideal


def dissl_categories_rule(C: int) -> str:
    """DISSL's rule for the number K of teacher categories given C orbits (S7): one sentence, cheap for any C (the
    trainer states it with C = the number of pretraining images, which can be millions)."""
    return (
        f"K >= C = {C} for a maximal teacher (K = C exactly when C is known); with K < C the "
        "teacher can only estimate a coarsening of M"
    )


def _dim_reason(family: ProbeFamily, C: int, dim: int) -> str:
    """Why ``dim`` can or cannot be ideal for the family (S1.3, S1.4, S2.1)."""
    dmin = family.minimal_dimension(C)
    if dim >= dmin:
        return f"d = {dim} >= {dmin}: an encoder that is {family.condition} exists"
    if family.bias:
        return (
            f"d = {dim} < C - 1 = {dmin}: C codes in R^{dim} are affinely dependent, so some invariant task is "
            "not linearly realisable (Radon)"
        )
    return (
        f"d = {dim} < C - 1 = {dmin}: C codes in R^{dim} have rank <= {dim} <= C - 2, so they satisfy two "
        "independent linear dependencies and a combination with a zero coefficient; its positive orbits vs the "
        "rest (or its support vs the rest) is a non-constant invariant task no homogeneous probe realises (S1.4)"
    )


def head_output_rule(family: ProbeFamily, C: int) -> str:
    """The rule on the width k of the student head's output for C orbits (:data:`PROVENANCE` ``head_output_width``)."""
    return (
        f"student head output width k >= {family.minimal_dimension(C)} (the affine rank of h(codes) is at most k; "
        "the hidden widths: the theory is silent)"
    )


def _cissl(family, head: str, C: int, temperature: float, Lstar: float) -> dict:
    """CISSL's prescriptions (S6): the asymmetric heads, their output width, the assumptions and the population
    optimum."""
    cissl = {
        "head_output_width": family.minimal_dimension(C),
        "head_output_rule": head_output_rule(family, C),
        "student_head": f"in the probe family: {head}, then L2-normalised (the branch whose output is dotted with the "
        "teacher's)",
        "teacher_head": "as expressive as possible (wide MLP g on the augmented view), L2-normalised",
        "asymmetric": True,
        "why": "with a shared (symmetric) head the optimum only makes g(phi(x)) ideal, not phi(x): 1-D codes reach it "
        "(S6.3)",
        "assumptions": "unit-norm representations and teacher outputs, temperature tau, equiprobable orbits, "
        "consistent NCE (k >= 1 negatives, k -> infinity for the exact population form), augmentations "
        "X~ - M(X) - X",
        "temperature": temperature,
        "population_optimum": Lstar - math.log(C),
        "population_optimum_formula": "L*(C, tau) - log C  (InfoNCE normalised by the number of candidates)",
    }
    if not family.linear:
        cissl["note"] = "MLP probes: replace phi(x) by h(phi(x)) with h of the probe's MLP architecture (CISSL-MLP)"
    return cissl


def _dissl(head: str, C: int, K: int, dissl_lambda: float, dissl_beta: float, dmin: int) -> dict:
    """DISSL's prescriptions (S7): heads and the student's output width (>= ``dmin``, S1.3), K, the determinism
    constraint on lambda and beta, the teacher optimum."""
    opt = dissl_teacher_optimum(C, K, dissl_lambda, dissl_beta)
    a = 1.0 + dissl_beta
    dissl = {
        "student_head": f"in the probe family: {head}, then softmax over the K categories",
        "head_output_rule": f"student output width (its K logits, or a bottleneck before them) >= {dmin} (S1.3: the "
        "affine rank of the student's output is at most its width; the hidden widths: the theory is silent)",
        "teacher_head": "as expressive as possible (wide MLP), softmax over the K categories",
        "categories": K,
        "categories_rule": dissl_categories_rule(C),
        "lambda": dissl_lambda,
        "beta": dissl_beta,
        "lambda_constraint": "0 < lambda < 1 + beta (then every optimal teacher is deterministic); lambda > 1 + beta "
        "with K > C makes every optimal teacher non-deterministic",
        "lambda_ok": bool(0 < dissl_lambda < a or (K <= C and C % K == 0 and dissl_lambda > 0)),
        "teacher_optimum": opt.to_dict(),
        "objective": "CE(q(x1), s(x2)) + beta CE(q(x1), q(x2)) - lambda H(mean q); at the optimal student >= (1+beta) "
        "H(M^|X) - lambda H(M^)",
        "paper_names": "code lambda = paper beta (maximality), code beta = paper alpha (teacher cross-view term)",
    }
    if K > C and dissl_lambda > a:
        dissl["warning"] = (
            f"lambda = {dissl_lambda} > 1 + beta = {a}: with K = {K} > C = {C} categories the "
            "optimal teacher is not deterministic"
        )
    return dissl


def configure(
    probe: str,
    classes: int,
    dim: int | None = None,
    dissl_categories: int | None = None,
    dissl_lambda: float = DISSL.lambda_maximality,
    dissl_beta: float = DISSL.beta_det_inv,
    temperature: float = 1.0,
    n_values=(1, 2, 5, 10, 20, 50, 100),
) -> Configuration:
    """The objective configuration the theory prescribes (statements.md S1-S7).

    Parameters
    ----------
    probe : {"linear", "linear-nobias", "mlp"}
        Downstream probe family.
    classes : int
        C, the number of augmentation orbits (equivalence classes of ~).
    dim : int, optional
        A representation dimension to judge.
    dissl_categories : int, optional
        K, DISSL's number of teacher categories (default C, the smallest maximal choice).
    dissl_lambda, dissl_beta : float
        DISSL's maximality weight λ and teacher cross-view weight β (code names; paper α = β), at which the
        determinism constraint and the teacher optimum are evaluated.
    temperature : float
        Temperature of the ideal log loss / CISSL logits.

    Every number is checked against its range first (:data:`idealssl.derive.params.PARAMETERS`, C·K included).
    """
    family = get_family(probe)
    v = validated(
        classes=classes,
        dim=dim,
        dissl_categories=dissl_categories,
        dissl_lambda=dissl_lambda,
        dissl_beta=dissl_beta,
        temperature=temperature,
    )
    C, dim, temperature = v["classes"], v["dim"], v["temperature"]
    dissl_lambda, dissl_beta = v["dissl_lambda"], v["dissl_beta"]
    K = C if v["dissl_categories"] is None else v["dissl_categories"]
    check_teacher_size(C, K)
    dmin = family.minimal_dimension(C)
    head = family.head
    Lstar = ideal_log_loss_optimum(C, temperature)
    ideal = _ideal_objective(family, C, temperature)
    reason = can = None
    if dim is not None:
        can = dim >= dmin
        reason = _dim_reason(family, C, dim)
        if family.log_loss_defined and dim < C - 1:
            if C <= 10:
                ideal["minimum_in_dim"] = ideal_log_loss_minimum(C, dim, temperature, restarts=4)
                ideal["minimum_in_dim_note"] = (
                    f"numerical minimum over unit-norm codes in R^{dim} (> optimum: the simplex needs d >= C - 1)"
                )
            else:
                ideal["minimum_in_dim"] = None
                ideal["minimum_in_dim_note"] = (
                    "not computed for C > 10 (non-convex, slow); strictly larger than the optimum (S4.3)"
                )
    cissl = _cissl(family, head, C, temperature, Lstar)
    dissl = _dissl(head, C, K, dissl_lambda, dissl_beta, dmin)
    ns = [int(n) for n in n_values]
    samp = {
        "n": ns,
        "W_n": [worst_case_erm_risk(n, classes=C) for n in ns],
        "formula": "W_n = (1 - 1/C)^n (equiprobable orbits, ideal encoder)",
    }
    statements = {
        "dimension": "S1.3-S1.4 / S2.1",
        "ideal_objective": "S4.2-S4.3",
        "cissl": "S6.1-S6.3",
        "dissl": "S7.1-S7.3",
        "sample_efficiency": "S3.1",
    }
    return Configuration(probe, C, dmin, dim, can, reason, ideal, cissl, dissl, samp, statements, dict(PROVENANCE))
