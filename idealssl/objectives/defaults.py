"""Published default hyperparameters of the objectives, torch-free.

One home for the numbers that both an objective's constructor (which needs torch) and
:mod:`idealssl.derive` (which must not import torch) read. Each constant names its source.

Naming: the released DISSL code calls the maximality weight ``lambda_maximality`` (the paper's β in
Eq. 9) and the teacher cross-view weight ``beta_det_inv`` (the paper's α). The code's names are kept
because they are the names of the released configuration files (theory/statements.md, S7).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DisslDefaults:
    """DISSL as released (Dubois et al. 2022, TinyImageNet config ``dissl.yaml``)."""

    categories: int = 16384  #: C', the teacher's number of categories (code: n_equivalence_classes)
    lambda_maximality: float = 2.3  #: weight of the marginal entropy (paper's β)
    beta_det_inv: float = 0.8  #: weight of the teacher cross-view cross-entropy (paper's α)
    student_temperature: float = 1.0
    teacher_temperature: float = 0.5  #: student_temperature / 2 in the released code


DISSL = DisslDefaults()
