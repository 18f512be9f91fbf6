"""Edge-case inputs found by an adversarial review: each was a traceback, a hang or a wrong verdict.

Bad input → one line on stderr, exit 2; valid but extreme input → the same verdict as its tame twin.
"""

import io
import os
import zipfile

import numpy as np
import pytest

import idealssl
from idealssl.checker import lp
from idealssl.errors import InputError
from idealssl.inputs.orbits import load_orbits

from .test_inputs import GOOD, assert_bad, run_cli

BIG = 2**63  # one past int64


@pytest.mark.parametrize(
    "orbits,fragment",
    [
        ({"orbits": [[0, True], [2]]}, "orbits[0][1] = True is not an integer"),
        ({"orbits": [[[0, 1]], [[2]]]}, "is not an integer"),  # nested lists
        ({"orbits": [[0, 1], [BIG]]}, "beyond the int64 range"),
        ({"labels": [BIG, BIG, -1]}, "beyond the int64 range"),  # NumPy would make these floats and merge them
        ({"pairs": [[0, BIG]], "n": 3}, "beyond the int64 range"),
        (
            {"pairs": [[0, 1]], "n": 2**40},
            '"n" = 1099511627776 points but the representation has N = 3',
        ),  # no 8 TiB allocation
        ({"labels": [0, 1, 1], "p": ["0.5", "0.25", "0.25"]}, "\"p\"[0] = '0.5' is not a number"),
        ({"labels": [0, 1, 1], "p": None}, '"p" is null'),
        ({"labels": [0, 1, 1], "p": [10**400, 0, 0]}, '"p" must hold finite numbers'),
    ],
)
def test_bad_orbits_edge(capsys, write, orbits, fragment):
    assert_bad(capsys, [write("z.npy", GOOD), "--augs", write("o.json", orbits)], fragment)


def test_duplicate_json_keys_are_refused(capsys, write):
    z = write("z.npy", GOOD)
    assert_bad(
        capsys,
        [z, "--augs", write("o.json", '{"orbits": [[0, 1, 2]], "orbits": [[0], [1], [2]]}')],
        "duplicate key 'orbits'",
    )
    o = write("o2.json", {"labels": [0, 1, 2]})
    assert_bad(
        capsys,
        [z, "--augs", o, "--task", write("t.json", '{"orbit_labels": [0, 1, 0], "orbit_labels": [1, 1, 0]}')],
        "duplicate key",
    )


def test_task_labels_beyond_int64_are_refused(capsys, write):
    o = write("o.json", {"labels": [0, 1, 2]})
    assert_bad(
        capsys,
        [write("z.npy", GOOD), "--augs", o, "--task", write("t.json", {"orbit_labels": [BIG, BIG + 1, -1]})],
        "beyond the int64 range",
    )


def test_long_values_are_cut_in_messages(capsys, write):
    deep = [0]
    for _ in range(200):
        deep = [deep]
    rc, out, err = run_cli(capsys, write("z.npy", GOOD), "--augs", write("o.json", {"orbits": [deep, [1], [2]]}))
    assert rc == 2 and len(err) < 300 and err.count("\n") == 1


def test_file_name_with_newline_stays_one_line(capsys, tmp_path, write):
    rc, out, err = run_cli(capsys, str(tmp_path / "a\nb.npy"), "--augs", write("o.json", {"labels": [0, 1, 2]}))
    assert rc == 2 and err.count("\n") == 1 and "a\\nb.npy" in err


def test_fifo_is_refused_not_read(capsys, tmp_path, write):
    fifo = tmp_path / "z.npy"
    os.mkfifo(fifo)
    assert_bad(capsys, [str(fifo), "--augs", write("o.json", {"labels": [0, 1, 2]})], "not a regular file")
    assert_bad(capsys, [write("z2.npy", GOOD), "--augs", str(fifo)], "not a regular file")


