"""Streaming image data (issue 17): image files decoded per batch by DataLoader workers must give the in-memory
path's batches, pixels and losses; the order is a function of (seed, epoch), shards are disjoint, a resume
continues mid-epoch exactly, evaluation never decodes the whole set at once, and data.stream / the memory
budget are chosen and reported as documented."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from idealssl.cli import main
from idealssl.data import stream as S
from idealssl.data.datasets import FileImages, channel_stats, load_dataset, stream_choice
from idealssl.errors import InputError
from idealssl.train import checkpoint as C
from idealssl.train.defaults import DataConfig

from ._tiny import jpeg_folder
from .conftest import train_args as build_train_args

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """4 classes x 12 train / 3 val JPEGs of 20 x 24 px (resized and centre-cropped to data.image_size)."""
    return jpeg_folder(tmp_path_factory.mktemp("jpeg") / "data")


def _args(folder, out, *extra):
    return build_train_args(
        "tinytest",
        "model.width=8",
        "optim.batch_size=8",
        "optim.warmup_epochs=0",
        "data.image_size=16",
        "train.log_every=1",
        "train.progress=off",
        *extra,
        dataset="folder",
        epochs=2,
        out=out,
        flags=["--data-dir", str(folder), "--arch", "convnet"],
        fast=False,
    )


def _losses(run_dir):
    recs = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in recs if "probe_loss" in r}


def test_file_images_decode_like_the_in_memory_path(folder):
    """FileImages indexes like the decoded array (ints, slices, index and boolean arrays, tuples) with the
    same pixels, and the channel statistics are the same bit for bit."""
    mem = load_dataset("folder", folder, DataConfig(image_size=16, stream=False))
    lazy = load_dataset("folder", folder, DataConfig(image_size=16, stream=True))
    assert isinstance(lazy.train_x, FileImages) and isinstance(mem.train_x, np.ndarray)
    assert lazy.train_x.shape == mem.train_x.shape and lazy.test_x.shape == mem.test_x.shape
    assert lazy.mean == mem.mean and lazy.std == mem.std
    idx = np.array([5, 0, 47, 5])
    mask = mem.train_y == 2
    assert np.array_equal(lazy.train_x[3], mem.train_x[3])
    assert np.array_equal(lazy.train_x[10:14], mem.train_x[10:14])
    assert np.array_equal(lazy.train_x[idx], mem.train_x[idx])
    assert np.array_equal(lazy.train_x[mask], mem.train_x[mask])
    assert np.array_equal(lazy.train_x[2, 1], mem.train_x[2, 1])
    assert np.array_equal(lazy.train_x[1:3, 0], mem.train_x[1:3, 0])
    assert np.array_equal(np.asarray(lazy.test_x), mem.test_x)
    sub = lazy.train_x.take(idx)
    assert isinstance(sub, FileImages) and np.array_equal(sub[:], mem.train_x[idx])
    assert lazy.train_x.nbytes == mem.train_x.nbytes
    with pytest.raises(IndexError):
        lazy.train_x[np.array([0.5])]
    # exact integer sums: chunked reading gives the same statistics as all at once
    assert channel_stats(mem.train_x, chunk_bytes=7 * 3 * 16 * 16) == channel_stats(mem.train_x)


def test_batch_sampler_is_the_in_memory_order_sharded_disjointly():
    """Per rank, EpochBatches yields batch_indices of the (seed, epoch) permutation; the W shards of a global
    batch are disjoint and make the global batch; a later start continues the same sequence."""
    n, B, seed, epoch = 50, 12, 3, 2
    perm = S.epoch_permutation(seed, epoch, n)
    assert torch.equal(perm, torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000003 + epoch)))
    for world in (1, 2, 3, 4):
        shards = [list(S.EpochBatches(n, seed, epoch, B, r, world, 0, n // B)) for r in range(world)]
        for pos in range(n // B):
            glob = sum((shards[r][pos] for r in range(world)), [])
            assert glob == perm[pos * B : (pos + 1) * B].tolist() and len(set(glob)) == B
        tail = list(S.EpochBatches(n, seed, epoch, B, world - 1, world, 2, n // B))
        assert tail == shards[world - 1][2:]
    assert len(S.EpochBatches(n, seed, epoch, B, 0, 2, 1, 4)) == 3
    with pytest.raises(ValueError, match="not divisible"):
        S.EpochBatches(n, seed, epoch, 10, 0, 3, 0, 1)


def test_streamed_and_in_memory_runs_give_the_same_losses(folder, tmp_path, capsys):
    """The same batches, pixels and views: identical losses and evaluations, whatever the number of workers;
    the start-up line, env.json and results.json say how the images were read."""
    ev = ["eval.at_end=[knn,fewshot]", "eval.knn_k=3", "eval.fewshot_k=2", "eval.fewshot_trials=1"]
    ev += ["check.images=4", "check.views=2"]
    runs = {
        "memory": ["data.stream=false"],
        "stream1": ["data.stream=true", "data.num_workers=1"],
        "stream2": ["data.stream=true", "data.num_workers=2"],
    }
    for name, extra in runs.items():
        assert main(_args(folder, tmp_path / name, *ev, *extra)) == 0
        err = capsys.readouterr().err
        if name == "memory":
            assert "48 pretraining images decoded once and held in memory (data.stream=false" in err
        else:
            assert f"data: streamed from image files, decoded per batch by {extra[1][-1]} DataLoader" in err
    losses = {name: _losses(tmp_path / name) for name in runs}
    assert sorted(losses["memory"]) == list(range(1, 13))
    assert losses["memory"] == losses["stream1"] == losses["stream2"]
    res = {name: json.loads((tmp_path / name / "results.json").read_text()) for name in runs}
    assert res["memory"]["data_stream"]["streamed"] is False and res["stream2"]["data_stream"]["streamed"] is True
    assert res["stream2"]["data_stream"]["workers"] == 2
    assert json.loads((tmp_path / "stream1" / "env.json").read_text())["data_stream"]["streamed"] is True
    for key in ("knn", "fewshot"):
        assert res["memory"]["eval"][key]["top1"] == res["stream2"]["eval"][key]["top1"]
    assert res["memory"]["check"]["invariance_ratio"] == res["stream2"]["check"]["invariance_ratio"]


def test_streamed_run_resumes_mid_epoch_exactly(folder, tmp_path, monkeypatch):
    """Stopped at step 9 (mid-epoch 2 of 6-step epochs) and resumed: the same losses as uninterrupted; no code
    path decodes the whole set at once (FileImages.__array__ is never called)."""

    def whole(self, *a, **k):
        raise AssertionError("decoded every image at once")

    monkeypatch.setattr(FileImages, "__array__", whole)
    a, b = tmp_path / "a", tmp_path / "b"
    common = ["data.stream=true", "data.num_workers=1", "eval.at_end=[knn,fewshot]", "eval.fewshot_k=2"]
    common += ["eval.fewshot_trials=1", "eval.knn_k=3", "check.images=4", "check.views=2"]
    assert main(_args(folder, a, *common)) == 0
    assert main(_args(folder, b, *common, "train.limit_steps=9")) == 0
    assert C.load(b / "checkpoints" / "last.pt")["step"] == 9
    assert main(["train", "--out", str(b), "--resume", "train.progress=off"]) == 0
    assert _losses(a) == _losses(b) and len(_losses(a)) == 12
    # evaluating the streamed run afterwards streams too
    assert main(["eval", "knn", str(a)]) == 0 and main(["eval", "check", str(a), "--images", "4", "--views", "2"]) == 0


def test_a_resume_may_change_how_images_are_read(folder, tmp_path, capsys):
    """data.stream (and num_workers) do not change the trajectory: a run started in memory may continue streamed."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(_args(folder, a, "data.stream=false", "eval.at_end=[]", "check.enabled=false")) == 0
    assert (
        main(_args(folder, b, "data.stream=false", "eval.at_end=[]", "check.enabled=false", "train.limit_steps=5")) == 0
    )
    capsys.readouterr()
    assert main(["train", "--out", str(b), "--resume", "train.progress=off", "data.stream=true"]) == 0
    assert "data: streamed from image files" in capsys.readouterr().err
    assert _losses(a) == _losses(b)


