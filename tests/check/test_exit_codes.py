"""Exit 1 means "not ideal" and nothing else: bad input is exit 2 with one line on stderr, and valid input at the
edges of the number formats gets the verdict of its tame twin.

Every case goes through the command line as a user types it (``idealssl.cli.main``, or a child process where the
failure would kill the process or needs a real file descriptor).
"""

import json
import os

import numpy as np
import pytest

import idealssl
from idealssl.cli import main
from idealssl.errors import InputError

PROBES = ["linear", "linear-nobias", "mlp"]


def cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_exit_2(rc, out, err, fragment=""):
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, (rc, out, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert fragment in lines[0], lines[0]


def save(tmp_path, name, obj):
    path = tmp_path / name
    if isinstance(obj, np.ndarray):
        np.save(path, obj)
    elif isinstance(obj, str):
        path.write_text(obj)
    else:
        path.write_text(json.dumps(obj))
    return str(path)


# ---------------------------------------------------------------- values near the bottom of the float range
def centred_simplex(C):
    """The centred regular simplex as the difference of two vertices of the standard one (no basis choice)."""
    return np.eye(C) - 1.0 / C


@pytest.mark.parametrize("probe", PROBES)
@pytest.mark.parametrize("scale", [1e-310, 1e-320, 2.0**-1060])
def test_a_subnormal_simplex_has_the_simplex_verdict(capsys, tmp_path, probe, scale):
    """Ideality is scale invariant: the simplex scaled into the subnormal range is judged as the simplex."""
    S = centred_simplex(4)
    o = save(tmp_path, "o.json", {"labels": [0, 1, 2, 3]})
    rc_ref, out_ref, _ = cli(capsys, "check", save(tmp_path, "s.npy", S), "--augs", o, "--probe", probe, "--json")
    assert rc_ref == 0
    tiny = S * scale
    assert (np.abs(tiny[tiny != 0]) < np.finfo(np.float64).tiny).all()  # every non-zero entry is subnormal
    rc, out, err = cli(capsys, "check", save(tmp_path, "t.npy", tiny), "--augs", o, "--probe", probe, "--json")
    assert (rc, err) == (0, ""), err
    ref, got = json.loads(out_ref), json.loads(out)
    assert got["ideal"] is True
    assert set(got["conditions"]) == set(ref["conditions"])


@pytest.mark.parametrize("probe", PROBES)
def test_two_subnormal_orbits_are_ideal(capsys, tmp_path, probe):
    """[[5e-320], [-5e-320]] in two orbits: two distinct codes symmetric about 0, ideal for every family."""
    z = save(tmp_path, "z.npy", np.array([[5e-320], [-5e-320]]))
    o = save(tmp_path, "o.json", {"labels": [0, 1]})
    rc, out, err = cli(capsys, "check", z, "--augs", o, "--probe", probe)
    assert (rc, err) == (0, ""), err
    assert "IDEAL" in out and "NOT IDEAL" not in out


def test_the_python_api_agrees_on_subnormal_input():
    S = centred_simplex(5)
    rep = idealssl.check(S * 1e-315, np.arange(5), probe="linear")
    assert rep.ideal
    assert idealssl.check(S * 1e-315, np.array([0, 1, 2, 3, 3]), probe="linear").ideal is False


@pytest.mark.parametrize("scale", [1e-315, 1e300])
def test_probes_printed_for_extreme_values_are_finite_and_act_on_the_users_numbers(scale):
    """A witness and a certificate's ERM probe act on Z as given: finite numbers, and their predictions on the
    user's points are the ones the report states (the rescaled problem is the checker's business)."""
    from idealssl.checker.witness import predict

    Z = centred_simplex(5) * scale
    rep = idealssl.check(Z, np.arange(5), task={"orbit_labels": [0, 1, 0, 1, 2]})
    w = rep.witness
    assert w["fits"], w
    probe = {k: np.asarray(v) if isinstance(v, list) else v for k, v in w["probe"].items()}
    assert all(np.isfinite(v).all() for v in probe.values() if isinstance(v, np.ndarray))
    assert predict(probe, Z)[0].tolist() == [0, 1, 0, 1, 2]
    Z2 = np.vstack([Z, 0.5 * Z[3]])  # orbit 3 holds two different points
    bad = idealssl.check(Z2, np.array([0, 1, 2, 3, 4, 3]))
    c = bad.counterexample
    assert c["kind"] == "non_invariant" and c["verified"]
    erm = {k: np.asarray(v) if isinstance(v, list) else v for k, v in c["proof"]["erm_probe"].items()}
    assert np.isfinite(erm["W"]).all() and np.isfinite(erm["b"]).all()
    pred, strict = predict(erm, Z2[[c["proof"]["train_indices"][0], c["proof"]["misclassified"]]])
    assert pred.tolist() == [1, 0] and strict.all()


# ---------------------------------------------------------------- labels compared as the JSON gives them
def test_labels_differing_by_a_trailing_nul_are_two_orbits(capsys, tmp_path):
    z = save(tmp_path, "z.npy", np.array([[0.0], [1.0]]))
    o = save(tmp_path, "o.json", '{"labels": ["a\\u0000", "a"]}')
    rc, out, err = cli(capsys, "check", z, "--augs", o, "--json")
    assert (rc, err) == (0, ""), (out, err)
    report = json.loads(out)
    assert report["n_orbits"] == 2 and report["orbit_ids"] == ["a", "a\x00"]


def test_task_classes_differing_by_a_trailing_nul_are_two_classes(capsys, tmp_path):
    z = save(tmp_path, "z.npy", np.array([[0.0], [1.0], [2.0]]))
    o = save(tmp_path, "o.json", {"labels": [0, 1, 2]})
    t = save(tmp_path, "t.json", '{"orbit_labels": ["x\\u0000", "x", "x"]}')
    rc, out, err = cli(capsys, "check", z, "--augs", o, "--task", t, "--probe", "mlp", "--json")
    assert (rc, err) == (0, ""), err
    witness = json.loads(out)["witness"]
    assert witness["classes"] == ["x", "x\x00"] and witness["fits"]


def long_label_problem(tmp_path, n=20_000):
    """n points labelled "a" and one labelled by a 2,000,000-character string: two orbits."""
    labels = ["a"] * n + ["b" * 2_000_000]
    Z = np.zeros((n + 1, 1))
    Z[-1] = 1.0
    return save(tmp_path, "z.npy", Z), save(tmp_path, "o.json", {"labels": labels})


def test_one_very_long_label_costs_its_length_not_n_times_it(capsys, tmp_path):
    """A fixed-width string array would pad all 20,001 labels to 2,000,000 characters (149 GiB)."""
    z, o = long_label_problem(tmp_path)
    rc, out, err = cli(capsys, "check", z, "--augs", o, "--json")
    assert (rc, err) == (0, ""), err
    assert json.loads(out)["n_orbits"] == 2


def test_derive_exact_reads_the_long_label_too(capsys, tmp_path):
    z, o = long_label_problem(tmp_path)
    rc, out, err = cli(capsys, "derive", "--exact", z, "--augs", o, "--json")
    assert (rc, err) == (0, ""), err
    assert json.loads(out)["classes"] == 2


# ---------------------------------------------------------------- a .npy truncated while it is read
TRUNCATE_DURING_THE_PASS = """
import os, sys
import idealssl.checker.stats as stats
import idealssl.inputs.representation as r
from idealssl.cli import main
from idealssl.errors import InputError

path, way = sys.argv[1], sys.argv[3]
r.CHUNK_BYTES = 8 * 4 * 16  # 16 rows of 4 values per chunk: 64 chunks

def shorten():
    os.truncate(path, 128 + 4 * 8 * 20)  # header and 20 rows remain

if way == "kernel":  # the compiled pass: pread inside the kernel, called per segment of 16 rows
    if stats.file_kernel is None:
        sys.exit(3)
    stats.SEGMENT_ROWS = 16
    kernel = stats.file_kernel
    calls = []

    def file_kernel(*args):
        out = kernel(*args)
        calls.append(1)
        if len(calls) == 1:
            shorten()
        return out

    stats.file_kernel = file_kernel
else:  # Representation.chunks's reads
    stats.file_kernel = None
    original = r.Representation.chunks

    def chunks(self, *args, **kwargs):
        for j, item in enumerate(original(self, *args, **kwargs)):
            yield item
            if j == 0:
                shorten()

    r.Representation.chunks = chunks
sys.exit(main(["check", path, "--augs", sys.argv[2]]))
"""


@pytest.mark.parametrize("way", ["chunks", "kernel"])
def test_a_npy_truncated_during_the_pass_is_one_line_exit_2(tmp_path, way):
    """The file shrinks under the streaming pass: reads past its end say so (a memory map died of SIGBUS), whether
    Python reads the chunks or the compiled pass reads them itself."""
    import subprocess
    import sys

    n = 1024
    Z = np.random.default_rng(0).standard_normal((n, 4))
    z = save(tmp_path, "z.npy", Z)
    assert open(z, "rb").read(128).endswith(b"\n") and len(open(z, "rb").read()) == 128 + n * 32
    o = save(tmp_path, "o.json", {"labels": [i % 5 for i in range(n)]})
    res = subprocess.run(
        [sys.executable, "-c", TRUNCATE_DURING_THE_PASS, z, o, way], capture_output=True, text=True, timeout=120
    )
    if res.returncode == 3:
        pytest.skip("the compiled pass is not built")
    one_line_exit_2(res.returncode, res.stdout, res.stderr, "truncated")
    assert res.stdout == ""


@pytest.mark.parametrize("fortran", [False, True])
def test_a_npy_truncated_after_its_header_was_read_is_one_line_exit_2(capsys, tmp_path, monkeypatch, fortran):
    """Between the header's validation and the pass, the last values go (C order: the first rows, the codes,
    remain)."""
    import idealssl.inputs.representation as r

    n = 50
    Z = np.random.default_rng(1).standard_normal((n, 3))
    z = save(tmp_path, "z.npy", np.asfortranarray(Z) if fortran else Z)
    o = save(tmp_path, "o.json", {"labels": [i % 4 for i in range(n)]})
    load = r.load_representation

    def load_then_truncate(*args, **kwargs):
        rep = load(*args, **kwargs)
        os.truncate(z, os.path.getsize(z) - 3 * 8 * 5)  # five rows short
        return rep

    monkeypatch.setattr(r, "load_representation", load_then_truncate)
    one_line_exit_2(*cli(capsys, "check", z, "--augs", o), "truncated")


# ---------------------------------------------------------------- integers float64 cannot hold
@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_integers_float64_cannot_hold_exactly_are_refused(capsys, tmp_path, dtype, order):
    """2^60 and 2^60 + 1 are one float64: computing with them would merge two distinct codes."""
    Z = np.array([[2**60, 7], [2**60 + 1, 7]], dtype=dtype, order=order)
    z = save(tmp_path, "z.npy", Z)
    o = save(tmp_path, "o.json", {"labels": [0, 1]})
    rc, out, err = cli(capsys, "check", z, "--augs", o, "--probe", "mlp")
    one_line_exit_2(rc, out, err, "1152921504606846977")
    assert "row 1, column 0" in err and "float64" in err
    with pytest.raises(InputError, match="float64"):
        idealssl.check(Z, [0, 1], probe="mlp")


def test_derive_refuses_them_too(capsys, tmp_path):
    z = save(tmp_path, "z.npy", np.array([[0], [2**60], [2**60 + 1]], dtype=np.int64))
    o = save(tmp_path, "o.json", {"labels": [0, 1, 2]})
    one_line_exit_2(*cli(capsys, "derive", "--exact", z, "--augs", o), "float64")


def test_large_integers_float64_holds_exactly_are_computed(capsys, tmp_path):
    """Beyond 2^53 but multiples of float64's spacing there: the numbers themselves, nothing refused."""
    z = save(tmp_path, "z.npy", np.array([[2**60], [3 * 2**60 + 2**20], [-(2**62)]], dtype=np.int64))
    o = save(tmp_path, "o.json", {"labels": [0, 1, 2]})
    rc, out, err = cli(capsys, "check", z, "--augs", o, "--probe", "mlp")
    assert (rc, err) == (0, ""), err


# ---------------------------------------------------------------- output that cannot be written
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    "command",
    [
        ["check", "{z}", "--augs", "{o}"],
        ["check", "{z}", "--augs", "{o}", "--json"],
        ["derive", "--classes", "4"],
        ["derive", "--exact", "{z}", "--augs", "{o}", "--json"],
        ["bench", "worlds"],  # a plain print() of any subcommand
        ["completion", "bash"],
        ["check", "-h"],  # argparse's help, whose failed write argparse itself ignores
        ["-h"],
    ],
)
def test_stdout_on_a_full_device_is_one_line_exit_2(tmp_path, command):
    """`idealssl check ... > /dev/full`: the verdict (ideal here) cannot be delivered, which is not "not ideal"."""
    import subprocess
    import sys

    z = save(tmp_path, "z.npy", centred_simplex(4))
    o = save(tmp_path, "o.json", {"labels": [0, 1, 2, 3]})
    argv = [a.format(z=z, o=o) for a in command]
    with open("/dev/full", "w") as full:
        res = subprocess.run(
            [sys.executable, "-m", "idealssl.cli", *argv], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120
        )
    one_line_exit_2(res.returncode, "", res.stderr, "could not be written")


