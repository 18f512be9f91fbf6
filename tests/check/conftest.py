import json

import numpy as np
import pytest


@pytest.fixture
def write(tmp_path):
    """write(name, obj): .npy for arrays, JSON for the rest; returns the path as str."""

    def _write(name, obj):
        p = tmp_path / name
        if isinstance(obj, np.ndarray):
            np.save(p, obj)
        elif isinstance(obj, (bytes, bytearray)):
            p.write_bytes(obj)
        elif isinstance(obj, str):
            p.write_text(obj)
        else:
            p.write_text(json.dumps(obj))
        return str(p)

    return _write


def simplex(C, d=None, rng=None):
    """C unit-spread affinely independent codes (regular simplex) in R^d (d >= C-1), randomly rotated."""
    d = d or C
    V = np.eye(C) - 1.0 / C
    if d > C:
        V = np.hstack([V, np.zeros((C, d - C))])
    elif d < C:
        # project onto the (C-1)-dim subspace orthogonal to 1
        q, _ = np.linalg.qr(V.T)
        V = V @ q[:, : C - 1]
        V = np.hstack([V, np.zeros((C, d - (C - 1)))]) if d > C - 1 else V
    if rng is not None:
        Q, _ = np.linalg.qr(rng.standard_normal((V.shape[1], V.shape[1])))
        V = V @ Q
    return V


def repeat_codes(codes, k):
    """k points per orbit, all equal to the orbit's code; labels 0..C-1."""
    return np.repeat(codes, k, axis=0), np.repeat(np.arange(len(codes)), k)
