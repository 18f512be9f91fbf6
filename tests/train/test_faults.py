"""Fault injection (issue 14): kills at random points of the step and of the checkpoint write, truncated and
bit-flipped checkpoints, a full disk. Each case asserts: no traceback, the right exit code, nothing
previously written lost (and, after a resume, the same losses as a run never disturbed).

Slow (subprocesses, several runs): CI's slow step. The full-disk case needs root (a small tmpfs) and is
skipped otherwise.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from idealssl.cli import main
from idealssl.train import checkpoint as C

from ._tiny import FAST

pytestmark = pytest.mark.slow

ARGS = ["train", "--method", "tinyema", "--dataset", "digits", "--epochs", "4", *FAST, "eval.at_end=[]"]
TOTAL = 20  # 4 epochs x 5 steps


def _losses(run_dir):
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "probe_loss" in rec:
            assert rec["step"] not in out, f"step {rec['step']} logged twice"
            out[rec["step"]] = rec["loss"]
    return out


def _snapshot(d, skip=()):
    return {
        p.relative_to(d).as_posix(): p.read_bytes()
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.relative_to(d).as_posix() not in skip
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, in a subprocess with the same environment (threads) as the runs it is compared
    with: CPU kernels with another number of threads round differently (CI exports OMP_NUM_THREADS=2)."""
    d = tmp_path_factory.mktemp("ref")
    out = d / "run"
    r = subprocess.run(
        [sys.executable, str(_runner(d)), *ARGS, "--out", str(out)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    return _losses(out)


def _runner(tmp_path, kill_write=None, kill_fraction=0.5, name="runner.py"):
    """A script running the CLI with the tiny objectives; with ``kill_write=N`` the process SIGKILLs itself
    after writing ``kill_fraction`` of the bytes of its N-th checkpoint (into the temporary file)."""
    here = os.path.dirname(__file__)
    p = tmp_path / name
    p.write_text(
        textwrap.dedent(f"""
        import importlib.util, os, signal, sys
        spec = importlib.util.spec_from_file_location("_tiny", {os.path.join(here, "_tiny.py")!r})
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        from idealssl import atomic as A
        KILL, FRAC, count = {kill_write!r}, {kill_fraction!r}, [0]
        real_stage, real_all = A._stage, A._write_all
        def partial(fd, data):  # a part of the bytes reaches the temporary file, then the process is killed
            real_all(fd, bytes(memoryview(data)[: int(len(data) * FRAC)])); os.fsync(fd)
            os.kill(os.getpid(), signal.SIGKILL)
        def stage(path, data, what):
            if what == "checkpoint" and KILL is not None:
                count[0] += 1
                if count[0] >= KILL:
                    A._write_all = partial
            return real_stage(path, data, what)
        A._stage = stage
        from idealssl.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    )
    return p


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _resume_until_done(runner, out, tries=3):
    for _ in range(tries):
        r = subprocess.run(
            [sys.executable, str(runner), "train", "--out", str(out), "--resume", "train.progress=off"],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert "Traceback" not in r.stderr, r.stderr
        if r.returncode == 0:
            return r
    raise AssertionError(r.stderr)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kill9_at_a_random_point_of_a_step_then_resume(tmp_path, reference, seed):
    rng = random.Random(seed)
    runner, out = _runner(tmp_path), tmp_path / "run"
    p = subprocess.Popen(
        [sys.executable, str(runner), *ARGS, "--out", str(out)],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    target = rng.randint(2, TOTAL - 3)
    t0 = time.time()
    while time.time() - t0 < 300 and p.poll() is None:
        m = out / "metrics.jsonl"
        if m.exists() and len(m.read_text().splitlines()) >= target:
            time.sleep(rng.random() * 0.05)
            break
        time.sleep(0.005)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL, "the run ended before it was killed: no fault was injected"
    last = C.find_last(out)
    if last is not None:
        C.load(last)  # never corrupt
    _resume_until_done(runner, out)
    got = _losses(out)
    assert got == reference


@pytest.mark.parametrize("which,fraction", [(1, 0.0), (2, 0.5), (3, 0.99)])
def test_kill9_during_the_checkpoint_write(tmp_path, reference, which, fraction):
    runner, out = _runner(tmp_path, kill_write=which, kill_fraction=fraction), tmp_path / "run"
    r = subprocess.run(
        [sys.executable, str(runner), *ARGS, "--out", str(out)], env=_env(), capture_output=True, text=True, timeout=600
    )
    assert r.returncode == -signal.SIGKILL and "Traceback" not in r.stderr
    tmp = list((out / "checkpoints").glob(".last.pt.*.tmp"))
    assert len(tmp) == 1  # the write that was cut short
    last = C.find_last(out)
    if which == 1:
        assert last is None
    else:
        assert C.load(last)["step"] == 5 * (which - 1)  # the previous checkpoint, intact
    _resume_until_done(_runner(tmp_path, name="plain.py"), out)
    assert not list((out / "checkpoints").glob(".*.tmp"))
    assert _losses(out) == reference


@pytest.fixture
def one_thread():
    """In-process runs compared with :func:`reference` use its thread count (1), whatever the worker's."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main([*ARGS, "--out", str(out)]) == 0
    return out


def _damage(path, rng, kind):
    raw = bytearray(path.read_bytes())
    if kind == "truncate":
        del raw[rng.randrange(0, len(raw)) :]
    else:
        for _ in range(rng.choice([1, 8, 50])):
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("kind", ["truncate", "flip"])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("cmd", ["resume", "eval", "export"])
def test_damaged_checkpoints_are_refused_in_one_line(tmp_path, finished, capsys, kind, seed, cmd):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    last = run / "checkpoints" / "last.pt"
    good = C.load(last)
    _damage(last, random.Random(seed * 7 + len(cmd)), kind)
    before = _snapshot(run)
    argv = {
        "resume": ["train", "--out", str(run), "--resume", "train.progress=off"],
        "eval": ["eval", "knn", str(run), "--out", str(tmp_path / "e.json")],
        "export": ["export", str(run), "--out", str(tmp_path / "x.pt")],
    }[cmd]
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if rc == 2:
        assert len([l for l in err.splitlines() if "error:" in l]) == 1 and str(last) in err, err
        assert _snapshot(run) == before  # nothing previously written lost
    else:  # the damage hit bytes no reader uses (zip padding): the contents must be exactly the good ones
        assert rc == 0
        same = C.load(last)
        assert all(torch.equal(same["model"][k], good["model"][k]) for k in good["model"])


def test_truncated_metrics_and_missing_run_files_resume(tmp_path, finished, reference):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    ck = C.load(run / "checkpoints" / "last.pt")
    assert ck["step"] == TOTAL
    text = (run / "metrics.jsonl").read_text()
    cut = text[: len(text) // 2]
    assert not cut.endswith("\n")  # cut mid-line
    (run / "metrics.jsonl").write_text(cut)
    (run / "config.yaml").unlink()
    kept = [json.loads(line) for line in cut.splitlines()[:-1]]  # the whole records before the cut
    kept_steps = [r["step"] for r in kept if "probe_loss" in r]
    assert main(["train", "--out", str(run), "--resume", "--epochs", "5", "train.progress=off"]) == 0
    got = _losses(run)
    assert list(got) == kept_steps + list(range(TOTAL + 1, 26))  # each kept step once, in order, then 21..25


def _mount_tmpfs(path, size_kib):
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root")
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip()})")


def test_full_disk_keeps_the_last_checkpoint(tmp_path, finished, reference, capsys, one_thread):
    ck_size = (finished / "checkpoints" / "last.pt").stat().st_size
    small = sum(p.stat().st_size for p in finished.iterdir() if p.is_file()) + 8192
    mnt = tmp_path / "mnt"
    _mount_tmpfs(mnt, (small + ck_size + ck_size // 2) // 1024 + 8)  # one checkpoint fits, not a second beside it
    try:
        out = mnt / "run"
        capsys.readouterr()
        rc = main([*ARGS, "--out", str(out)])
        err = capsys.readouterr().err
        assert rc == 2 and "Traceback" not in err and "no space left" in err, err
        last = C.find_last(out)
        assert last is not None and C.load(last)["step"] >= 5
        assert not list((out / "checkpoints").glob(".*.tmp"))
        saved = tmp_path / "saved"
        shutil.copytree(out, saved)
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
    assert main(["train", "--out", str(saved), "--resume", "train.progress=off"]) == 0
    assert _losses(saved) == reference
