"""Nothing a user has is overwritten or deleted by ``idealssl train / eval / export / plot / bench`` (issue 23, part 3):
the run-directory lock, outputs that would replace an input or a run's own files, planted symlinks, other people's
temporary files, a non-empty bench ``--out``, and the crashes (a full disk during the end-of-run check, an ``--out``
that cannot be created, ``--overwrite`` of the working directory). Each command is typed as a user types it.
"""

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from idealssl import atomic
from idealssl.cli import main
from idealssl.train import checkpoint as C
from idealssl.train.runlock import LOCK_NAME

from ._tiny import FAST

TRAIN = ["train", "--method", "tinytest", "--dataset", "digits"]
QUIET = FAST + ["eval.at_end=[]"]


def _snapshot(d, skip=(LOCK_NAME,)):
    return {
        p.relative_to(d).as_posix(): (p.read_bytes() if not p.is_symlink() else ("link", os.readlink(p)))
        for p in sorted(d.rglob("*"))
        if (p.is_file() or p.is_symlink()) and p.name not in skip
    }


def _one_line(err):
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


def _env():
    return dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


@pytest.fixture(scope="module")
def _template(tmp_path_factory):
    out = tmp_path_factory.mktemp("template") / "run"
    assert main(TRAIN + ["--epochs", "1", "--out", str(out), *FAST, "eval.at_end=[knn]"]) == 0
    return out


@pytest.fixture
def finished(tmp_path, _template):
    """A finished 1-epoch run with its end-of-run check (a copy of one trained once per module)."""
    out = tmp_path / "run"
    shutil.copytree(_template, out)
    return out


# ------------------------------------------------------------------------------------------------ the lock
HOLD = """
import sys, time
from idealssl.train.runlock import RunLock
with RunLock("idealssl train --method simclr") as lock:
    lock.acquire(sys.argv[1], create=True)
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """Start a process holding a directory's lock (as a training run does); yields a function of the directory."""
    procs = []

    def start(d):
        p = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert p.stdout.readline().strip() == "held", p.stderr.read()
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--out", "{run}", "--resume"],
        TRAIN + ["--out", "{run}", "--overwrite", "--seed", "1", *QUIET],
        ["eval", "knn", "{run}"],
        ["eval", "check", "{run}"],
        ["export", "{run}", "--out", "{run}/backbone.pt"],
        ["plot", "{run}", "--no-embedding"],
    ],
    ids=["resume", "overwrite", "eval", "eval-check", "export-into-run", "plot"],
)
def test_a_locked_run_is_refused_naming_the_holder_and_nothing_changes(finished, holder, capsys, argv):
    p = holder(finished)
    before = _snapshot(finished)
    siblings = sorted(x.name for x in finished.parent.iterdir())
    capsys.readouterr()
    assert main([a.format(run=finished) for a in argv]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"pid {p.pid} on host {socket.gethostname()}" in line and "idealssl train" in line, line
    assert _snapshot(finished) == before
    assert sorted(x.name for x in finished.parent.iterdir()) == siblings  # nothing moved aside
    assert json.loads((finished / LOCK_NAME).read_text())["pid"] == p.pid  # the holder's lock is untouched


def test_reading_a_locked_run_and_writing_elsewhere_is_allowed(finished, holder, tmp_path):
    holder(finished)
    assert main(["export", str(finished), "--out", str(tmp_path / "b.pt")]) == 0
    assert main(["eval", "knn", str(finished), "--out", str(tmp_path / "e.json")]) == 0


def test_the_holder_releases_on_sigterm(tmp_path, holder):
    d = tmp_path / "d"
    p = holder(d)
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 128 + signal.SIGTERM
    assert not (d / LOCK_NAME).exists()


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_stale_lock_is_reported_and_taken_over(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    pid = _dead_pid()
    (out / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "command": "idealssl train"}))
    capsys.readouterr()
    assert main(TRAIN + ["--epochs", "1", "--out", str(out), *QUIET]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if f"pid {pid}" in line]
    assert len(notes) == 1 and "no longer running" in notes[0] and "taken over" in notes[0], err
    assert (out / "results.json").is_file() and not (out / LOCK_NAME).exists()


def test_a_lock_naming_a_live_process_is_held_even_without_its_record_lock(finished, capsys):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rec = {"pid": sleeper.pid, "host": socket.gethostname(), "command": "idealssl train"}
        (finished / LOCK_NAME).write_text(json.dumps(rec))
        before = _snapshot(finished)
        capsys.readouterr()
        assert main(["train", "--out", str(finished), "--resume"]) == 2
        line = _one_line(capsys.readouterr().err)
        assert f"pid {sleeper.pid}" in line and str(finished / LOCK_NAME) in line
        assert _snapshot(finished) == before
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_holder_refreshes_its_lock(tmp_path, monkeypatch):
    from idealssl.train import runlock

    monkeypatch.setattr(runlock, "HEARTBEAT_S", 0.05)
    with runlock.RunLock("idealssl train") as lock:
        lock.acquire(tmp_path)
        os.utime(tmp_path / LOCK_NAME, (time.time() - 1000, time.time() - 1000))
        time.sleep(0.5)
        assert time.time() - (tmp_path / LOCK_NAME).stat().st_mtime < 5
    assert not (tmp_path / LOCK_NAME).exists()


