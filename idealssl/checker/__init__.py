"""The checker: is a representation ideal for a probe family? With a certificate either way.

:func:`check` (also :func:`idealssl.check`) returns a :class:`CheckReport`. Modules:

* :mod:`.api` — the orchestration: inputs → one streaming pass (:mod:`.stats`) → the decision at the
  tolerance (:mod:`.decision`: invariance, then the family's conditions of :mod:`.families`) → certificate
  and witness → the report (:mod:`.report`);
* :mod:`.geometry` — the codes' spectra and ranks, dependencies, distances, the sample-efficiency curve;
* :mod:`.graded` — the graded verdict (the decision measured again at other tolerances);
* :mod:`.certificates`, :mod:`.witness` — certificates (verified) and witness probes (evaluated);
* :mod:`.exhaustive`, :mod:`.lp` — the ``--exhaustive`` cross-check by linear programs;
* :mod:`.figure` — the report's figure (``idealssl check --plot``);
* :mod:`.cli` — ``idealssl check``.
"""

from ..probes import PROBES
from .api import DEFAULT_TOL, check
from .report import CheckReport, Condition

__all__ = ["check", "CheckReport", "Condition", "PROBES", "DEFAULT_TOL"]
