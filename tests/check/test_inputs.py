"""Bad input: one clear line on stderr and exit 2, never a traceback or a wrong verdict."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idealssl.cli import main
from idealssl.errors import InputError
from idealssl.inputs import load_orbits, load_task
from idealssl.inputs.representation import load_representation

GOOD = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


def run_cli(capsys, *argv):
    rc = main(["check", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_bad(capsys, argv, fragment):
    rc, out, err = run_cli(capsys, *argv)
    assert rc == 2, (out, err)
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert fragment in lines[0], lines[0]
    assert out == ""


@pytest.mark.parametrize(
    "orbits,fragment",
    [
        ({"orbits": [[0, 1], [1, 2]]}, "point 1 is in two orbits"),
        ({"orbits": [[0, 1]]}, "point 2 is in no orbit"),
        ({"orbits": [[0, 1], [], [2]]}, "orbits[1] is empty"),
        ({"orbits": [[0, 1], [2, 7]]}, "out of range"),
        ({"orbits": [[0, 1], [2, 2]]}, "listed twice"),
        ({"orbits": [[0, 1.5], [2]]}, "is not an integer"),
        ({"labels": [0, 1]}, "cover 2 points but the representation has N = 3"),
        ({"labels": [0, 1, None]}, "is not an integer or a string"),
        ({"labels": [0, 1, 1], "p": [0.5, 0.5, 0.5]}, "not a distribution"),
        ({"labels": [0, 1, 1], "p": [1.5, -0.5, 0.0]}, "negative"),
        ({"labels": [0, 1, 1], "p": [0.5, 0.5]}, '"p" has 2 entries'),
        ({"pairs": [[0, 1], [1, 0]], "n": 3}, "duplicate pair"),
        ({"pairs": [[0, 1], [1, 5]], "n": 3}, "out of range"),
        ({"pairs": [[0, 1]]}, 'needs "n"'),
        ({"pairs": [[0, 1]], "n": 4}, '"n" = 4 points but the representation has N = 3'),
        ({"pairs": [[0, 1, 2]], "n": 3}, "is not a pair"),
        ({"orbit": [[0, 1, 2]]}, "exactly one of the keys"),
        ({"labels": [0, 1, 2], "orbits": [[0, 1, 2]]}, "exactly one of the keys"),
        ({"labels": [0, 1, 2], "q": 1}, "unknown key 'q'"),
        ([0, 1, 2], "expected a JSON object"),
    ],
)
def test_bad_orbits(capsys, write, orbits, fragment):
    assert_bad(capsys, [write("z.npy", GOOD), "--augs", write("o.json", orbits)], fragment)


def test_malformed_json_and_missing_files(capsys, write, tmp_path):
    z = write("z.npy", GOOD)
    assert_bad(capsys, [z, "--augs", write("o.json", '{"labels": [0, 1, 2]')], "malformed JSON at line 1")
    assert_bad(capsys, [z, "--augs", write("o.json", '{"labels": [0, 1, NaN]}')], "NaN")
    assert_bad(capsys, [z, "--augs", str(tmp_path / "nope.json")], "no such file")
    assert_bad(capsys, [str(tmp_path / "nope.npy"), "--augs", write("o.json", {"labels": [0, 1, 2]})], "no such file")
    assert_bad(capsys, [str(tmp_path), "--augs", write("o.json", {"labels": [0, 1, 2]})], "is a directory")
    assert_bad(capsys, [z, "--augs", write("o.bin", b"\xff\xfe\x00")], "not UTF-8")


@pytest.mark.parametrize(
    "array,fragment",
    [
        (np.array([[0.0, np.nan], [1, 0], [0, 1]]), "non-finite value nan at row 0, column 1"),
        (np.array([[0.0, 0], [1, 0], [0, np.inf]]), "non-finite value inf at row 2"),
        (np.array([0.0, 1.0, 2.0]), "must be 2-D"),
        (np.zeros((3, 2, 1)), "must be 2-D"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), "non-numeric dtype"),
        (np.zeros((3, 2), dtype=complex), "complex"),
        (np.zeros((0, 2)), "is empty"),
        (np.array([[{}, 1], [2, 3], [4, 5]], dtype=object), "holds Python objects"),
    ],
)
def test_bad_arrays(capsys, write, array, fragment):
    path = write("z.npy", array) if array.dtype != object else None
    if path is None:
        p = write("z.npy", b"")
        np.save(p, array, allow_pickle=True)
        path = p
    assert_bad(capsys, [path, "--augs", write("o.json", {"labels": [0, 1, 2]})], fragment)


def test_pickle_and_garbage_and_truncated(capsys, write):
    o = write("o.json", {"labels": [0, 1, 2]})
    assert_bad(capsys, [write("z.npy", pickle.dumps(GOOD)), "--augs", o], "not a .npy or .npz file")
    assert_bad(capsys, [write("z.npy", b"\x93NUMPY\x01\x00garbage"), "--augs", o], "header")
    full = write("full.npy", GOOD)
    data = open(full, "rb").read()
    assert_bad(capsys, [write("t.npy", data[:-5]), "--augs", o], "truncated")


def test_npz_keys(capsys, write, tmp_path):
    o = write("o.json", {"labels": [0, 1, 2]})
    p = tmp_path / "z.npz"
    np.savez_compressed(p, a=GOOD, b=GOOD[:, :1])
    assert_bad(capsys, [str(p), "--augs", o], "holds 2 arrays")
    assert_bad(capsys, [str(p), "--augs", o, "--key", "c"], "no array named 'c'")
    rc, out, _ = run_cli(capsys, str(p), "--augs", o, "--key", "a")
    assert rc == 0
    rc, out, _ = run_cli(capsys, f"{p}:b", "--augs", o)  # 1-D codes 0, 1, 0: distinct? no: two equal
    assert rc == 1
    single = tmp_path / "s.npz"
    np.savez(single, GOOD)
    assert run_cli(capsys, str(single), "--augs", o)[0] == 0


def test_bad_task(capsys, write):
    o = write("o.json", {"orbits": [[0], [1, 2]]})
    Z2 = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    z2 = write("z2.npy", Z2)
    assert_bad(
        capsys, [z2, "--augs", o, "--task", write("t.json", {"point_labels": [0, 1, 0]})], "not an invariant task"
    )
    assert_bad(
        capsys, [z2, "--augs", o, "--task", write("t.json", {"orbit_labels": [0, 1, 0]})], "there are C = 2 orbits"
    )
    assert_bad(capsys, [z2, "--augs", o, "--task", write("t.json", {"labels": [0, 1]})], "exactly one of")


def test_bad_options(capsys, write):
    z, o = write("z.npy", GOOD), write("o.json", {"labels": list(range(3))})
    for argv, fragment in (
        ([z, "--augs", o, "--tol", "2"], "must be in [1e-12, 1)"),
        ([z, "--augs", o, "--tol", "1e-17"], "must be in [1e-12, 1)"),
        ([z, "--augs", o, "--probe", "svm"], "invalid choice"),
        ([z], "--augs"),
    ):
        with pytest.raises(SystemExit) as e:
            main(["check", *argv])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and fragment in err
    big = np.random.default_rng(0).standard_normal((13, 14))
    assert_bad(
        capsys,
        [write("b.npy", big), "--augs", write("b.json", {"labels": list(range(13))}), "--exhaustive"],
        "above the limit of 12",
    )


def test_real_cli_process_bad_input(write):
    """The installed console script, as a user types it: one line on stderr, exit 2."""
    z = write("z.npy", np.array([[np.nan, 0.0]]))
    o = write("o.json", {"labels": [0]})
    res = subprocess.run(
        [sys.executable, "-m", "idealssl.cli", "check", z, "--augs", o], capture_output=True, text=True
    )
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "non-finite" in res.stderr


# ------------------------------------------------------------------------------------ fuzzing
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 8)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.sampled_from(["orbits", "labels", "pairs", "n", "p", "x"]), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(obj=json_values)
def test_fuzz_orbits_loader(obj):
    """Any JSON value gives valid Orbits covering 5 points, or an InputError — nothing else."""
    try:
        orb = load_orbits(obj if isinstance(obj, dict) else {"labels": obj}, n=5)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert orb.n == 5
    assert orb.labels.min() == 0 and orb.labels.max() == orb.n_orbits - 1
    assert np.isclose(orb.p.sum(), 1.0)
    assert len(np.unique(orb.labels)) == orb.n_orbits


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=300),
    prefix=st.sampled_from([b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00", b"PK\x03\x04"]),
)
def test_fuzz_representation_loader(tmp_path_factory, data, prefix):
    """Random bytes as a representation file: InputError or a valid 2-D numeric representation."""
    p = tmp_path_factory.mktemp("fz") / "z.npy"
    p.write_bytes(prefix + data)
    try:
        rep = load_representation(p)
        rep.to_array()
    except InputError as exc:
        assert "\n" not in str(exc)


@settings(max_examples=100, deadline=None)
@given(task=json_values)
def test_fuzz_task_loader(task):
    orb = load_orbits({"orbits": [[0, 1], [2]]})
    try:
        t = load_task(task if isinstance(task, dict) else {"orbit_labels": task}, orb)
    except InputError:
        return
    assert len(t.orbit_labels) == 2