@pytest.mark.parametrize("age", [10, 400])
def test_a_lock_of_another_host_is_held_while_refreshed_and_stale_after(finished, capsys, age):
    """A job requeued on another node finds its old node's lock: held while refreshed, taken over once stale."""
    from idealssl.train.runlock import STALE_AFTER_S

    lock = finished / LOCK_NAME
    lock.write_text(json.dumps({"pid": 4242, "host": "node-a.elsewhere", "command": "idealssl train"}))
    os.utime(lock, (time.time() - age, time.time() - age))
    capsys.readouterr()
    rc = main(["train", "--out", str(finished), "--resume", "train.progress=off"])
    err = capsys.readouterr().err
    if age < STALE_AFTER_S:
        assert rc == 2 and "node-a.elsewhere" in _one_line(err)
    else:
        assert rc == 0 and len([line for line in err.splitlines() if "node-a.elsewhere" in line]) == 1, err
        assert not lock.exists()


@pytest.mark.parametrize(
    "extra,rc",
    [
        (["optim.batch_size=100000"], 2),  # refused during setup: nothing written, the folder it created removed
        (["objective.nan_at=2"], 3),  # non-finite loss
    ],
)
def test_the_lock_is_released_on_errors(tmp_path, extra, rc):
    out = tmp_path / "run"
    assert main(TRAIN + ["--epochs", "1", "--out", str(out), *QUIET, *extra]) == rc
    assert not (out / LOCK_NAME).exists()
    if rc == 2:
        assert not out.exists()