def test_auto_streams_above_the_memory_budget(folder, tmp_path, capsys):
    """data.stream=auto: in memory under data.memory_budget_gb, streamed above it (said on the start-up line)."""
    assert stream_choice("auto", 10, 3, 10, 1e-5) == ""  # 3,000 bytes
    assert "> data.memory_budget_gb=1e-06" in stream_choice("auto", 1000, 3, 10, 1e-6)
    assert stream_choice(False, 10**9, 3, 224, 1.0) == "" and stream_choice(True, 1, 1, 1, 8.0).startswith("data.st")
    assert not load_dataset("folder", folder, DataConfig(image_size=16)).stream  # defaults: auto, 8 GB
    out = tmp_path / "auto"
    assert main(_args(folder, out, "data.memory_budget_gb=1e-6", "eval.at_end=[]", "check.enabled=false")) == 0
    err = capsys.readouterr().err
    assert "data: streamed from image files" in err and "data.stream=auto: decoded, the 60 images would take" in err
    assert json.loads((out / "results.json").read_text())["data_stream"]["setting"] == "auto"


@pytest.mark.parametrize(
    "override,message",
    [
        ("data.stream=maybe", "data.stream must be auto, true or false, got 'maybe'"),
        ("data.memory_budget_gb=0", "data.memory_budget_gb must be a finite number > 0"),
        ("data.memory_budget_gb=-1", "data.memory_budget_gb must be a finite number > 0"),
    ],
)
def test_bad_stream_settings_are_one_line(folder, tmp_path, capsys, override, message):
    assert main(_args(folder, tmp_path / "x", override)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.strip().count("\n") == 0


def test_stream_true_on_an_array_dataset_is_refused(train_args, tmp_path, capsys):
    code = main(train_args("tinytest", "data.stream=true", out=tmp_path / "d", fast=False))
    err = capsys.readouterr().err
    assert code == 2 and "data.stream=true: digits is held in memory" in err and "Traceback" not in err
    with pytest.raises(InputError, match="cifar10 is held in memory"):
        load_dataset("cifar10", tmp_path, DataConfig(stream=True))


def test_streaming_bench_smoke(tmp_path):
    """benches/stream.py --smoke (as CI runs it): both ways of reading train and report numbers."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = tmp_path / "stream.json"
    r = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "stream.py"), "--smoke", "--data", str(tmp_path), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [row["streamed"] for row in rows] == [False, True]
    assert all(row["images_per_s"] > 0 and row["rss_train_mib"] > 0 and row["anon_tree_peak_mib"] > 0 for row in rows)
    assert rows[1]["data_stream"]["streamed"] and not rows[0]["data_stream"]["streamed"]
    r = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "stream.py"), "--table", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and r.stdout.count("| 48 | ") == 2 and "streamed (2 workers)" in r.stdout


# ------------------------------------------------------------------------------------------------ 2 processes
_DDP_RUNNER = """
import importlib.util, os, signal, sys, time
spec = importlib.util.spec_from_file_location("_tiny", {tiny!r})
spec.loader.exec_module(importlib.util.module_from_spec(spec))
from idealssl.train import loop
SLEEP = float(os.environ.get("TEST_SLEEP", "0"))
TERM_AT = int(os.environ.get("TEST_TERM_PARENT_AT", "0"))
KILL_AT = int(os.environ.get("TEST_KILL9_AT", "0"))
real = loop.train_step
def train_step(run, *args):
    stop = real(run, *args)
    time.sleep(SLEEP)
    if run.step == TERM_AT and run.info.rank == 0:
        os.kill(os.getppid(), signal.SIGTERM)  # as a scheduler stops the job: SIGTERM to torchrun
    if run.step == KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)  # a crash of every process at this step
    return stop
