"""The trainer: configuration, loop (DDP, checkpoints, monitors), evaluation protocols, subcommands.

``idealssl train`` (:mod:`.cli_train`), ``idealssl eval`` (:mod:`.cli_eval`), ``idealssl export``
(:mod:`.cli_export`). Torch is imported lazily by the subcommands so that the CLI starts fast.

The package is also callable: ``idealssl.train(method=..., dataset=..., **overrides)`` is
:func:`idealssl.train.api.train` (a run from Python, its results returned), so that the name reads as the command does
while ``idealssl.train.config``, ``idealssl.train.loop`` and the rest stay importable.
"""

import sys
import types


class _CallableModule(types.ModuleType):
    """This package, callable as :func:`idealssl.train.api.train` (imported on the first call)."""

    def __call__(self, *args, **kwargs):
        from .api import train

        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
