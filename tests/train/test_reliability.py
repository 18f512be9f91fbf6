"""Issue 14: no run, checkpoint or verdict lost or corrupted silently (one test per numbered item).

Each run here is the tiny digits configuration (``FAST``: 5 steps per epoch, about a second).
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import sys

import pytest
import torch

from idealssl import atomic
from idealssl.cli import main
from idealssl.train import checkpoint as C

from ._tiny import FAST

TRAIN = ["train", "--method", "tinytest", "--dataset", "digits"]
QUIET = FAST + ["eval.at_end=[]"]


def _run(out, *extra, epochs=2):
    return main(TRAIN + ["--epochs", str(epochs), "--out", str(out), *QUIET, *extra])


def _snapshot(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _one_line_error(capsys):
    return _one_line_error_text(capsys.readouterr().err)


def _one_line_error_text(err):
    err = err.strip()
    assert "Traceback" not in err
    lines = [l for l in err.splitlines() if "error:" in l]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def _template(tmp_path_factory):
    out = tmp_path_factory.mktemp("template") / "run"
    assert _run(out) == 0
    return out


@pytest.fixture
def finished(tmp_path, _template):
    """A finished 2-epoch run (10 steps; a copy of one trained once per module)."""
    out = tmp_path / "run"
    shutil.copytree(_template, out)
    return out


# ------------------------------------------------------------------------------------------------ 1
def test_1_nonempty_out_without_resume_is_refused_and_nothing_changes(finished, capsys):
    before = _snapshot(finished)
    capsys.readouterr()
    assert _run(finished, epochs=1) == 2
    line = _one_line_error(capsys)
    assert str(finished) in line and "--resume" in line and "--overwrite" in line
    assert _snapshot(finished) == before


def test_1_overwrite_moves_the_old_run_aside_and_says_where(finished, capsys):
    before = _snapshot(finished)
    capsys.readouterr()
    assert _run(finished, "--overwrite", epochs=1) == 0
    err = capsys.readouterr().err
    moved = [p for p in finished.parent.iterdir() if p.name.startswith("run.replaced-")]
    assert len(moved) == 1 and str(moved[0]) in err
    assert _snapshot(moved[0]) == before
    assert C.load(finished / "checkpoints" / "last.pt")["step"] == 5


@pytest.mark.parametrize("kind", ["empty", "missing", "missing-parents"])
def test_1_empty_or_missing_out_is_fine(tmp_path, capsys, kind):
    outs = {"empty": tmp_path / "empty", "missing": tmp_path / "new", "missing-parents": tmp_path / "a" / "b" / "new"}
    out = outs[kind]
    if kind == "empty":
        out.mkdir()
    capsys.readouterr()
    assert _run(out, epochs=1) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out.strip().splitlines()[-1])["run_dir"] == str(out)
    assert f"run directory: {out}" in cap.err
    assert "error" not in cap.err and "--overwrite" not in cap.err and "not empty" not in cap.err
    assert (out / "results.json").is_file() and C.load(out / "checkpoints" / "last.pt")["step"] == 5


# ------------------------------------------------------------------------------------------------ 2
def _flip(path, n=50):
    b = bytearray(path.read_bytes())
    mid = len(b) // 2
    for i in range(mid, mid + n):
        b[i] ^= 0xFF
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("cmd", ["resume", "eval", "export"])
def test_2_flipped_bytes_in_a_checkpoint_are_detected(finished, capsys, cmd, tmp_path):
    last = finished / "checkpoints" / "last.pt"
    _flip(last)
    capsys.readouterr()
    argv = {
        "resume": ["train", "--out", str(finished), "--resume"],
        "eval": ["eval", "knn", str(finished)],
        "export": ["export", str(finished), "--out", str(tmp_path / "x.pt")],
    }[cmd]
    assert main(argv) == 2
    line = _one_line_error(capsys)
    assert str(last) in line and ("digest" in line or "not an idealssl checkpoint" in line), line


def test_2_digest_is_stored_and_verified(finished):
    ck = C.load(finished / "checkpoints" / "last.pt")
    assert ck["step"] == 10
    raw = torch.load(finished / "checkpoints" / "last.pt", weights_only=True)
    assert set(raw) == {"format", "sha256", "payload"} and len(raw["sha256"]) == 64


def test_2_zero_byte_checkpoint_is_a_clear_error(finished, capsys):
    (finished / "checkpoints" / "last.pt").write_bytes(b"")
    capsys.readouterr()
    assert main(["train", "--out", str(finished), "--resume"]) == 2
    line = _one_line_error(capsys)
    assert "last.pt" in line and "empty" in line


# ------------------------------------------------------------------------------------------------ 3
def test_3_resume_file_with_out_writes_into_out_only(finished, tmp_path):
    before = _snapshot(finished)
    new = tmp_path / "branch"
    assert (
        main(
            [
                "train",
                "--resume",
                str(finished / "checkpoints" / "last.pt"),
                "--out",
                str(new),
                "--epochs",
                "3",
                *FAST[-1:],
            ]
        )
        == 0
    )
    assert _snapshot(finished) == before
    assert (new / "config.yaml").is_file() and (new / "results.json").is_file()
    assert C.load(new / "checkpoints" / "last.pt")["step"] == 15
    steps = [
        json.loads(l)["step"] for l in (new / "metrics.jsonl").read_text().splitlines() if "probe_loss" in json.loads(l)
    ]
    assert steps == list(range(1, 16))


def test_3_resume_file_outside_a_run_needs_out(finished, tmp_path, capsys):
    loose = tmp_path / "loose.pt"
    loose.write_bytes((finished / "checkpoints" / "last.pt").read_bytes())
    capsys.readouterr()
    assert main(["train", "--resume", str(loose)]) == 2
    assert "--out" in _one_line_error(capsys)


def test_3_eval_on_a_loose_file_writes_next_to_it(finished, tmp_path):
    loose = tmp_path / "x" / "loose.pt"
    loose.parent.mkdir()
    loose.write_bytes((finished / "checkpoints" / "last.pt").read_bytes())
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["eval", "knn", str(loose)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (loose.parent / "loose-eval-knn.json").is_file()


# ------------------------------------------------------------------------------------------------ 4
def test_4_resume_without_checkpoint_drops_the_dead_runs_records_and_temp_files(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss": 1.0, "probe_loss": 1.0}) + "\n" for s in (1, 2, 3)) + '{"step": 4, "lo'
    )
    orphan = out / "checkpoints" / f".last.pt.abc12345{atomic.TEMP_SUFFIX}"  # the checkpoint writer's temporary name
    orphan.write_bytes(b"partial")
    assert main(TRAIN + ["--epochs", "1", "--out", str(out), "--resume", *QUIET]) == 0
    steps = [
        json.loads(l)["step"] for l in (out / "metrics.jsonl").read_text().splitlines() if "probe_loss" in json.loads(l)
    ]
    assert steps == [1, 2, 3, 4, 5]
    assert not orphan.exists()


def test_4_resume_from_a_checkpoint_keeps_exactly_the_records_up_to_its_step(finished):
    with open(finished / "metrics.jsonl", "a") as fh:  # a dead process logged past the checkpoint
        fh.write(json.dumps({"step": 11, "loss": 9.0, "probe_loss": 9.0}) + "\n")
    assert main(["train", "--out", str(finished), "--resume", "--epochs", "3", *FAST[-1:]]) == 0
    steps = [
        json.loads(l)["step"]
        for l in (finished / "metrics.jsonl").read_text().splitlines()
        if "probe_loss" in json.loads(l)
    ]
    assert steps == list(range(1, 16))


# ------------------------------------------------------------------------------------------------ 5
def test_5_resume_extends_epochs_explicitly(finished, capsys):
    capsys.readouterr()
    assert main(["train", "--out", str(finished), "--resume", "--epochs", "4", *FAST[-1:]]) == 0
    err = capsys.readouterr().err
    assert "optim.epochs 2 -> 4" in err and "kept from the checkpoint" in err
    assert json.loads((finished / "results.json").read_text())["steps"] == 20


@pytest.mark.parametrize(
    "flags,key",
    [
        (["--lr", "0.5"], "optim.lr"),
        (["--batch-size", "32"], "optim.batch_size"),
        (["optim.weight_decay=0.1"], "optim.weight_decay"),
        (["--epochs", "1"], "optim.epochs"),
    ],
)
def test_5_resume_refuses_silent_changes(finished, capsys, flags, key):
    before = _snapshot(finished)
    capsys.readouterr()
    assert main(["train", "--out", str(finished), "--resume", *flags, *FAST[-1:]]) == 2
    line = _one_line_error(capsys)
    assert key in line
    assert _snapshot(finished) == before


def test_5_allow_changes_applies_and_says_so(finished, capsys):
    capsys.readouterr()
    assert (
        main(
            [
                "train",
                "--out",
                str(finished),
                "--resume",
                "--epochs",
                "3",
                "--lr",
                "0.001",
                "--allow-changes",
                *FAST[-1:],
            ]
        )
        == 0
    )
    err = capsys.readouterr().err
    assert "optim.lr" in err and "0.001" in err
    assert C.load(finished / "checkpoints" / "last.pt")["cfg"]["optim"]["lr"] == 0.001


# ------------------------------------------------------------------------------------------------ 6
def test_6_non_finite_weights_are_never_saved_as_a_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "blow"
    rc = main(TRAIN + ["--epochs", "3", "--out", str(out), *QUIET, "objective.inf_weight_at=10"])
    err = capsys.readouterr().err
    assert rc == 3 and "not finite" in err and "Traceback" not in err
    assert C.load(out / "checkpoints" / "last.pt")["step"] == 5


# ------------------------------------------------------------------------------------------------ 8
@pytest.mark.parametrize(
    "override,fragment",
    [
        ("optim.grad_clip=abc", "optim.grad_clip"),
        ("model.width=-3", "model.width"),
        ("views.scale=5", "views.scale"),
        ("optim.lr=inf", "optim.lr"),
        ("views.scale=[0.9,0.1]", "views.scale"),
        ("optim.momentum=nan", "optim.momentum"),
        ("views.flip_p=2", "views.flip_p"),
        ("eval.knn_k=0", "eval.knn_k"),
        ("train.log_every=0", "train.log_every"),
    ],
)
def test_8_bad_overrides_are_one_line_exit_2(tmp_path, capsys, override, fragment):
    assert main(TRAIN + ["--out", str(tmp_path / "r"), *QUIET, override]) == 2
    assert fragment in _one_line_error(capsys)
    assert not (tmp_path / "r").exists()


def test_8_numbers_written_like_1e_3_are_numbers(tmp_path):
    assert _run(tmp_path / "r", "optim.lr=1e-3", epochs=1) == 0


def _write_checkpoint(src, dst, edit):
    ck = C.load(src)
    edit(ck)
    C.save_atomic(ck, dst)


@pytest.mark.parametrize(
    "edit",
    [
        lambda ck: ck["cfg"]["model"].update(arch="nosuch"),
        lambda ck: ck["cfg"].pop("model"),
        lambda ck: ck["backbone"].pop(next(iter(ck["backbone"]))),
        lambda ck: ck.update(backbone={"x": 1}),
    ],
)
def test_8_eval_on_a_checkpoint_with_a_bad_config_or_state_dict(finished, tmp_path, capsys, edit):
    bad = tmp_path / "bad" / "checkpoints" / "last.pt"
    _write_checkpoint(finished / "checkpoints" / "last.pt", bad, edit)
    capsys.readouterr()
    assert main(["eval", "knn", str(bad)]) == 2
    _one_line_error(capsys)


def test_8_export_to_a_directory_or_with_a_bad_state_dict(finished, tmp_path, capsys):
    capsys.readouterr()
    assert main(["export", str(finished), "--out", str(tmp_path)]) == 2
    assert "directory" in _one_line_error(capsys)
    bad = tmp_path / "bad" / "checkpoints" / "last.pt"
    _write_checkpoint(
        finished / "checkpoints" / "last.pt", bad, lambda ck: ck.update(backbone={"x": 1}, arch="resnet18")
    )
    assert main(["export", str(bad), "--out", str(tmp_path / "o.pt"), "--format", "torchvision"]) == 2
    _one_line_error(capsys)
    assert main(["export", str(bad), "--out", str(tmp_path / "o.pt")]) == 2
    _one_line_error(capsys)


ENOSPC_RUNNER = """
import errno, importlib.util, os, sys
spec = importlib.util.spec_from_file_location("_tiny", {tiny!r})
spec.loader.exec_module(importlib.util.module_from_spec(spec))
real = os.write
def write(fd, data):  # the device fills up while a checkpoint is written: part of it reaches the disk, then ENOSPC
    name = os.path.basename(os.readlink(f"/proc/self/fd/{{fd}}"))
    if name.startswith(".last.pt."):
        real(fd, bytes(memoryview(data)[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real(fd, data)
os.write = write
from idealssl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _fsize_limit(limit):
    def pre():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit a write fails with EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


@pytest.mark.parametrize("how", ["enospc", "file-size-limit"])
def test_8_disk_full_while_writing_a_checkpoint_keeps_the_old_one(finished, tmp_path, runner, how):
    """Real writes that fail part way (no privileges needed): ENOSPC injected at ``os.write`` after half the bytes
    reached the temporary file, or the kernel's file size limit (RLIMIT_FSIZE) below the checkpoint's size."""
    last = finished / "checkpoints" / "last.pt"
    before = last.read_bytes()
    script, pre = runner, None
    if how == "enospc":
        if not os.path.isdir("/proc/self/fd"):
            pytest.skip("needs /proc/self/fd to tell which file a write goes to")
        script = tmp_path / "enospc.py"
        script.write_text(ENOSPC_RUNNER.format(tiny=os.path.join(os.path.dirname(__file__), "_tiny.py")))
    else:
        pre = _fsize_limit(len(before) - 4096)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run(
        [sys.executable, str(script), "train", "--out", str(finished), "--resume", "--epochs", "3", *FAST[-1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=pre,
    )
    assert r.returncode == 2, r.stderr
    line = _one_line_error_text(r.stderr)
    word = "no space left on the device" if how == "enospc" else "file size limit"
    assert word in line and str(last) in line and "previous file is kept" in line, line
    assert last.read_bytes() == before
    assert not [p.name for p in last.parent.iterdir() if p.name != "last.pt"]  # the partial temporary file removed


@pytest.mark.parametrize("labels", [["a", "b"], [0.5, 1.0], [2**70, 0], [-1, 3], [10, 0]])
def test_8_cifar_labels_non_integer_or_out_of_range(tmp_path, labels):
    import pickle

    import numpy as np

    from idealssl.data.datasets import load_dataset
    from idealssl.errors import InputError
    from idealssl.train.defaults import DataConfig

    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(root / name, "wb") as fh:
            pickle.dump({b"labels": labels, b"data": np.zeros((2, 3072), np.uint8)}, fh, protocol=2)
    with pytest.raises(InputError, match="labels"):
        load_dataset("cifar10", tmp_path, DataConfig())


# ------------------------------------------------------------------------------------------------ 9
def test_9_lars_trains(tmp_path):
    assert _run(tmp_path / "r", "optim.name=lars", "optim.lr=0.5", epochs=1) == 0


def test_9_lars_trust_ratio_and_exclusions():
    from idealssl.train.optim import LARS

    w = torch.nn.Parameter(torch.ones(4, 4))
    b = torch.nn.Parameter(torch.ones(4))
    opt = LARS([{"params": [w, b], "lr": 0.1, "weight_decay": 0.0}], momentum=0.0, eta=0.001)
    w.grad = torch.full((4, 4), 2.0)
    b.grad = torch.full((4,), 2.0)
    opt.step()
    # weights: lr * eta * ||w|| / ||g|| * g = 0.1 * 0.001 * 4/8 * 2; bias (1-d): plain SGD step 0.1 * 2
    assert torch.allclose(w, torch.full((4, 4), 1 - 0.1 * 0.001 * 0.5 * 2))
    assert torch.allclose(b, torch.full((4,), 1 - 0.2))


def test_9_a_run_shortened_below_the_presets_warmup_scales_it_and_says_so(capsys):
    from idealssl.errors import InputError
    from idealssl.train import config

    cfg = config.resolve("dissl", "digits", flags={"optim.epochs": 2})
    preset = config.resolve("dissl", "digits")["optim"]
    assert cfg["optim"]["epochs"] == 2
    assert cfg["optim"]["warmup_epochs"] == pytest.approx(preset["warmup_epochs"] * 2 / preset["epochs"], abs=1e-4)
    assert "scaled with the run" in capsys.readouterr().err
    with pytest.raises(InputError, match="warmup_epochs"):  # a warmup the user chose is never changed
        config.resolve("dissl", "digits", flags={"optim.epochs": 2}, overrides=["optim.warmup_epochs=5"])


def test_9_fewer_epochs_than_warmup_is_refused(tmp_path, capsys):
    assert main(TRAIN + ["--out", str(tmp_path / "r"), "--epochs", "2", *QUIET, "optim.warmup_epochs=5"]) == 2
    assert "warmup_epochs" in _one_line_error(capsys)


# ------------------------------------------------------------------------------------------------ 10
@pytest.mark.parametrize("name", ["config.yaml", "results.json", "env.json", "metrics.jsonl"])
def test_10_run_files_do_not_follow_planted_symlinks(finished, tmp_path, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (finished / name).unlink()
    os.symlink(victim, finished / name)
    assert main(["train", "--out", str(finished), "--resume", "--epochs", "3", *FAST[-1:]]) == 0
    assert victim.read_text() == "precious"
    assert not (finished / name).is_symlink()


def test_2_the_checkpoint_file_is_the_verified_format_byte_for_byte(tmp_path):
    """save_atomic shares memory instead of copying (no bytearray, no getvalue): the file is still exactly
    torch.save({"format", "sha256", "payload"}) of the state's serialisation, and loads back equal."""
    import hashlib
    import io

    state = {"backbone": {"w": torch.arange(1000, dtype=torch.float32)}, "cfg": {"seed": 0}, "step": 3}
    buf = io.BytesIO()
    torch.save(state, buf)
    raw = buf.getvalue()
    ref = io.BytesIO()
    payload = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
    torch.save({"format": C.FORMAT, "sha256": hashlib.sha256(raw).hexdigest(), "payload": payload}, ref)
    C.save_atomic(state, tmp_path / "last.pt")
    assert (tmp_path / "last.pt").read_bytes() == ref.getvalue()
    back = C.load(tmp_path / "last.pt")
    assert torch.equal(back["backbone"]["w"], state["backbone"]["w"]) and back["step"] == 3