def _npy_bytes(arr, version):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def test_npy_format_versions(capsys, write):
    o = write("o.json", {"labels": [0, 1, 2]})
    for version in [(1, 0), (2, 0), (3, 0)]:
        rc, out, err = run_cli(capsys, write("z.npy", _npy_bytes(GOOD, version)), "--augs", o)
        assert rc == 0, (version, err)
    data = bytearray(_npy_bytes(GOOD, (1, 0)))
    data[6] = 9  # version 9.0
    assert_bad(capsys, [write("v9.npy", bytes(data)), "--augs", o], "unsupported .npy format version 9.0")
    bad = _npy_bytes(GOOD, (1, 0)).replace(b"'descr'", b"('descr'", 1)  # an unclosed bracket in the header
    assert_bad(capsys, [write("h.npy", bad), "--augs", o], "h.npy: not a valid .npy header")


def test_corrupt_npz_members(capsys, tmp_path, write):
    o = write("o.json", {"labels": list(range(3000))})
    Z = np.random.default_rng(0).standard_normal((3000, 4))
    path = tmp_path / "z.npz"
    np.savez_compressed(path, a=Z)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("a.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(start + 200, start + info.compress_size - 100, 97):  # corrupt the deflate stream mid-way
        raw[k] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    rc, out, err = run_cli(capsys, f"{bad}:a", "--augs", o)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err


def test_extended_precision_is_refused(capsys, write):
    if np.dtype(np.longdouble).itemsize <= 8:
        pytest.skip("long double is float64 here")
    assert_bad(
        capsys,
        [write("z.npy", GOOD.astype(np.longdouble)), "--augs", write("o.json", {"labels": [0, 1, 2]})],
        "extended-precision",
    )


# ------------------------------------------------------------------ extreme but valid magnitudes
@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1e-40, 1.0, 1e40, 1e155, 1e300])
@pytest.mark.parametrize("pure_numpy", [False, True])
def test_verdicts_survive_extreme_scales(monkeypatch, scale, pure_numpy):
    """A hidden non-invariant point (1.5% of the spread) is found at every scale; ideal stays ideal.
    (At 1e155 the spread's square overflowed and the verdict was 'ideal'; at 1e-160 squares underflowed.)"""
    from idealssl.checker import stats

    if pure_numpy:
        monkeypatch.setattr(stats, "fused_kernel", None)
    Z = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    labels = [0, 0, 1, 1, 2, 2]
    for dtype in (np.float64, np.float32):
        if dtype == np.float32 and not 1e-30 <= scale <= 1e30:
            continue
        ideal = (Z * scale).astype(dtype)
        r = idealssl.check(ideal, labels)
        assert r.ideal and r.counterexample is None, (scale, dtype)
        w = idealssl.check(ideal, labels, task={"orbit_labels": [0, 1, 0]}).witness
        assert w["fits"], (scale, dtype)
        off = Z.copy()
        off[1, 0] = 0.015
        r = idealssl.check((off * scale).astype(dtype), labels)
        assert not r.ideal and not r.conditions["invariance"].holds, (scale, dtype)
        assert r.counterexample["kind"] == "non_invariant" and r.counterexample["verified"]
        assert (
            abs(r.conditions["invariance"].value - 0.015 / (2 / 3)) < 1e-6
        )  # relative to the spread √(Σ‖μ_m − μ̄‖²/C) = 2/3
        erm = r.counterexample["proof"]["erm_probe"]  # acts on the user's (unscaled) points
        s = (off * scale).astype(np.float64)[[0, 1]] @ np.asarray(erm["W"]).T + np.asarray(erm["b"])
        assert s[0, 1] > s[0, 0] and s[1, 0] > s[1, 1]


