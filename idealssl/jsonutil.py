"""JSON-safe copies of results: one converter for every report and result file idealssl writes."""
from __future__ import annotations

import math

import numpy as np


def plain(x):
    """A copy of ``x`` that ``json.dumps(..., allow_nan=False)`` accepts.

    Dict keys become strings; tuples and arrays become lists; NumPy scalars become Python numbers
    and booleans; non-finite floats (NaN, ±inf: a value that does not apply) become ``None``.
    """
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return plain(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else None
    return x
