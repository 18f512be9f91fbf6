"""`idealssl derive`: every numeric flag is checked against its range before anything is computed (exit 2, one
line), the Python API refuses the same values, and a flag the chosen form does not use is refused."""

import json

import numpy as np
import pytest

from idealssl import derive
from idealssl.cli import main
from idealssl.errors import InputError


def run(capsys, *argv):
    rc = main(["derive", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def refused(capsys, argv, fragment):
    rc, out, err = run(capsys, *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and out == "", (rc, out, err)
    assert len(lines) == 1 and "Traceback" not in err, err
    assert fragment in lines[0], lines[0]


@pytest.fixture
def problem(tmp_path):
    z, o = tmp_path / "z.npy", tmp_path / "o.json"
    np.save(z, np.eye(3))
    o.write_text(json.dumps({"labels": [0, 1, 2]}))
    return str(z), str(o)


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--classes", "100000000000"], "--classes must be an integer in [2, 16777216]"),
        (["--classes", "1"], "--classes must be an integer in [2, 16777216]"),
        (["--classes", "5000"], "C·K = 25000000"),  # K defaults to C: the C x K teacher would not fit
        (["--classes", "4", "--dissl-categories", "0"], "--dissl-categories must be an integer in [1, 16777216]"),
        (["--classes", "4", "--dissl-categories", "10000000"], "C·K = 40000000"),
        (["--classes", "4", "--dim", "0"], "--dim must be an integer >= 1"),
        (["--classes", "4", "--temperature", "1e308"], "--temperature must be a number in [0.001, 1000]"),
        (["--classes", "4", "--temperature", "0"], "--temperature must be a number in [0.001, 1000]"),
        (["--classes", "4", "--temperature", "nan"], "--temperature must be a number in [0.001, 1000]"),
        (["--classes", "4", "--dissl-lambda", "-1"], "--dissl-lambda must be a number in [0, 1e+06]"),
        (["--classes", "4", "--dissl-beta", "inf"], "--dissl-beta must be a number in [0, 1e+06]"),
    ],
)
def test_configuration_flags_out_of_range(capsys, argv, fragment):
    refused(capsys, argv, fragment)


@pytest.mark.parametrize(
    "flags,fragment",
    [
        (["--temperature", "1e308"], "--temperature must be a number in [0.001, 1000]"),
        (["--temperature", "1e-300"], "--temperature must be a number in [0.001, 1000]"),
        (["--tol", "-1"], "--tol must be a number in [0, 1)"),
        (["--tol", "nan"], "--tol must be a number in [0, 1)"),
        (["--check-tol", "-1"], "--check-tol must be a number in [1e-12, 1)"),
        (["--check-tol", "1"], "--check-tol must be a number in [1e-12, 1)"),
        (["--dissl-categories", "0"], "--dissl-categories must be an integer in [1, 16777216]"),
        (["--dim", "3"], "--dim is only used with --classes"),
    ],
)
def test_exact_flags_out_of_range_or_unused(capsys, problem, flags, fragment):
    z, o = problem
    refused(capsys, ["--exact", z, "--augs", o, *flags], fragment)


@pytest.mark.parametrize(
    "flags,fragment",
    [
        (["--tol", "1e-3"], "--tol is only used with --exact"),
        (["--check-tol", "1e-3"], "--check-tol is only used with --exact"),
        (["--key", "a"], "--key is only used with --exact"),
    ],
)
def test_flags_of_the_exact_form_are_refused_with_classes(capsys, flags, fragment):
    refused(capsys, ["--classes", "4", *flags], fragment)


def test_the_api_refuses_the_same_values():
    with pytest.raises(InputError, match="--classes must be an integer"):
        derive.configure("linear", 10**11)
    with pytest.raises(InputError, match="--temperature must be a number"):
        derive.configure("linear", 4, temperature=1e308)
    with pytest.raises(InputError, match="--tol must be a number"):
        derive.exact(np.eye(3), [0, 1, 2], tol=-1)
    with pytest.raises(InputError, match="--temperature must be a number"):
        derive.exact(np.eye(3), [0, 1, 2], temperature=1e308)


@pytest.mark.parametrize("t", ["0.001", "1000"])
def test_the_ends_of_the_temperature_range_compute(capsys, problem, t):
    z, o = problem
    rc, out, err = run(capsys, "--exact", z, "--augs", o, "--temperature", t, "--json")
    assert (rc, err) == (0, "")
    assert json.loads(out)["temperature"] == float(t)
    rc, out, err = run(capsys, "--classes", "4", "--temperature", t, "--dissl-categories", "4096")
    assert (rc, err) == (0, "")


def test_exact_on_values_whose_squares_overflow_is_refused_not_a_hang(tmp_path):
    """The raw ideal log loss's step size needs max ‖z‖²/tau² in float64; at 1e160 it is inf and the solver's
    backtracking never ended. Refused with the remedy (the scale-free values do not depend on the scale)."""
    import subprocess
    import sys

    z, o = tmp_path / "z.npy", tmp_path / "o.json"
    np.save(z, (np.eye(4) - 0.25) * 1e160)
    o.write_text(json.dumps({"labels": [0, 1, 2, 3]}))
    res = subprocess.run(
        [sys.executable, "-m", "idealssl.cli", "derive", "--exact", str(z), "--augs", str(o)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and res.stdout == "" and len(lines) == 1, res.stderr
    assert "rescale" in lines[0]


def test_exact_refuses_a_negative_seed_or_restarts():
    """(The seed was NumPy's ValueError.) No random restart is valid: the deterministic starts remain."""
    with pytest.raises(InputError, match="seed must be an integer >= 0"):
        derive.exact(np.eye(3), [0, 1, 2], seed=-1)
    with pytest.raises(InputError, match="restarts must be an integer in"):
        derive.exact(np.eye(3), [0, 1, 2], restarts=-1)
    assert derive.exact(np.eye(3), [0, 1, 2], restarts=0).classes == 3