# ------------------------------------------------------------------ Python API arguments
def test_api_arguments():
    Z, labels = GOOD, [0, 1, 2]
    assert idealssl.check(Z, labels, task=[0, 1, 1]).witness["fits"]  # a task as a list of orbit labels
    assert idealssl.check(Z, labels, task=np.array([1, 0, 1])).witness["fits"]
    assert idealssl.check(Z, labels, tol=np.float32(1e-4)).ideal
    for kwargs, fragment in [
        ({"task": 3}, "a task is a JSON path"),
        ({"threads": "2"}, "threads must be a positive integer"),
        ({"threads": None}, "threads must be a positive integer"),
        ({"tol": 1e-17}, "float64 rounding"),
        ({"tol": "1e-4"}, "tolerance must be a number"),
    ]:
        with pytest.raises(InputError, match=fragment):
            idealssl.check(Z, labels, **kwargs)
    with pytest.raises(InputError, match="masked array"):
        idealssl.check(np.ma.masked_array(Z, mask=np.zeros_like(Z, dtype=bool)), labels)
    with pytest.raises(InputError, match="labels holds|beyond|integers or strings"):
        idealssl.check(Z, np.array([1e19, 2e19, 0.0]))  # not exact integers: never cast to INT64_MIN
    with pytest.raises(InputError, match="must be an integer"):
        load_orbits({"labels": [0, 1, 2]}, n="3")
    p = load_orbits(
        {"labels": [0, 1, 1], "p": [np.float64(0.5), np.float32(0.5), np.int64(0)]}
    ).p  # NumPy scalars are numbers
    assert p.tolist() == [0.5, 0.5, 0.0]
    with pytest.raises(InputError, match=r"\"p\"\[1\] = np.True_ is not a number"):
        load_orbits({"labels": [0, 1, 1], "p": [1.0, np.True_, 0.0]})
    with pytest.raises(InputError, match="flat array of real numbers"):
        load_orbits({"labels": [0, 1, 2], "p": np.array([True, False, False])})
    with pytest.raises(InputError, match="representation path"):
        idealssl.inputs.representation.load_representation(None)


# ------------------------------------------------------------------ verdict edge cases (adversarial review)
def test_exhaustive_margin_on_a_nearly_flat_triangle_is_exact_and_fast():
    """sklearn's SVC with C = 1e10 spun for minutes here; the hull-distance NNLS is exact: the worst
    labelling separates the apex from the base, margin h/2."""
    import time

    h = 0.01
    Z = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, h]]) + 3.0
    t = time.perf_counter()
    r = idealssl.check(Z, [0, 1, 2], exhaustive=True)
    assert time.perf_counter() - t < 20
    codes = Z - Z.mean(axis=0)
    spread = np.sqrt(np.mean(np.sum(codes**2, axis=1)))
    assert r.ideal and r.exhaustive["agrees"]
    assert abs(r.exhaustive["exact_worst_case_margin"] * spread - h / 2) < 1e-7


def test_mlp_witness_fits_many_codes_with_small_deviations():
    """600 codes on one projection leave gaps far below the allowed deviations; the nearest-code
    (maxout) network fits every point, and its scores are recomputed here from the printed weights."""
    rng = np.random.default_rng(0)
    C, d, per = 600, 50, 3
    codes = rng.standard_normal((C, d))
    spread = np.sqrt(np.mean(np.sum((codes - codes.mean(0)) ** 2, axis=1)))
    Z = np.repeat(codes, per, axis=0)
    noise = rng.standard_normal(Z.shape)
    noise[::per] = 0.0  # each orbit's first point is its code
    Z += 0.9e-4 * spread * noise / np.linalg.norm(noise, axis=1, keepdims=True).clip(1e-300)
    labels = np.repeat(np.arange(C), per)
    task = {"orbit_labels": (np.arange(C) % 2).tolist()}
    r = idealssl.check(Z, labels, probe="mlp", task=task)
    assert r.ideal and r.witness["fits"], r.notes
    w = r.witness["probe"]
    assert w["kind"] == "maxout"  # the one-projection network misclassifies some points here
    if w["kind"] == "maxout":
        U = Z @ np.asarray(w["W"]).T + np.asarray(w["b"])
        cls = np.asarray(w["unit_class"])
        S = np.stack([U[:, cls == k].max(axis=1) for k in range(w["n_classes"])], axis=1)
        assert (S.argmax(axis=1) == (labels % 2)).all()