# ---------------------------------------------------------------- --plot: checked before the verdict is computed
@pytest.fixture
def ideal_problem(tmp_path):
    return save(tmp_path, "z.npy", centred_simplex(4)), save(tmp_path, "o.json", {"labels": [0, 1, 2, 3]})


def plot_refused(capsys, ideal_problem, target, fragment):
    z, o = ideal_problem
    rc, out, err = cli(capsys, "check", z, "--augs", o, "--plot", str(target))
    one_line_exit_2(rc, out, err, fragment)
    assert out == ""  # refused before the computation: no report, so no verdict's code to lose


def test_plot_with_an_unknown_format_is_refused_first(capsys, tmp_path, ideal_problem):
    pytest.importorskip("matplotlib")
    plot_refused(capsys, ideal_problem, tmp_path / "out.xyz", "'.xyz'")
    assert not (tmp_path / "out.xyz").exists()


def test_plot_into_a_directory_is_refused_first(capsys, tmp_path, ideal_problem):
    pytest.importorskip("matplotlib")
    (tmp_path / "figs").mkdir()
    plot_refused(capsys, ideal_problem, tmp_path / "figs", "is a directory")
    assert not (tmp_path / "figs.png").exists()


def test_plot_without_an_extension_is_refused_first(capsys, tmp_path, ideal_problem):
    pytest.importorskip("matplotlib")
    plot_refused(capsys, ideal_problem, tmp_path / "figure", "extension")
    assert not (tmp_path / "figure.png").exists() and not (tmp_path / "figure").exists()