@pytest.mark.slow
def test_two_runs_started_together_on_one_out(tmp_path, runner):
    """simclr-like and byol-like (another seed) on one --out at once: one runs, the other is refused naming it; the
    directory holds the winner's run alone (config, checkpoint, results, each metrics step once)."""
    out = tmp_path / "run"
    runs = {
        "tinytest": [*TRAIN, "--epochs", "3", "--out", str(out), *QUIET],
        "tinyema": ["train", "--method", "tinyema", "--dataset", "digits", "--seed", "1", "--epochs", "3"]
        + ["--out", str(out), *QUIET],
    }
    procs = {
        m: subprocess.Popen(
            [sys.executable, str(runner), *argv], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for m, argv in runs.items()
    }
    done = {m: (p, *p.communicate(timeout=600)) for m, p in procs.items()}
    codes = sorted(p.returncode for p, _, _ in done.values())
    assert codes == [0, 2], {m: (p.returncode, err[-2000:]) for m, (p, _, err) in done.items()}
    winner = next(m for m, (p, _, _) in done.items() if p.returncode == 0)
    loser = next(m for m in done if m != winner)
    assert f"pid {done[winner][0].pid}" in _one_line(done[loser][2])
    assert f"method: {winner}" in (out / "config.yaml").read_text()
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and sorted(set(steps)) == list(range(1, 16))
    assert C.load(out / "checkpoints" / "last.pt")["cfg"]["method"] == winner
    assert json.loads((out / "results.json").read_text())["method"] == winner
    assert not (out / LOCK_NAME).exists()


# ------------------------------------------------------------------------------------------------ outputs
@pytest.mark.parametrize(
    "argv",
    [
        ["export", "{run}", "--out", "{run}/checkpoints/last.pt"],
        ["export", "{run}/checkpoints/last.pt", "--out", "{run}/checkpoints/last.pt"],
        ["export", "{run}", "--out", "{run}/results.json"],
        ["export", "{run}", "--out", "{link}"],
        ["export", "{run}", "--out", "{hard}"],
        ["eval", "knn", "{run}", "--out", "{run}/checkpoints/last.pt"],
        ["eval", "knn", "{run}", "--out", "{run}/results.json"],
        ["eval", "knn", "{run}", "--out", "{run}/config.yaml"],
        ["eval", "knn", "{run}", "--out", "{run}/eval-linear.json"],
        ["eval", "knn", "{run}", "--out", "{hard}"],
        ["eval", "check", "{run}", "--out", "{run}/check/report.json"],
        ["plot", "{run}", "--no-embedding", "--out", "{run}/check"],
    ],
)
def test_an_output_that_is_the_input_or_a_run_file_is_refused(finished, tmp_path, capsys, argv):
    (finished / "eval-linear.json").write_text("{}")
    link, hard = tmp_path / "link.pt", tmp_path / "hard.pt"
    os.symlink(finished / "checkpoints" / "last.pt", link)
    os.link(finished / "checkpoints" / "last.pt", hard)
    before, hard_bytes = _snapshot(finished), hard.read_bytes()
    capsys.readouterr()
    assert main([a.format(run=finished, link=link, hard=hard) for a in argv]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--out" in line
    assert _snapshot(finished) == before
    assert link.is_symlink() and hard.read_bytes() == hard_bytes


def test_an_output_over_another_runs_files_is_refused(finished, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(finished, other)
    before = _snapshot(other)
    capsys.readouterr()
    for argv in (
        ["eval", "knn", str(finished), "--out", str(other / "results.json")],
        ["eval", "knn", str(finished), "--out", str(other / "eval-knn.json")],
        ["export", str(finished), "--out", str(other / "checkpoints" / "last.pt")],
    ):
        assert main(argv) == 2
        assert "run's own files" in _one_line(capsys.readouterr().err)
    assert _snapshot(other) == before


def test_eval_writes_its_own_results_file_in_the_run(finished):
    assert main(["eval", "knn", str(finished), "--out", str(finished / "eval-knn.json")]) == 0
    assert json.loads((finished / "eval-knn.json").read_text())["knn"]["top1"] > 0


PLANTED = ["check/representation.npy", "check/orbits.json", "check/report.json", "check/orbit_set.json"]


@pytest.mark.parametrize(
    "cmd,names",
    [
        ("eval-check", PLANTED + ["eval-check.json"]),
        ("resume", PLANTED),
        ("plot", ["plots/curves.png"]),
    ],
)
def test_planted_symlinks_are_replaced_and_their_targets_never_written(finished, tmp_path, cmd, names):
    victims = {}
    for i, name in enumerate(names):
        victim = tmp_path / f"victim{i}.txt"
        victim.write_text(f"precious {i}")
        (finished / name).parent.mkdir(exist_ok=True)
        if (finished / name).exists():
            (finished / name).unlink()
        os.symlink(victim, finished / name)
        victims[name] = victim
    argv = {
        "eval-check": ["eval", "check", str(finished)],
        "resume": ["train", "--out", str(finished), "--resume", "train.progress=off"],
        "plot": ["plot", str(finished), "--no-embedding"],
    }[cmd]
    assert main(argv) == 0
    for i, (name, victim) in enumerate(victims.items()):
        assert victim.read_bytes() == f"precious {i}".encode(), name
        assert not (finished / name).is_symlink() and (finished / name).stat().st_size > 0, name


@pytest.mark.parametrize(
    "folder,argv",
    [
        ("check", lambda R: ["eval", "check", str(R)]),
        ("plots", lambda R: ["plot", str(R), "--no-embedding"]),
    ],
)
def test_a_run_folder_planted_as_a_symlink_is_refused_and_its_target_untouched(
    finished, tmp_path, capsys, folder, argv
):
    users = tmp_path / "users_folder"
    users.mkdir()
    for name in ("representation.npy", "orbits.json", "report.json", "orbit_set.json", "curves.png"):
        (users / name).write_text(f"precious {name}")
    before = _snapshot(users)
    if (finished / folder).exists():
        shutil.rmtree(finished / folder)
    (finished / folder).symlink_to(users)
    assert main(argv(finished)) == 2
    assert "symlink" in _one_line(capsys.readouterr().err)
    assert _snapshot(users) == before


def test_metrics_jsonl_symlink_planted_during_a_run_is_refused_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "metrics.jsonl"
    os.symlink(victim, link)
    with pytest.raises(atomic.WriteError, match="symlink"):
        atomic.open_append(link, "metrics file")
    assert victim.read_text() == "precious"


# ------------------------------------------------------------------------------------------------ temporary files
def test_resume_removes_only_the_writers_own_temporary_files(finished):
    ckpts = finished / "checkpoints"
    mine = [ckpts / f".last.pt.k2j4h6g8{atomic.TEMP_SUFFIX}", finished / f".config.yaml.abcdefgh{atomic.TEMP_SUFFIX}"]
    theirs = [ckpts / ".notes.tmp", ckpts / ".last.pt.backup.tmp", ckpts / "draft.tmp", finished / ".todo.tmp"]
    for p in mine + theirs:
        p.write_bytes(b"x")
    assert main(["train", "--out", str(finished), "--resume", "--epochs", "2", "train.progress=off"]) == 0
    assert not any(p.exists() for p in mine)
    assert all(p.read_bytes() == b"x" for p in theirs)


# ------------------------------------------------------------------------------------------------ bench export
def test_bench_export_refuses_a_non_empty_out_and_overwrite_moves_an_export_aside(tmp_path, capsys):
    out = tmp_path / "w"
    out.mkdir()
    (out / "representation.npy").write_bytes(b"mine")
    capsys.readouterr()
    assert main(["bench", "export", "--world", "vector", "--out", str(out)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(out) in line and "--overwrite" in line
    assert main(["bench", "export", "--world", "vector", "--out", str(out), "--overwrite"]) == 2  # not an export
    assert "does not look like" in _one_line(capsys.readouterr().err)
    assert (out / "representation.npy").read_bytes() == b"mine" and len(list(tmp_path.iterdir())) == 1
    new = tmp_path / "v"
    assert main(["bench", "export", "--world", "vector", "--out", str(new)]) == 0
    first = _snapshot(new)
    capsys.readouterr()
    assert main(["bench", "export", "--world", "coarse", "--out", str(new), "--overwrite"]) == 0
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("v.replaced-")]
    assert len(moved) == 1 and str(moved[0]) in capsys.readouterr().err
    assert _snapshot(moved[0]) == first


# ------------------------------------------------------------------------------------------------ crashes
def _fsize_limit(limit):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


def test_disk_full_during_the_end_of_run_check_keeps_the_runs_results(tmp_path, runner):
    """A real write failure (the file size limit, no privileges needed) on check/representation.npy, the largest
    file of the end-of-run check (2400 x 16 float64 > 200 kB > the 100 kB checkpoint)."""
    out = tmp_path / "run"
    argv = [*TRAIN, "--epochs", "1", "--out", str(out), *QUIET, "check.images=300", "check.views=8"]
    r = subprocess.run(
        [sys.executable, str(runner), *argv],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_fsize_limit(200_000),
    )
    assert r.returncode == 2, r.stderr
    line = _one_line(r.stderr)
    assert "check" in line and "representation.npy" in line and "results.json" in line, line
    res = json.loads((out / "results.json").read_text())
    assert "representation.npy" in res["check"]["failed"] and res["steps"] == 5 and res["final_loss"] > 0
    assert C.load(out / "checkpoints" / "last.pt")["step"] == 5
    assert not (out / "check").exists() or not list((out / "check").iterdir())  # no part of a check set
    assert not [p for p in out.rglob("*") if atomic.is_temp(p.name)]


def test_out_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    capsys.readouterr()
    assert main(TRAIN + ["--epochs", "1", "--out", str(tmp_path / "f" / "run"), *QUIET]) == 2
    assert str(tmp_path / "f" / "run") in _one_line(capsys.readouterr().err)


READ_ONLY = """
import errno, importlib.util, os, sys
spec = importlib.util.spec_from_file_location("_tiny", {tiny!r})
spec.loader.exec_module(importlib.util.module_from_spec(spec))
ROOT, real = {root!r}, os.mkdir
def mkdir(path, *a, **k):  # the file system under ROOT is mounted read-only
    if os.fspath(path).startswith(ROOT):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
    return real(path, *a, **k)
os.mkdir = mkdir
from idealssl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_out_on_a_read_only_file_system_is_one_line(tmp_path):
    script = tmp_path / "ro.py"
    script.write_text(READ_ONLY.format(tiny=os.path.join(os.path.dirname(__file__), "_tiny.py"), root=str(tmp_path)))
    out = tmp_path / "ro" / "run"
    r = subprocess.run(
        [sys.executable, str(script), *TRAIN, "--epochs", "1", "--out", str(out), *QUIET],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2
    line = _one_line(r.stderr)
    assert str(out) in line and "Read-only file system" in line


@pytest.mark.parametrize("where", [".", "..", "notes"])
def test_overwrite_refuses_the_working_directory_its_parents_and_non_runs(
    finished, tmp_path, monkeypatch, capsys, where
):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.tex").write_text("precious")
    monkeypatch.chdir(finished)
    before = {p.name for p in tmp_path.iterdir()}
    snap = _snapshot(tmp_path)
    target = str(notes) if where == "notes" else where
    capsys.readouterr()
    assert main(TRAIN + ["--epochs", "1", "--out", target, "--overwrite", *QUIET]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--overwrite" in line
    assert {p.name for p in tmp_path.iterdir()} == before and _snapshot(tmp_path) == snap


def test_overwrite_of_a_run_directory_still_moves_it_aside(finished, capsys):
    before = _snapshot(finished)
    capsys.readouterr()
    assert main(TRAIN + ["--epochs", "1", "--out", str(finished), "--overwrite", *QUIET]) == 0
    moved = [p for p in finished.parent.iterdir() if p.name.startswith("run.replaced-")]
    assert len(moved) == 1 and str(moved[0]) in capsys.readouterr().err
    assert _snapshot(moved[0]) == before and not (finished / LOCK_NAME).exists()