loop.train_step = train_step
from idealssl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _torchrun(runner, folder, out, *extra, env_extra=None, check=True):
    """``torchrun`` in its multi-node form (c10d rendezvous; one node here) with 2 gloo processes on CPU."""
    from .test_faults import _env

    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
    cmd += ["--rdzv-backend", "c10d", "--rdzv-endpoint", "localhost:0", str(runner)]
    args = _args(folder, out, "optim.batch_size=6", "eval.at_end=[]", "check.enabled=false", *extra)
    args[args.index("--epochs") + 1] = "3"
    r = subprocess.run(cmd + args, env=dict(_env(), **(env_extra or {})), capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, r.stderr[-3000:]
    return r


@pytest.mark.slow
@pytest.mark.xdist_group("torchrun")
def test_torchrun_two_processes_streamed_killed_and_resumed_mid_epoch(folder, tmp_path, capsys):
    """2 processes (gloo, CPU), images streamed: the same losses as in memory; stopped mid-epoch by SIGTERM to
    torchrun, resumed, killed (SIGKILL, every process) after the next checkpoint, resumed again: the losses of an
    uninterrupted 2-process run. A 2-process checkpoint also continues on 1 process (another world size)."""
    from .test_faults import _losses as losses

    runner = tmp_path / "runner.py"
    runner.write_text(_DDP_RUNNER.format(tiny=str(Path(__file__).with_name("_tiny.py"))))
    stream = ["data.stream=true", "data.num_workers=1"]
    ref, mem, b = tmp_path / "ref", tmp_path / "mem", tmp_path / "b"
    _torchrun(runner, folder, ref, *stream)
    _torchrun(runner, folder, mem, "data.stream=false")
    want = losses(ref)
    assert sorted(want) == list(range(1, 25)) and losses(mem) == want  # 48 images / 6 = 8 steps x 3 epochs
    env = json.loads((ref / "env.json").read_text())
    assert env["world_size"] == 2 and env["batch_size_per_process"] == 3 and env["data_stream"]["streamed"]

    r = _torchrun(runner, folder, b, *stream, env_extra={"TEST_SLEEP": "0.3", "TEST_TERM_PARENT_AT": "3"}, check=False)
    assert r.returncode != 0 and "stopped by signal 15; checkpoint written to" in r.stderr  # (torchrun's own
    # SignalException traceback follows: the agent's, not the training processes')
    ck = C.load(b / "checkpoints" / "last.pt")
    assert 3 <= ck["step"] < 8 and len(ck["rng"]["views"]) == 2  # mid-epoch 0, written once by rank 0

    # the same checkpoint continued by 1 process (branched): same global batch and position, the change said
    assert main(["train", "--resume", str(b / "checkpoints" / "last.pt"), "--out", str(tmp_path / "one")]) == 0
    err = capsys.readouterr().err
    assert "checkpoint written by 2 process(es) with 1: the global batch stays 6 (now 6 per process)" in err
    one = losses(tmp_path / "one")
    assert sorted(one) == list(range(1, 25)) and all(one[s] == want[s] for s in range(1, ck["step"] + 1))

    r = _torchrun(runner, folder, b, "--resume", env_extra={"TEST_KILL9_AT": "13"}, check=False)
    assert r.returncode != 0 and f"resuming at step {ck['step']}" in r.stderr
    assert C.load(b / "checkpoints" / "last.pt")["step"] == 8  # the end of epoch 0; killed at 13
    r = _torchrun(runner, folder, b, "--resume")
    assert "resuming at step 8" in r.stderr
    assert losses(b) == want


def _unlabeled(root, n=10, seed=3):
    """``root/unl/{a,b/c}/*.png``: unlabelled images in nested folders (no class structure)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        d = root / "unl" / ("a" if i % 2 else "b/c")
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (18, 22, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return root / "unl"


def test_unlabeled_dir_adds_unlabelled_images_before_train_streamed_or_not(folder, tmp_path):
    unl = _unlabeled(tmp_path)
    cfgs = [{"image_size": 16, "unlabeled_dir": str(unl), "stream": s} for s in (False, True)]
    mem, streamed = (load_dataset("folder", folder, DataConfig(**c)) for c in cfgs)
    plain = load_dataset("folder", folder, DataConfig(image_size=16, stream=False))
    for d in (mem, streamed):
        assert len(d.ssl_x) == 10 + len(plain.train_x) and "10 unlabelled images" in d.notes
        assert np.array_equal(np.asarray(d.ssl_x[10:]), plain.train_x)  # unlabelled first, then train
        assert np.array_equal(d.train_x[:], plain.train_x) and np.array_equal(d.test_y, plain.test_y)
    assert np.array_equal(np.asarray(streamed.ssl_x[np.arange(len(streamed.ssl_x))]), mem.ssl_x)


def test_unlabeled_dir_in_a_run_and_its_bad_inputs(folder, tmp_path, capsys):
    unl = _unlabeled(tmp_path)
    run = tmp_path / "run"
    assert main(_args(folder, run, f"data.unlabeled_dir={unl}", "eval.at_end=[knn]")) == 0
    err = capsys.readouterr().err
    assert f"{10 + 48} pretraining images" in err
    res = json.loads((run / "results.json").read_text())
    assert res["eval"]["knn"]["top1"] >= 0  # evaluation on the labelled splits
    empty = tmp_path / "empty"
    empty.mkdir()
    for value, fragment in (
        (str(tmp_path / "missing"), "not a directory"),
        (str(empty), "no images"),
    ):
        assert main(_args(folder, tmp_path / "bad", f"data.unlabeled_dir={value}")) == 2
        assert fragment in capsys.readouterr().err
    argv = ["train", "--dataset", "fake", "--print-config", f"data.unlabeled_dir={unl}"]
    assert main(argv) == 2
    assert "is not used by --dataset fake: only folder, imagenet read it" in capsys.readouterr().err