def test_linear_nobias_accepts_positive_multiples_within_an_orbit():
    Z = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    orbits = {"orbits": [[0, 1], [2]]}
    r = idealssl.check(Z, orbits, probe="linear-nobias", task={"orbit_labels": [1, 0]})
    assert r.ideal and r.witness["fits"]  # argmax(W z) cannot tell e1 from 2 e1
    assert not idealssl.check(Z, orbits).ideal  # an affine probe can
    flipped = np.array([[1.0, 0.0], [-1.0, 0.5], [0.0, 1.0]])
    r = idealssl.check(flipped, orbits, probe="linear-nobias")
    ce = r.counterexample
    assert not r.ideal and ce["kind"] == "non_invariant" and ce["verified"]
    probe = ce["proof"]["erm_probe"]
    assert probe["kind"] == "linear" and not any(probe["b"])  # an ERM of the family: no bias
    W = np.asarray(probe["W"])
    s = flipped[[ce["proof"]["train_indices"][0], ce["proof"]["misclassified"]]] @ W.T
    assert s[0, 1] > s[0, 0] and s[1, 0] > s[1, 1]


def test_identical_codes_have_zero_spread_and_a_verified_certificate():
    Z = np.tile(np.array([3.1, -7.7, 0.3, 1e3, 5.0]), (6, 1))
    r = idealssl.check(Z, list(range(6)))
    assert not r.ideal and r.counterexample["verified"]
    assert r.conditions["invariance"].detail["code_spread"] == 0
    assert any("zero spread" in n for n in r.notes)


def test_one_orbit_note_says_the_value_depends_on_the_origin():
    r = idealssl.check(np.array([[0.0, 0.0], [1.0, 0.0]]), [0, 0])
    assert any("one orbit" in n and "origin" in n for n in r.notes)
    assert "n/a" in str(idealssl.check(np.zeros((1, 2)), [0], probe="mlp"))


def test_nobias_one_sided_dependency_without_zero_is_ideal_with_a_zero_is_not():
    """Issue 11: codes 1 and −1 (dependency α = (1, 1), the origin inside their hull) are ideal for
    argmax(W z): w = 1 separates them. The old checker said NOT IDEAL with the constant labelling
    [1, 1] as its "certificate"; a constant task is fitted by any probe."""
    r = idealssl.check(np.array([[1.0], [-1.0]]), [0, 1], probe="linear-nobias", exhaustive=True, task=[1, 0])
    assert r.ideal and r.counterexample is None and r.witness["fits"]
    assert r.exhaustive["n_labellings"] == 1 and r.exhaustive["agrees"]  # the constant labelling is not enumerated
    # α = (1, 1, 0): one-signed with a zero; its support {0, 1} vs the rest is the certificate
    Z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    r = idealssl.check(Z, [0, 1, 2], probe="linear-nobias", exhaustive=True)
    ce = r.counterexample
    assert not r.ideal and ce["kind"] == "radon" and ce["verified"] and ce["orbit_labels"] == [1, 1, 0]
    assert not lp.separable(Z, np.array([1.0, 1.0, -1.0]), bias=False) and r.exhaustive["agrees"]


def test_nobias_zero_point_in_an_orbit_gets_a_verified_certificate():
    Z = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    r = idealssl.check(Z, {"orbits": [[0, 2], [1]]}, probe="linear-nobias")
    ce = r.counterexample
    assert not r.ideal and ce["verified"] and ce["proof"]["zero_point"] == 2
    assert not Z[ce["proof"]["zero_point"]].any()


@pytest.mark.parametrize("seed", range(8))
def test_small_real_spread_far_from_the_origin_is_not_rounding(seed):
    """Codes 1e3 + 1e-9·N(0, 1): ~10^4 ulps of spread, affinely independent; the rounding floor must
    not erase it (it did when the floor was relative to ‖codes‖_F, which grows with the translation)."""
    codes = 1e3 + 1e-9 * np.random.default_rng(seed).standard_normal((4, 3))
    r = idealssl.check(codes, [0, 1, 2, 3], exhaustive=True)
    assert r.ideal and r.exhaustive["agrees"], (r.conditions["affine_independence"].value, r.notes)
