"""The checker: conditions per probe family, certificates, witnesses, reports.

``idealssl.check`` is both this package and the function :func:`idealssl.check.api.check`: the
module is callable, so ``idealssl.check(Z, orbits, probe="linear")`` returns a
:class:`~idealssl.check.report.CheckReport` while ``idealssl.check.lp`` etc. stay importable.
"""
import sys as _sys
import types as _types

from .api import DEFAULT_TOL, check
from .report import PROBES, CheckReport, Condition

__all__ = ["check", "CheckReport", "Condition", "PROBES", "DEFAULT_TOL"]


class _CallableModule(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        return check(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
