import json

import numpy as np
import pytest

from idealssl.theory_math import regular_simplex


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
    """C affinely independent codes of a regular simplex, centred (Σ rows = 0), each at distance
    sqrt((C−1)/C) from the centroid, in R^d (d ≥ C − 1; default C; padded with zeros): the rows of
    ``regular_simplex`` scaled, optionally rotated by a random orthogonal matrix."""
    d = max(d or C, C - 1)
    V = regular_simplex(C, d) * np.sqrt((C - 1) / C)
    if rng is not None:
        Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
        V = V @ Q
    return V


def origin_at(codes, beta):
    """The codes translated so that the origin lies at barycentric coordinates ``beta`` (Σ β = 1) of their
    affine hull: μ'_m = μ_m − Σ_k β_k μ_k, so Σ_m β_m μ'_m = 0 exactly in exact arithmetic. For affinely
    independent codes the origin is then inside their hull's relative interior iff every β_m > 0, on a
    face iff some β_m = 0 (and the others ≥ 0), outside iff some β_m < 0 (theory/statements.md S1.4)."""
    beta = np.asarray(beta, dtype=np.float64)
    return codes - beta @ codes


def toward_vertex(C, s):
    """Barycentric coordinates of the point a fraction ``s`` of the way from the centroid of C vertices to
    vertex 0: β = (1 − s)/C · 1 + s e_0 (inside for 0 ≤ s < 1, at the vertex for s = 1, outside for s > 1)."""
    beta = np.full(C, (1.0 - s) / C)
    beta[0] += s
    return beta


def repeat_codes(codes, k):
    """k points per orbit, all equal to the orbit's code; labels 0..C-1."""
    return np.repeat(codes, k, axis=0), np.repeat(np.arange(len(codes)), k)
