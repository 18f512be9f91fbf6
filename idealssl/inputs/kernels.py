"""The compiled kernels of ``idealssl/_kernels.c``, when built.

``get(name)`` returns the kernel, or None when the optional extension is not built (no C compiler
at install) or when ``IDEALSSL_PURE_NUMPY=1`` asks for the NumPy / Python paths. Callers keep such a
path for every kernel; both give the same results (tests/check/test_fast_paths.py).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable


def get(name: str) -> Callable | None:
    if os.environ.get("IDEALSSL_PURE_NUMPY", "") not in ("", "0"):
        return None
    try:
        kernels = importlib.import_module("idealssl.inputs._kernels")
    except ImportError:
        return None
    return getattr(kernels, name, None)  # None: not built on this platform (sq_deviations_file needs pread)
