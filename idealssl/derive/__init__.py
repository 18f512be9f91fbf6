"""Theory -> objective configuration, and exact objective values on finite ISSL problems.

Two entry points (the ``idealssl derive`` subcommand prints them):

* :func:`configure` — for a probe family and a number C of orbits, what the theory prescribes: the
  minimal representation dimension, which head must lie in the probe family, DISSL's number of
  teacher categories and the constraint on λ and β, CISSL's normalisation/temperature assumptions,
  the exact optimum of the ideal objective, and whether a given dimension can be ideal.
* :func:`exact` — on a finite problem (N × d representation Z, orbits), the population values of
  the ideal ISSL log loss (optimal unit-norm weights), its normalised (whitened) version, the CISSL
  population loss and the DISSL population objective at the optimal teacher and student, each next
  to its theoretical optimum.

Every quantity cites a statement of ``theory/statements.md`` (S1..S8), where its proof and tests are
listed. Closed forms live in :mod:`idealssl.theory_math`, the probe families in :mod:`idealssl.probes`.

Modules: :mod:`.configuration` (:func:`configure`), :mod:`.finite` (:func:`exact`), :mod:`.logloss`
(the ideal log loss and its one numeric minimiser), :mod:`.cli` (``idealssl derive``). Nothing here
imports torch; DISSL's defaults come from :mod:`idealssl.objectives.defaults`.

References
----------
Dubois, Hashimoto, Ermon, Liang. Improving Self-Supervised Learning by Characterizing Idealized
Representations. NeurIPS 2022 (arXiv 2209.06235): Thm. 1, Prop. 2, Eq. 6, Prop. 3, Eqs. 7 and 9.

Examples
--------
>>> import numpy as np
>>> from idealssl import derive
>>> Z = np.repeat(derive.regular_simplex(4), 2, axis=0); orbits = np.repeat(np.arange(4), 2)
>>> r = derive.exact(Z, orbits)
>>> bool(r.normalised_ideal_log_loss["reaches_optimum"]), round(r.cissl["optimum"], 6)
(True, -0.803637)
"""

from __future__ import annotations

from ..objectives.defaults import DISSL
from ..probes import PROBES
from ..theory_math import (
    dissl_teacher_optimum,
    ideal_log_loss_optimum,
    minimal_dimension,
    regular_simplex,
    worst_case_erm_risk,
)
from .configuration import Configuration, configure
from .finite import ExactReport, exact
from .logloss import (
    LogLossValue,
    ideal_log_loss,
    ideal_log_loss_minimum,
    normalised_ideal_log_loss,
    normalised_representation,
)

__all__ = [
    "PROBES",
    "configure",
    "Configuration",
    "exact",
    "ExactReport",
    "ideal_log_loss",
    "LogLossValue",
    "ideal_log_loss_minimum",
    "normalised_ideal_log_loss",
    "normalised_representation",
    "ideal_log_loss_optimum",
    "regular_simplex",
    "minimal_dimension",
    "worst_case_erm_risk",
    "dissl_teacher_optimum",
]

DEFAULT_LAMBDA = DISSL.lambda_maximality  #: the released DISSL code's lambda_maximality (paper's β)
DEFAULT_BETA = DISSL.beta_det_inv  #: the released DISSL code's beta_det_inv (paper's α)
