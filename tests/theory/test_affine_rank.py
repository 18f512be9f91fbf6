"""theory_math.affine_rank: the one affine rank of orbit codes (S1.3), the checker's count included."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import idealssl
from idealssl.theory_math import affine_rank, code_spectra, matrix_rank


def test_the_span_counterexample_has_affine_rank_one():
    """(1,0), (1,1), (1,2) span R^2 but lie on a line: affine rank 1 (design: the paper's wording is not enough)."""
    codes = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    assert matrix_rank(codes, 1e-9) == 2
    assert affine_rank(codes, 1e-9) == 1


def test_degenerate_inputs():
    assert affine_rank(np.zeros((0, 3)), 1e-3) == 0
    assert affine_rank(np.ones((5, 3)), 1e-3) == 0  # one point, repeated
    assert affine_rank(np.array([[0.0, 0.0], [3.0, 4.0]]), 1e-3) == 1


@st.composite
def codes_of_known_rank(draw):
    """C points in an r-dimensional affine subspace of R^d, in general position within it (by construction: the
    centred coefficients are well conditioned), translated far from the origin and rotated."""
    C = draw(st.integers(2, 60))
    d = draw(st.integers(1, 12))
    r = draw(st.integers(0, min(C - 1, d)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    coef = rng.standard_normal((C, r))
    if r:
        sv = np.linalg.svd(coef - coef.mean(0), compute_uv=False)
        assume(sv[-1] > 1e-2 * sv[0])
    basis = np.linalg.qr(rng.standard_normal((d, d)))[0][:, :r]
    shift = draw(st.sampled_from([0.0, 1.0, 100.0])) * rng.standard_normal(d)
    return coef @ basis.T + shift, r


@settings(max_examples=40)
@given(codes_of_known_rank(), st.sampled_from([1e-6, 1e-3, 1e-2]))
def test_affine_rank_is_the_dimension_of_the_affine_hull(case, rtol):
    """Both spectra paths (SVD, and the Gram matrix for C > 4d) count r, whatever the translation or which point
    comes first."""
    codes, r = case
    assert affine_rank(codes, rtol) == r
    assert affine_rank(codes[::-1], rtol) == r
    assert affine_rank(codes - codes[0], rtol) == r


@settings(max_examples=20)
@given(codes_of_known_rank())
def test_the_checker_reports_the_same_affine_rank_and_spectrum(case):
    """One point per orbit: the checker's affine rank and its relative spectrum are theory_math's."""
    codes, r = case
    rep = idealssl.check(codes, np.arange(len(codes)), probe="linear", tol=1e-3).to_dict()
    detail = rep["conditions"]["affine_independence"]["detail"]
    assert detail["affine_rank"] == affine_rank(codes, 1e-3) == r
    sv, _, how = code_spectra(codes, 1e-3)
    assert detail["method"] == how
    if sv[0] > 0:
        assert detail["singular_values_relative"] == pytest.approx(list(sv / sv[0]), abs=1e-9)
