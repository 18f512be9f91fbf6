"""Downstream probe families: the one list, and what the theory says about each (torch-free).

A probe family F is the set of classifiers a downstream user fits on the representation. Every part
of idealssl that depends on F — the checker's conditions, certificates and witnesses
(:mod:`idealssl.checker.families`), ``idealssl derive``, the synthetic evaluation, the reports —
reads it from :data:`PROBES` / :func:`get_family` here. Adding a family is one entry here plus one
entry in :data:`idealssl.checker.families.FAMILIES`.

Statements cited are those of ``theory/statements.md`` (S1–S8) and of Dubois et al. (NeurIPS 2022).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import InputError


@dataclass(frozen=True)
class ProbeFamily:
    """One downstream probe family.

    Attributes
    ----------
    name : str
        The name used on the command line (``--probe``) and in reports.
    title : str
        One line for report headers.
    bias : bool
        Whether the probes have a bias (affine ``argmax(Wz + b)``) or not (homogeneous ``argmax(Wz)``);
        meaningless for ``mlp`` (its units have biases: True).
    form : str
        The probe's formula, in words.
    head : str
        The head of an ISSL objective that must lie in this family (Dubois et al. Sec. 5-6).
    head_kind : str
        The objectives' head shape for that head (``idealssl.objectives.heads.HEAD_KINDS``).
    condition : str
        When an invariant encoder is ideal for the family (Theorem 1 and its variants).
    minimal_dimension : callable C -> int
        Smallest representation dimension for which an ideal encoder exists (C ≥ 2 orbits): C − 1 for
        both linear families (the centred regular simplex is ideal for homogeneous probes too), 1 for MLPs.
    dimension_statement : str
        The statement of theory/statements.md proving ``minimal_dimension``.
    log_loss_defined : bool
        Whether the ideal ISSL log loss and its normalised version characterise ideality for this
        family (they are defined with linear class weights: linear families only).
    """

    name: str
    title: str
    bias: bool
    form: str
    head: str
    head_kind: str
    condition: str
    minimal_dimension: Callable[[int], int]
    dimension_statement: str
    log_loss_defined: bool

    @property
    def linear(self) -> bool:
        """A family of linear classifiers (argmax of an affine or linear map)."""
        return self.log_loss_defined


LINEAR = ProbeFamily(
    name="linear",
    title="linear probes with bias (affine: argmax of W z + b)",
    bias=True,
    form="affine probes f(z) = argmax(Wz + b)",
    head="a linear map (with bias) of the representation",
    head_kind="linear",
    condition="invariant, with affinely independent orbit codes (rank of the centred codes = C - 1)",
    minimal_dimension=lambda C: C - 1,
    dimension_statement="S1.3",
    log_loss_defined=True,
)

LINEAR_NOBIAS = ProbeFamily(
    name="linear-nobias",
    title="homogeneous linear probes (argmax of W z, no bias)",
    bias=False,
    form="homogeneous linear probes f(z) = argmax(Wz)",
    head="a linear map without bias",
    head_kind="linear",
    condition=(
        "invariant up to positive scaling, with orbit codes of rank C, or of rank C - 1 whose one linear "
        "dependency sum_m alpha_m mu_m = 0 has every alpha_m non-zero and of one sign (the origin inside the "
        "codes' hull)"
    ),
    minimal_dimension=lambda C: C - 1,
    dimension_statement="S1.4",
    log_loss_defined=True,
)

MLP = ProbeFamily(
    name="mlp",
    title="MLP / universal probes",
    bias=True,
    form="MLP probes (universal idealisation)",
    head="an MLP with the downstream probe's architecture",
    head_kind="mlp",
    condition="invariant, with distinct orbit codes (plus enough MLP capacity: width-dependent)",
    minimal_dimension=lambda C: 1,
    dimension_statement="S2.1",
    log_loss_defined=False,
)

#: every probe family, by name, in the order shown to users
FAMILIES: dict[str, ProbeFamily] = {f.name: f for f in (LINEAR, LINEAR_NOBIAS, MLP)}
#: the probe family names (``--probe`` choices of ``check`` and ``derive``)
PROBES: tuple[str, ...] = tuple(FAMILIES)


def get_family(name: str) -> ProbeFamily:
    """The family called ``name``; :class:`~idealssl.errors.InputError` for an unknown name."""
    try:
        return FAMILIES[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown probe family {name!r}; choose one of {', '.join(PROBES)}") from None
