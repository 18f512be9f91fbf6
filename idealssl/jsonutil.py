"""JSON-safe copies of results: one converter for every report and result file idealssl writes."""

from __future__ import annotations

import math
import os

import numpy as np


def plain(x):
    """A copy of ``x`` that ``json.dumps(..., allow_nan=False)`` accepts.

    Dict keys become strings; tuples and arrays become lists; NumPy scalars become Python numbers
    and booleans; non-finite floats (NaN, ±inf: a value that does not apply) become ``None``; tensors (anything
    with ``detach`` and ``tolist``, so torch is not imported here) become numbers or lists; paths become strings.
    Other objects are returned unchanged (``json.dumps(..., default=str)`` writes them as text).
    """
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        if len(x) > 64 and set(map(type, x)) == {int}:  # e.g. N point labels: no per-item Python work
            return list(x)
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "biu" or (x.dtype.kind == "f" and np.isfinite(x).all()):
            return x.tolist()  # already Python bools, ints or finite floats
        return plain(x.tolist())
    return _plain_scalar(x)


def _plain_scalar(x):
    """:func:`plain` of anything but a dict, sequence or array."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else None
    if hasattr(x, "detach") and hasattr(x, "tolist"):  # a torch tensor
        return plain(x.detach().cpu().tolist())
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    return x
