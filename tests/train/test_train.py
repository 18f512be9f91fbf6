"""The trainer end to end on digits: run directory, resume, NaN, bad inputs, export, eval, DDP."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from idealssl.cli import main
from idealssl.objectives import available
from idealssl.train import checkpoint as C

from ._tiny import FAST


def _losses(run_dir):
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if not r.get("end_of_epoch"):
            out[r["step"]] = r["loss"]
    return out


def test_digits_run_writes_run_directory_with_protocols(train_args, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(train_args("tinytest", epochs=2, out=out))
    assert rc == 0
    for f in ("config.yaml", "env.json", "metrics.jsonl", "results.json", "checkpoints/last.pt"):
        assert (out / f).is_file(), f
    res = json.loads((out / "results.json").read_text())
    ev = res["eval"]
    for key in ("online_linear", "linear", "knn", "fewshot", "anomaly", "monitors"):
        assert "protocol" in ev[key], key
    assert ev["knn"]["k"] == 20 and ev["knn"]["temperature"] == 0.07 and ev["knn"]["distance"] == "cosine"
    assert "validation split of train" in ev["linear"]["protocol"]
    assert 0.5 < ev["linear"]["top1"] <= 1.0  # 10 classes: far above chance even after 10 steps
    assert res["throughput"]["images_per_s"] > 0 and res["peak_memory_mib"] > 0
    env = json.loads((out / "env.json").read_text())
    assert env["torch"] == torch.__version__ and env["device"] == "cpu" and "stem" in env
    assert len(_losses(out)) == 10  # 359 images // 64 = 5 steps x 2 epochs, logged every step
    # eval and export read the checkpoint back
    assert main(["eval", "knn", str(out)]) == 0
    assert json.loads((out / "eval-knn.json").read_text())["knn"]["top1"] == ev["knn"]["top1"]
    assert main(["export", str(out), "--out", str(tmp_path / "bb.pt")]) == 0
    sd = torch.load(tmp_path / "bb.pt", weights_only=True)
    from idealssl.models import build_encoder

    build_encoder("convnet", 1, 8, width=8).load_state_dict(sd)


def test_resume_gives_the_same_losses_as_an_uninterrupted_run(train_args, tmp_path):
    """Stop mid-epoch (train.limit_steps), resume, compare every step with a run never stopped; EMA state too."""
    a, b = tmp_path / "a", tmp_path / "b"
    common = train_args("tinyema", epochs=3, fast=False)
    assert main(common + ["--out", str(a), *FAST, "eval.at_end=[]"]) == 0
    assert main(common + ["--out", str(b), *FAST, "eval.at_end=[]", "train.limit_steps=7"]) == 0
    ck = C.load(b / "checkpoints" / "last.pt")
    assert ck["step"] == 7 and ck["ema"] is not None
    assert main(["train", "--out", str(b), "--resume", *FAST[-1:]]) == 0
    la, lb = _losses(a), _losses(b)
    assert sorted(la) == sorted(lb) == list(range(1, 16))
    assert all(la[s] == lb[s] for s in la), {s: (la[s], lb[s]) for s in la if la[s] != lb[s]}
    ca = C.load(a / "checkpoints" / "last.pt")
    cb = C.load(b / "checkpoints" / "last.pt")
    for k in ca["model"]:
        assert torch.equal(ca["model"][k], cb["model"][k]), k


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(train_args, tmp_path, capsys):
    out = tmp_path / "nan"
    rc = main(train_args("tinytest", "objective.nan_at=7", epochs=3, out=out))
    err = capsys.readouterr().err
    assert rc == 3
    assert "loss is nan at step 7 (epoch 1)" in err and "Last good checkpoint" in err and "last.pt" in err
    assert C.load(out / "checkpoints" / "last.pt")["step"] == 5
    assert not (out / "results.json").exists()


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--method", "nosuch", "--dataset", "digits"], "unknown method 'nosuch'; available:"),
        (["--method", "tinytest", "--dataset", "cifar10", "--data-dir", "{tmp}/missing"], "does not exist"),
        (["--method", "tinytest", "--dataset", "cifar10", "--data-dir", "{tmp}"], "put data_batch_1"),
        (["--method", "tinytest", "--dataset", "nosuchset"], "unknown dataset"),
        (["--method", "tinytest", "optim.nosuch=1"], "unknown key 'nosuch'"),
        (["--method", "tinytest", "--batch-size", "5000"], "exceeds the 1437 pretraining images"),
        (["--method", "tinytest", "--config", "{tmp}/none.yaml"], "does not exist"),
        (["--method", "tinytest", "optim.lr=-1"], "optim.lr must be a positive number"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, fragment):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    rc = main(["train", "--out", str(tmp_path / "r"), *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and fragment in err and len(err.splitlines()) == 1, err


def test_every_registered_method_trains_through_the_loop(train_args, tmp_path):
    methods = [m for m in available() if not m.startswith("tiny")]
    assert methods, "no objectives registered"
    for m in methods:
        out = tmp_path / m
        rc = main(train_args(m, "train.limit_steps=2", "eval.at_end=[]", out=out))
        assert rc == 0, m
        assert C.load(out / "checkpoints" / "last.pt")["step"] == 2


def test_export_torchvision_keys(train_args, tmp_path):
    import torchvision

    out = tmp_path / "rn"
    assert (
        main(
            train_args(
                "tinytest",
                *[o for o in FAST if not o.startswith("model.width")],  # a ResNet's widths are its own
                "train.limit_steps=1",
                "eval.at_end=[]",
                dataset=None,
                out=out,
                flags=["--arch", "resnet18"],
                fast=False,
            )
        )
        == 0
    )
    assert main(["export", str(out), "--out", str(tmp_path / "tv.pt"), "--format", "torchvision"]) == 0
    net = torchvision.models.resnet18(weights=None)
    net.conv1 = torch.nn.Conv2d(1, 64, 3, 1, 1, bias=False)
    res = net.load_state_dict(torch.load(tmp_path / "tv.pt", weights_only=True), strict=False)
    assert sorted(res.missing_keys) == ["fc.bias", "fc.weight"] and not res.unexpected_keys
    # the sidecar's code, run as is in a fresh interpreter, builds the matching model and loads it strictly;
    # the model it builds gives the backbone's representation
    side = json.loads((tmp_path / "tv.pt.json").read_text())
    assert side["torchvision_model"] == "resnet18" and side["in_channels"] == 1 and "no max-pool" in side["stem"]
    x = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.save(x, tmp_path / "x.pt")
    probe = f"\nmodel.eval()\ntorch.save(model(torch.load({str(tmp_path / 'x.pt')!r})).detach(), 'y.pt')\n"
    proc = subprocess.run(
        [sys.executable, "-c", side["code"] + probe], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "strict=True" in side["code"] and "idealssl" not in side["code"].replace(str(tmp_path), "")
    from idealssl.train.model import backbone_from_checkpoint

    ck = C.load(out / "checkpoints" / "last.pt")
    mine = backbone_from_checkpoint(ck, out).eval()
    torch.testing.assert_close(torch.load(tmp_path / "y.pt"), mine(x).detach())


def _wait_for_step(path, step, proc, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"process ended early: {proc.stderr.read()}")
        if path.exists():
            lines = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
            if lines and lines[-1]["step"] >= step:
                return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_process_resumes_to_identical_losses(train_args, tmp_path, runner, sub_env, sig):
    """A real process killed mid-run (SIGTERM: checkpoint at that step; SIGKILL: last epoch checkpoint)."""
    args = train_args("tinytest", epochs=6, fast=False)
    a, b = tmp_path / "a", tmp_path / "b"
    subprocess.run(
        [sys.executable, str(runner), *args, "--out", str(a), *FAST, "eval.at_end=[]"],
        check=True,
        env=sub_env,
        capture_output=True,
    )
    p = subprocess.Popen(
        [sys.executable, str(runner), *args, "--out", str(b), *FAST, "eval.at_end=[]"],
        env=sub_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_step(b / "metrics.jsonl", 12, p)
    p.send_signal(sig)
    p.wait(60)
    assert p.returncode == (128 + signal.SIGTERM if sig == signal.SIGTERM else -signal.SIGKILL)
    step = C.load(b / "checkpoints" / "last.pt")["step"]
    assert 10 <= step < 30
    r = subprocess.run(
        [sys.executable, str(runner), "train", "--out", str(b), "--resume"], env=sub_env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert f"resuming at step {step}" in r.stderr
    la, lb = _losses(a), _losses(b)
    assert sorted(la) == sorted(lb) == list(range(1, 31)) and la == lb


@pytest.mark.slow
@pytest.mark.xdist_group("torchrun")  # with --dist loadgroup (.ci/run): torchrun tests run one at a time
def test_torchrun_two_processes_gloo(tmp_path, runner, sub_env):
    out = tmp_path / "ddp"
    # --standalone: torchrun picks a free rendezvous port itself (no race with other tests for a port)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(runner),
        "train",
        "--method",
        "tinytest",
        "--dataset",
        "digits",
        "--epochs",
        "2",
        "--out",
        str(out),
        *FAST,
        "eval.at_end=[knn]",
    ]
    r = subprocess.run(cmd, env=sub_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    env = json.loads((out / "env.json").read_text())
    res = json.loads((out / "results.json").read_text())
    assert env["world_size"] == 2 and env["backend"] == "gloo" and env["batch_size_per_process"] == 32
    assert res["world_size"] == 2 and res["eval"]["knn"]["top1"] > 0.3
    assert len(_losses(out)) == 10
    # resuming the 2-process run continues from its checkpoint with both processes' view generators
    ck = C.load(out / "checkpoints" / "last.pt")
    assert len(ck["rng"]["views"]) == 2 and not torch.equal(ck["rng"]["views"][0], ck["rng"]["views"][1])
    from idealssl.train.loop import view_seed

    want = [{"rank": r, "seed": view_seed(0, r)} for r in (0, 1)]
    assert res["seeds"]["view_generators"] == env["seeds"]["view_generators"] == want


def test_real_format_fixtures_train_end_to_end(train_args, tmp_path):
    """CIFAR-10 pickle batches and STL-10 binaries (unlabeled split in pretraining) through the CLI."""
    import numpy as np

    from .test_datasets import _cifar_batch

    rng = np.random.default_rng(0)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for i in range(1, 6):
        _cifar_batch(root / f"data_batch_{i}", 16, 10, b"labels", rng)
    _cifar_batch(root / "test_batch", 20, 10, b"labels", rng)
    out = tmp_path / "c10"
    assert (
        main(
            train_args(
                "tinytest",
                "model.width=8",
                "optim.batch_size=32",
                "train.progress=off",
                "optim.warmup_epochs=0",
                "eval.at_end=[knn]",
                dataset="cifar10",
                epochs=1,
                out=out,
                flags=["--data-dir", str(tmp_path), "--arch", "convnet"],
                fast=False,
            )
        )
        == 0
    )
    env = json.loads((out / "env.json").read_text())
    assert env["views"]["size"] == 32 and "python pickle batches" in env["dataset_notes"]
    assert json.loads((out / "results.json").read_text())["steps"] == 2

    stl = tmp_path / "stl10_binary"
    stl.mkdir()
    rng.integers(0, 256, (4, 3, 96, 96), dtype=np.uint8).tofile(stl / "train_X.bin")
    np.array([1, 2, 3, 4], np.uint8).tofile(stl / "train_y.bin")
    rng.integers(0, 256, (2, 3, 96, 96), dtype=np.uint8).tofile(stl / "test_X.bin")
    np.array([1, 2], np.uint8).tofile(stl / "test_y.bin")
    rng.integers(0, 256, (12, 3, 96, 96), dtype=np.uint8).tofile(stl / "unlabeled_X.bin")
    out = tmp_path / "stl"
    assert (
        main(
            train_args(
                "tinytest",
                "model.width=4",
                "optim.batch_size=8",
                "views.size=16",
                "optim.warmup_epochs=0",
                "train.progress=off",
                "train.log_every=1",
                "eval.at_end=[knn]",
                "eval.knn_k=2",
                dataset="stl10",
                epochs=2,
                out=out,
                flags=["--data-dir", str(tmp_path), "--arch", "convnet"],
                fast=False,
            )
        )
        == 0
    )
    assert len(_losses(out)) == 4  # 16 pretraining images (unlabeled + train) // 8 = 2 steps x 2 epochs


def test_every_preset_resolves():
    from idealssl.train.config import resolve
    from idealssl.train.presets import list_presets

    names = list_presets()
    assert {"digits", "cifar10", "cifar100", "stl10", "tinyimagenet", "imagenet"} <= set(names)
    for n in names:
        cfg = resolve("dissl", n)
        assert cfg["dataset"] == n and cfg["optim"]["batch_size"] >= 2


@pytest.mark.slow
@pytest.mark.xdist_group("torchrun")
def test_torchrun_sigterm_and_resume_matches_uninterrupted(tmp_path, runner, sub_env):
    """2 processes: SIGTERM to torchrun stops both at the same step with one checkpoint; resuming under
    torchrun reproduces the uninterrupted 2-process run's losses."""

    def cmd(out, extra=()):
        return [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(runner),
            "train",
            "--method",
            "tinytest",
            "--dataset",
            "digits",
            "--epochs",
            "5",
            "--out",
            str(out),
            *extra,
            *FAST,
            "eval.at_end=[]",
        ]

    a, b = tmp_path / "a", tmp_path / "b"
    r = subprocess.run(cmd(a), env=sub_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    p = subprocess.Popen(cmd(b), env=sub_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_step(b / "metrics.jsonl", 8, p)
    p.send_signal(signal.SIGTERM)
    p.wait(120)
    step = C.load(b / "checkpoints" / "last.pt")["step"]
    assert 8 <= step < 25
    r = subprocess.run(cmd(b, ["--resume"]), env=sub_env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    la, lb = _losses(a), _losses(b)
    assert sorted(la) == sorted(lb) == list(range(1, 26)) and la == lb


def test_multicrop_local_views_reach_the_objective(train_args, tmp_path):
    """DINO with 2 global + 2 local crops (multi-crop): local views go through the loop to the objective."""
    out = tmp_path / "mc"
    assert (
        main(
            train_args(
                "dino",
                "train.limit_steps=2",
                "eval.at_end=[]",
                "views.n_local=2",
                "views.local_size=4",
                "views.size=8",
                out=out,
            )
        )
        == 0
    )
    env = json.loads((out / "env.json").read_text())
    assert env["views"]["n_local"] == 2 and env["views"]["local_size"] == 4
    out = tmp_path / "mc2"
    assert (
        main(
            train_args(
                "tinytest", "train.limit_steps=2", "eval.at_end=[]", "views.n_local=3", "views.local_size=4", out=out
            )
        )
        == 0
    )
    recs = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(r["n_views"] == 5 and r["smallest_batch"] == 64 for r in recs if "n_views" in r) and recs


@pytest.mark.parametrize("image_size,in_ch", [(96, 3), (96, 1), (32, 3)])
def test_torchvision_sidecar_code_rebuilds_each_stem_strictly(tmp_path, image_size, in_ch):
    """The sidecar's code for the ImageNet stem (7x7 stride-2 conv, max-pool; one channel too) and the small-image
    stem loads the converted weights with strict=True and gives the backbone's representation."""
    from idealssl.models import build_encoder
    from idealssl.train.cli_export import to_torchvision, torchvision_code

    torch.manual_seed(0)
    enc = build_encoder("resnet18", in_ch, image_size).eval()
    out = tmp_path / "b.pt"
    torch.save(to_torchvision(enc.state_dict()), out)
    side = torchvision_code(enc, out)
    scope: dict = {}
    exec(side["code"], scope)  # the same text a user pastes
    x = torch.randn(2, in_ch, image_size, image_size)
    torch.testing.assert_close(scope["model"].eval()(x), enc(x))
    assert ("maxpool = torch.nn.Identity()" in side["code"]) == (image_size <= 64)


def test_per_process_seeds_are_recorded(train_args, tmp_path):
    """results.json and env.json record the seeds each process draws from (seed, rank, step): the model's
    initialisation, the epoch order and each process's view generator."""
    from idealssl.train.loop import view_seed

    out = tmp_path / "run"
    assert main(train_args("tinytest", "train.limit_steps=1", "eval.at_end=[]", "--seed", "5", out=out)) == 0
    res = json.loads((out / "results.json").read_text())
    env = json.loads((out / "env.json").read_text())
    assert res["seeds"] == env["seeds"]
    seeds = res["seeds"]
    assert (
        seeds["seed"] == 5
        and seeds["model_init"] == 5
        and seeds["view_generators"] == [{"rank": 0, "seed": view_seed(5, 0)}]
    )
    assert "rank" in seeds["rule"] and "step" in seeds["rule"] and "epoch" in seeds["epoch_order"]
