"""The checker's fast paths give exactly what the plain paths give.

* the compiled gather-subtract-norm kernel (``sq_deviations`` in ``idealssl/_kernels.c``) vs NumPy;
* ``Representation.rows`` (coalesced positioned reads) vs indexing the array;
* the large-file parser of ``{"labels": [ints]}`` vs the JSON parser;
* a pass over a file keeps its resident set small (one reused read buffer).
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import idealssl
import idealssl.checker.stats as stats
import idealssl.inputs.representation as representation
from idealssl.checker.stats import orbit_stats
from idealssl.errors import InputError
from idealssl.inputs.orbits import _fast_integer_labels, load_orbits, orbits_from_labels
from idealssl.inputs.representation import from_array, load_representation

try:  # the extension itself, whether or not IDEALSSL_PURE_NUMPY is set
    from idealssl.inputs._kernels import parse_int_list
    from idealssl.inputs._kernels import sq_deviations as kernel
except ImportError:  # pragma: no cover - built by `pip install -e .` wherever a C compiler exists
    kernel = parse_int_list = None
needs_kernel = pytest.mark.skipif(kernel is None, reason="the optional C extension is not built")


def test_kernel_is_built_when_a_compiler_exists():
    """`pip install -e .` builds the extension wherever a C compiler is on PATH (as in CI)."""
    if os.environ.get("IDEALSSL_PURE_NUMPY", "") not in ("", "0"):
        pytest.skip("IDEALSSL_PURE_NUMPY asks for the NumPy path")
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler on PATH")
    assert kernel is not None and stats.fused_kernel is kernel, (
        "the C extension idealssl.inputs._kernels was not built: reinstall with `pip install -e .`"
    )


@needs_kernel
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 70),
    C=st.integers(1, 9),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
    scale=st.sampled_from([1e-30, 1.0, 1e15]),
)
def test_kernel_matches_numpy(n, d, C, dtype, seed, scale):
    rng = np.random.default_rng(seed)
    Z = (rng.standard_normal((n, d)) * scale).astype(dtype)
    R = (rng.standard_normal((C, d)) * scale).astype(dtype)
    lab = rng.integers(0, C, n)
    out = np.full(n, np.nan)
    kernel(Z, R, lab, out)
    diff = (Z - R[lab]).astype(np.float64)  # the difference in the data's precision, as documented
    np.testing.assert_allclose(out, np.einsum("ij,ij->i", diff, diff), rtol=1e-12, atol=0)


def lane_order_reference(Z: np.ndarray, R: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """The kernel's documented order of additions (idealssl/inputs/_kernels.c), in NumPy: W lanes (4 for float32,
    2 for float64), lane l summing the squares of columns l, l + W, ... of the first W * (d // W) columns in order,
    the other columns added to lane 0 in order, then (((lane 0 + 0) + lane 1) + lane 2) + lane 3."""
    W = 4 if Z.dtype == np.float32 else 2
    t = (Z - R[lab]).astype(np.float64)  # the difference in the data's precision; its square is exact in float64
    sq = t * t
    lanes = np.zeros((len(Z), W))
    full = W * (Z.shape[1] // W)
    for k in range(0, full, W):
        lanes += sq[:, k : k + W]
    for k in range(full, Z.shape[1]):
        lanes[:, 0] += sq[:, k]
    out = lanes[:, 0] + 0.0
    for j in range(1, W):
        out = out + lanes[:, j]
    return out


KERNEL_ORDER_SCRIPT = """
import sys, numpy as np
from idealssl.inputs._kernels import sq_deviations
cases = np.load(sys.argv[1])
outs = {}
for k in range(len(cases.files) // 3):
    Z, R, lab = cases[f"z{k}"], cases[f"r{k}"], cases[f"l{k}"]
    outs[f"o{k}"] = np.empty(len(Z))
    sq_deviations(Z, R, lab, outs[f"o{k}"])
np.savez(sys.argv[2], **outs)
"""


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_adds_in_its_documented_order_with_and_without_avx2(tmp_path, dtype):
    """Bit for bit the order written in the C source, on every d from 1 to 70 (all remainders of the lanes, groups
    of rows that do not fill the last group) and on the AVX2 path (float32, where the CPU has it) as on the portable
    one (IDEALSSL_NO_AVX2=1): a compiler's choice of vector width changes no result."""
    rng = np.random.default_rng(11)
    cases, refs = {}, []
    for k, d in enumerate(range(1, 71)):
        n, C = int(rng.integers(1, 12)), int(rng.integers(1, 5))
        scale = 10.0 ** rng.integers(-6, 7, size=(1, d))
        Z = (rng.standard_normal((n, d)) * scale).astype(dtype)
        R = (rng.standard_normal((C, d)) * scale).astype(dtype)
        lab = rng.integers(0, C, n)
        cases.update({f"z{k}": Z, f"r{k}": R, f"l{k}": lab})
        refs.append(lane_order_reference(Z, R, lab))
        out = np.full(n, np.nan)
        kernel(Z, R, lab, out)
        assert np.array_equal(out.view(np.int64), refs[-1].view(np.int64)), d
    np.savez(tmp_path / "cases.npz", **cases)
    env = {**os.environ, "IDEALSSL_NO_AVX2": "1"}
    cmd = [sys.executable, "-c", KERNEL_ORDER_SCRIPT, tmp_path / "cases.npz", tmp_path / "out.npz"]
    subprocess.run(cmd, check=True, env=env, timeout=120)
    portable = np.load(tmp_path / "out.npz")
    for k, ref in enumerate(refs):
        assert np.array_equal(portable[f"o{k}"].view(np.int64), ref.view(np.int64)), k + 1


@needs_kernel
def test_kernel_rejects_bad_arguments():
    Z = np.zeros((4, 3), np.float32)
    R = np.zeros((2, 3), np.float32)
    lab = np.array([0, 1, 1, 0])
    out = np.zeros(4)
    kernel(Z, R, lab, out)
    with pytest.raises(ValueError, match=r"labels\[2\] = 2 is outside 0..1"):
        kernel(Z, R, np.array([0, 1, 2, 0]), out)
    with pytest.raises(ValueError, match="outside"):
        kernel(Z, R, np.array([0, -1, 0, 0]), out)
    with pytest.raises(TypeError, match="float32 or both float64"):
        kernel(Z, R.astype(np.float64), lab, out)
    with pytest.raises(TypeError):
        kernel(Z, R, lab.astype(np.int32), out)
    with pytest.raises(TypeError):
        kernel(Z, R, lab, out.astype(np.float32))
    with pytest.raises(ValueError, match="shapes"):
        kernel(Z, np.zeros((2, 2), np.float32), lab, out)
    with pytest.raises(ValueError, match="shapes"):
        kernel(Z, R, lab[:3], out)
    with pytest.raises(ValueError, match="expected block"):
        kernel(Z.ravel(), R, lab, out)
    with pytest.raises((BufferError, ValueError), match="contiguous"):
        kernel(np.asfortranarray(np.zeros((4, 3), np.float32)), R, lab, out)
    with pytest.raises((BufferError, ValueError)):  # read-only output
        ro = np.zeros(4)
        ro.flags.writeable = False
        kernel(Z, R, lab, ro)


@needs_kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("overflow", [False, True])
def test_the_compiled_file_pass_equals_the_chunked_pass_bit_for_bit(tmp_path, monkeypatch, dtype, overflow):
    """``stats.file_kernel`` (pread and sums in C, per segment) gives every statistic of the chunked kernel pass
    exactly, over many segments and reads, 1 and 2 threads; a float32 difference that overflows (rows 500-501)
    hands the rest of the range to the chunked path, which recomputes it in float64."""
    if stats.file_kernel is None:
        pytest.skip("the compiled file pass is not built")
    monkeypatch.setattr(representation, "CHUNK_BYTES", 8 * 11 * 16)  # 16 rows of 11 dims per read
    monkeypatch.setattr(stats, "SEGMENT_ROWS", 40)
    rng = np.random.default_rng(5)
    n, d, C = 1003, 11, 37
    Z = (rng.standard_normal((n, d)) * 10).astype(dtype)
    labels = rng.integers(0, C, n)
    labels[:C] = np.arange(C)
    if overflow:
        Z[500, 0], Z[501, 0], labels[500], labels[501] = 3e38, -3e38, 3, 3
        Z[3, 0] = -3e38  # orbit 3's code: 3e38 - (-3e38) overflows float32, not float64
    np.save(tmp_path / "z.npy", Z)
    orb = orbits_from_labels(labels)
    calls = []
    compiled = stats.file_kernel
    monkeypatch.setattr(stats, "file_kernel", lambda *a: calls.append(a[2]) or compiled(*a))
    for threads in (1, 2):
        got = orbit_stats(load_representation(tmp_path / "z.npy"), orb, threads=threads)
        monkeypatch.setattr(stats, "file_kernel", None)
        ref = orbit_stats(load_representation(tmp_path / "z.npy"), orb, threads=threads)
        monkeypatch.setattr(stats, "file_kernel", lambda *a: calls.append(a[2]) or compiled(*a))
        for f in ("codes", "max_dev", "mean_sq_dev", "argmax_dev", "sizes", "first"):
            assert np.array_equal(getattr(got, f), getattr(ref, f)), (f, threads)
    assert len(calls) > 2 * (n // 40) // 2  # the compiled pass ran, segment by segment
    if overflow:
        assert np.isfinite(got.max_dev).all() and got.max_dev[3] > 1e38


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_pass_same_with_and_without_kernel(tmp_path, monkeypatch, dtype):
    """orbit_stats over a .npy file (many chunks, 2 threads) is the
    same with the compiled kernel and with NumPy."""
    monkeypatch.setattr(representation, "CHUNK_BYTES", 8 * 11 * 16)  # 16 rows of 11 dims
    rng = np.random.default_rng(3)
    n, d, C = 997, 11, 37
    Z = (rng.standard_normal((n, d)) * 10).astype(dtype)
    labels = rng.integers(0, C, n)
    labels[:C] = np.arange(C)
    np.save(tmp_path / "z.npy", Z)
    orb = orbits_from_labels(labels)
    monkeypatch.setattr(stats, "fused_kernel", kernel)
    got = orbit_stats(load_representation(tmp_path / "z.npy"), orb, threads=2)
    monkeypatch.setattr(stats, "fused_kernel", None)
    ref = orbit_stats(load_representation(tmp_path / "z.npy"), orb, threads=2)
    plain = orbit_stats(from_array(Z.astype(np.float64)), orb, threads=1)
    for f in ("codes", "max_dev", "mean_sq_dev", "argmax_dev", "sizes", "first"):
        np.testing.assert_allclose(getattr(got, f), getattr(ref, f), rtol=1e-6)
        np.testing.assert_allclose(getattr(got, f), getattr(plain, f), rtol=1e-5)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    index=st.lists(st.integers(0, 299), min_size=0, max_size=60),
    gap=st.integers(0, 6),
    chunk_rows=st.integers(1, 50),
    dtype=st.sampled_from(["<f4", ">f8", "<i2"]),
)
def test_rows_match_indexing(tmp_path_factory, index, gap, chunk_rows, dtype):
    """Coalesced positioned reads return exactly the requested rows (unsorted, repeated, any gaps,
    reads split at CHUNK_BYTES)."""
    path = tmp_path_factory.mktemp("rows") / f"z{dtype[1:]}.npy"
    Z = np.arange(300 * 5).reshape(300, 5).astype(dtype)
    np.save(path, Z)
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(representation, "ROW_GAP", gap)
        mp.setattr(representation, "CHUNK_BYTES", chunk_rows * 5 * Z.dtype.itemsize)
        got = load_representation(path).rows(np.array(index, dtype=np.int64))
    finally:
        mp.undo()
    assert got.dtype == np.float64 and got.shape == (len(index), 5)
    np.testing.assert_array_equal(got, Z[np.array(index, dtype=np.int64)].astype(np.float64))


def test_rows_truncated_file(tmp_path):
    Z = np.ones((50, 4), np.float32)
    np.save(tmp_path / "z.npy", Z)
    rep = load_representation(tmp_path / "z.npy")
    with open(tmp_path / "z.npy", "r+b") as f:
        f.truncate(os.path.getsize(tmp_path / "z.npy") - 8)
    with pytest.raises(InputError, match="truncated"):
        rep.rows(np.array([3, 49]))


# --------------------------------------------------------------------------- the labels fast path
_tokens = st.one_of(
    st.integers(-(10**17) + 1, 10**17 - 1).map(str),
    st.sampled_from(
        [
            "01",
            "-",
            "--1",
            "1.5",
            "1e3",
            "+1",
            "0",
            "-0",
            "00",
            "-01",
            "7 8",
            "1-2",
            "- 1",
            '"a"',
            "",
            "true",
            "99999999999999999999",
            "9223372036854775808",
            "100000000000000000",
            "[1]",
        ]
    ),
)
_seps = st.sampled_from([",", ", ", " ,", ",\n", "\t,\r\n ", ",,", " ", "", ";", "\u00a0,"])


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(st.tuples(_tokens, _seps), max_size=12),
    last=_tokens,
    pad=st.sampled_from(["", " ", "\n\t"]),
    pure=st.booleans(),
)
def test_fast_labels_agree_with_json(tmp_path_factory, items, last, pad, pure):
    """Whenever the fast parser answers (compiled, or NumPy with IDEALSSL_PURE_NUMPY=1), it answers
    what the JSON parser reads; whatever JSON rejects or reads as something other than integers, it
    declines (None); a well-formed list of integers below 10^17 it always answers."""
    body = "".join(a + b for a, b in items) + last
    text = f'{pad}{{{pad}"labels"{pad}:{pad}[{pad}{body}{pad}]{pad}}}{pad}'
    path = tmp_path_factory.mktemp("lab") / "o.json"
    path.write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IDEALSSL_PURE_NUMPY", "1" if pure else "0")
        fast = _fast_integer_labels(str(path))
    try:
        parsed = json.loads(text)["labels"]
        ints = len(parsed) > 0 and all(type(v) is int for v in parsed)
    except ValueError:
        parsed, ints = None, False
    if fast is not None:
        assert ints and fast.dtype == np.int64 and fast.tolist() == parsed
    elif ints and all(abs(v) < 10**17 for v in parsed):
        assert set(text) - set('0123456789-,[]{}":labels \t\n\r'), "a plain integer list was left to the slow parser"


@needs_kernel
def test_parse_int_list_bounds_and_arguments():
    out = np.zeros(3, dtype=np.int64)
    assert parse_int_list(b" 1, -2 ,3 ", out) == 3 and out.tolist() == [1, -2, 3]
    assert parse_int_list(b"1,2,3,4", out) == -1  # more numbers than room: never writes past the end
    assert parse_int_list(b"", out) == -1 and parse_int_list(b"  ", out) == -1
    assert parse_int_list(b"12345678901234567", out) == 1 and out[0] == 12345678901234567
    assert parse_int_list(b"123456789012345678", out) == -1  # 18 digits: left to the JSON parser
    with pytest.raises(TypeError):
        parse_int_list("1,2", out)  # str, not bytes
    ro = np.zeros(3, dtype=np.int64)
    ro.flags.writeable = False
    with pytest.raises((TypeError, BufferError, ValueError)):
        parse_int_list(b"1", ro)


def test_fast_labels_through_load_orbits(tmp_path):
    """A > 1 MB labels file takes the fast path and gives the same orbits as the JSON parser."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5000, 300_000)
    labels[:5000] = rng.permutation(5000)
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"labels": labels.tolist()}, indent=1))
    assert os.path.getsize(path) > 1 << 20 and _fast_integer_labels(str(path)) is not None
    fast = load_orbits(str(path), n=len(labels))
    ref = orbits_from_labels(labels.tolist())
    np.testing.assert_array_equal(fast.labels, ref.labels)
    assert fast.names == ref.names and fast.n_orbits == ref.n_orbits
    # gaps in the label values: relabelled in order, like np.unique
    sparse = labels * 3 + 7
    path.write_text(json.dumps({"labels": sparse.tolist()}))
    np.testing.assert_array_equal(load_orbits(str(path)).labels, np.unique(sparse, return_inverse=True)[1])


def test_labels_array_is_not_aliased():
    """Orbits never share memory with the caller's label array (the caller may change it)."""
    lab = np.array([0, 1, 1, 2, 0], dtype=np.int64)
    orb = orbits_from_labels(lab)
    lab[0] = 2
    assert orb.labels[0] == 0


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc (Linux)")
def test_pass_keeps_resident_set_small(tmp_path):
    """A pass over a 256 MB float32 file keeps the checker's peak RSS far below the file size (pages
    read into one reused buffer). Measured as the child's own VmHWM: ``ru_maxrss`` would also count the
    parent's peak, which a child inherits through exec."""
    n, d = 131_072, 512
    path = tmp_path / "big.npy"
    Z = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(0)
    for s in range(0, n, 16384):
        Z[s : s + 16384] = rng.standard_normal((16384, d), dtype=np.float32)
    Z.flush()
    del Z
    (tmp_path / "o.json").write_text(json.dumps({"labels": (np.arange(n) % 1000).tolist()}))
    code = (
        "import sys; from idealssl.cli import main\n"
        "code = main(['check', sys.argv[1], '--augs', sys.argv[2], '--json'])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(hwm, code, file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "o.json")], capture_output=True, text=True, check=True
    )
    hwm_kib, exit_code = map(int, out.stderr.strip().splitlines()[-1].split())
    assert exit_code == 1 and json.loads(out.stdout)["n_points"] == n  # C - 1 > d: not ideal
    assert hwm_kib / 1024 < 160, f"peak RSS {hwm_kib / 1024:.0f} MiB for a 256 MiB file"


@pytest.mark.parametrize("C,d,offset", [(7, 3, 0.0), (300, 5, 0.0), (300, 5, 1e3), (50, 8, 1e-3)])
def test_spread_from_the_spectrum(C, d, offset):
    """The reported code spread, read off the singular values (Σσ² = ‖μ − μ̄‖_F²; Gram matrix when
    C > 4d), equals the direct RMS distance of the codes to their centroid."""
    rng = np.random.default_rng(C)
    codes = rng.standard_normal((C, d)) + offset
    r = idealssl.check(np.repeat(codes, 2, axis=0), np.repeat(np.arange(C), 2))
    direct = np.sqrt(np.mean(np.sum((codes - codes.mean(axis=0)) ** 2, axis=1)))
    assert r.conditions["invariance"].detail["code_spread"] == pytest.approx(direct, rel=1e-9)


def test_plain_fast_paths_give_what_the_slow_path_gives():
    """idealssl.jsonutil.plain: long int lists and finite numeric arrays skip the per-item walk;
    the result is the same JSON-safe value."""
    from idealssl.jsonutil import plain

    assert plain(list(range(100))) == list(range(100))
    assert plain([True] * 100) == [True] * 100 and type(plain([True] * 100)[0]) is bool
    mixed = [1] * 99 + [float("nan")]
    assert plain(mixed)[-1] is None and plain(mixed)[:99] == [1] * 99
    assert [type(v) for v in plain([np.int64(3)] * 100)] == [int] * 100
    assert plain(np.array([1.0, np.inf, -np.nan])) == [1.0, None, None]
    assert plain(np.arange(3)) == [0, 1, 2] and type(plain(np.arange(3))[0]) is int
    assert plain(np.array([True, False])) == [True, False]
    assert plain(np.ones((2, 2), np.float32)) == [[1.0, 1.0], [1.0, 1.0]]
    out = [1] * 100
    assert plain(out) is not out  # a copy


def test_rows_read_by_the_compiled_runs_equal_pythons_reads_and_name_the_same_truncated_row(tmp_path, monkeypatch):
    """``Representation.rows`` with ``pread_runs`` (the compiled reads of scattered runs) gives the same rows as its
    Python reads, and on a file that ends inside a run the same one-line error (the row named)."""
    compiled = representation._pread_runs
    if compiled is None:
        pytest.skip("the compiled kernels are not built")
    rng = np.random.default_rng(9)
    Z = rng.standard_normal((3000, 7)).astype(np.float32)
    np.save(tmp_path / "z.npy", Z)
    index = np.r_[rng.integers(0, 3000, 400), np.arange(0, 3000, 6), [2999, 0, 0]]
    calls = []
    monkeypatch.setattr(representation, "_pread_runs", lambda *a: calls.append(1) or compiled(*a))
    got = load_representation(tmp_path / "z.npy").rows(index)
    assert calls and np.array_equal(got, Z[index].astype(np.float64))
    rep = load_representation(tmp_path / "z.npy")
    os.truncate(tmp_path / "z.npy", 128 + 7 * 4 * 2500 + 9)  # ends inside row 2500
    errors = []
    for kernel in (compiled, None):
        monkeypatch.setattr(representation, "_pread_runs", kernel)
        with pytest.raises(InputError, match="truncated") as exc:
            rep.rows(index)
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and "data ends inside row 250" in errors[0], errors  # the first run past row 2500


@pytest.mark.parametrize("noise", [0.0, 1e-3])
def test_spectra_during_the_pass_give_the_report_of_one_thread_bit_for_bit(tmp_path, monkeypatch, noise):
    """With threads > 1 the codes' spectra are computed in a thread beside the streaming pass (api._stream); the
    report (every spectrum, rank, bound and verdict) equals the one-thread report exactly. C = 30 > 4d takes the
    d x d Gram route of code_spectra; many chunks of rows; invariant codes (rank fails) and noisy ones."""
    from idealssl.checker.api import check

    monkeypatch.setattr(representation, "CHUNK_BYTES", 8 * 6 * 16)  # 16 rows of 6 dims per read
    rng = np.random.default_rng(5)
    C, d, m = 30, 6, 10
    Z = np.repeat(rng.standard_normal((C, d)), m, axis=0) + noise * rng.standard_normal((C * m, d))
    perm = rng.permutation(C * m)
    np.save(tmp_path / "z.npy", Z[perm].astype(np.float32))
    labels = np.repeat(np.arange(C), m)[perm].tolist()
    reports = [check(tmp_path / "z.npy", labels, threads=t).to_dict() for t in (1, 2, 3)]
    assert reports[0]["ideal"] is False
    assert reports[0]["conditions"]["invariance"]["holds"] is (noise == 0.0)
    assert reports[1] == reports[0] and reports[2] == reports[0]