def test_plot_under_a_file_is_refused_first(capsys, tmp_path, ideal_problem):
    pytest.importorskip("matplotlib")
    (tmp_path / "f").write_text("a file")
    plot_refused(capsys, ideal_problem, tmp_path / "f" / "check.png", "not a directory")


def test_plot_without_matplotlib_is_refused_first(capsys, ideal_problem, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ModuleNotFoundError
    plot_refused(capsys, ideal_problem, tmp_path / "check.png", "matplotlib")


def test_plot_to_a_good_file_keeps_the_verdicts_code(capsys, tmp_path, ideal_problem):
    pytest.importorskip("matplotlib")
    z, o = ideal_problem
    rc, out, err = cli(capsys, "check", z, "--augs", o, "--plot", str(tmp_path / "sub" / "check.pdf"))
    assert rc == 0 and "IDEAL" in out
    assert err.strip() == f"figure written to {tmp_path / 'sub' / 'check.pdf'}"
    assert (tmp_path / "sub" / "check.pdf").stat().st_size > 0


# ---------------------------------------------------------------- found by the adversarial pass
@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="POSIX shell")
def test_stdout_closed_is_one_line_exit_2(tmp_path):
    """`idealssl check ... >&-`: Python starts with sys.stdout None; that is an output failure, not exit 1."""
    import subprocess
    import sys

    z = save(tmp_path, "z.npy", centred_simplex(4))
    o = save(tmp_path, "o.json", {"labels": [0, 1, 2, 3]})
    for argv in (["check", z, "--augs", o], ["derive", "--classes", "4"]):
        res = subprocess.run(
            ["bash", "-c", 'exec "$0" "$@" >&-', sys.executable, "-m", "idealssl.cli", *argv],
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
        one_line_exit_2(res.returncode, "", res.stderr, "standard output")


def test_values_too_far_from_the_codes_for_float64_are_refused_with_the_reason(capsys, tmp_path):
    """Codes near 1e-300 are rescaled by 2^996 so that their squares stay normal; a point at 1e300 then leaves
    float64's range. It is finite: the message says what happened (it said "non-finite value inf")."""
    z = save(tmp_path, "z.npy", np.array([[1e-300], [2e-300], [1e300]]))
    o = save(tmp_path, "o.json", {"labels": [0, 1, 1]})
    rc, out, err = cli(capsys, "check", z, "--augs", o)
    one_line_exit_2(rc, out, err, "1e+300 at row 2, column 0")
    assert "non-finite" not in err and "float64" in err


def test_a_representation_whose_codes_exceed_the_memory_is_refused_first(capsys, tmp_path):
    """An honest (sparse) file of one row of 2^40 float64 values: the code alone needs 8 TiB. Refused with the
    sizes, before anything is allocated (it was a MemoryError, exit 1)."""
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1099511627776), }"
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    path = tmp_path / "wide.npy"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header)
    try:
        os.truncate(path, 10 + len(header) + 8 * 2**40)  # sparse: no disk blocks
    except OSError:
        pytest.skip("the file system refuses an 8 TiB sparse file")
    o = save(tmp_path, "o.json", {"labels": [0]})
    for argv in (["check", str(path), "--augs", o], ["derive", "--exact", str(path), "--augs", o]):
        one_line_exit_2(*cli(capsys, *argv), "memory")


def test_running_out_of_memory_anywhere_is_exit_2_not_not_ideal(capsys, tmp_path, monkeypatch):
    """Python exits 1 on an uncaught MemoryError, which reads as "not ideal": the CLI makes it exit 2, one line."""
    import idealssl.checker.api as api

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(api, "check", exhausted)
    z = save(tmp_path, "z.npy", centred_simplex(4))
    o = save(tmp_path, "o.json", {"labels": [0, 1, 2, 3]})
    one_line_exit_2(*cli(capsys, "check", z, "--augs", o), "not enough memory")


def test_the_api_takes_numpy_integers_for_threads():
    """(np.int64(2) was refused as 'not a positive integer'.) Booleans and non-positive values still are not."""
    S = centred_simplex(4)
    assert idealssl.check(S, np.arange(4), threads=np.int64(2)).ideal
    for bad in (True, 0, 2.0):
        with pytest.raises(InputError, match="threads must be a positive integer"):
            idealssl.check(S, np.arange(4), threads=bad)
