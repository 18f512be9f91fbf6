"""``--dataset fake`` (random images of any size and class count) and the optional loggers."""

import json
import re

import numpy as np
import pytest

from idealssl.cli import main
from idealssl.data.datasets import load_dataset, load_fake
from idealssl.errors import InputError
from idealssl.train.defaults import DataConfig

from ._tiny import FAST
from .conftest import train_args as build_train_args

QUICK = [o for o in FAST if "fraction" not in o] + ["eval.at_end=[]", "optim.warmup_epochs=0"]


def test_fake_images_any_size_and_class_count_seeded():
    a = load_fake(size=12, n_classes=3, n_images=30, channels=1, seed=5)
    assert a.train_x.shape == (30, 1, 12, 12) and a.train_x.dtype == np.uint8 and a.test_x.shape == (6, 1, 12, 12)
    assert a.n_classes == 3 and set(a.train_y) == {0, 1, 2} and a.name == "fake"
    b = load_fake(size=12, n_classes=3, n_images=30, channels=1, seed=5)
    assert np.array_equal(a.train_x, b.train_x) and np.array_equal(a.test_x, b.test_x)
    assert not np.array_equal(a.train_x, load_fake(12, 3, 30, 1, seed=6).train_x)
    c = load_dataset("fake", "/nonexistent", DataConfig(fake_size=40, fake_classes=100, fake_images=200))
    assert c.train_x.shape == (200, 3, 40, 40) and c.n_classes == 100 and c.test_x.shape[0] == 100


@pytest.mark.parametrize(
    "kw,fragment",
    [
        ({"size": 0}, "data.fake_size must be an integer in [1, 4096], got 0"),
        ({"n_classes": 2.5}, "data.fake_classes must be an integer"),
        ({"n_classes": 1}, "data.fake_classes must be an integer >= 2"),
        ({"channels": 2}, "data.fake_channels must be 1 or 3"),
        ({"n_images": 10**6, "size": 256}, "more than 2 GiB"),
    ],
)
def test_fake_bad_settings_are_one_line(kw, fragment):
    with pytest.raises(InputError, match=re.escape(fragment)):
        load_fake(**kw)


def test_train_on_fake_images(train_args, tmp_path, capsys):
    run = tmp_path / "run"
    argv = train_args(
        "tinytest",
        *QUICK,
        "data.fake_size=16",
        "data.fake_classes=4",
        "data.fake_images=128",
        "optim.batch_size=32",
        "eval.at_end=[knn]",
        "eval.knn_k=5",
        dataset="fake",
        epochs=1,
        out=run,
        flags=["--arch", "convnet"],
        fast=False,
    )
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "tinytest on fake: 128 pretraining images" in err
    res = json.loads((run / "results.json").read_text())
    assert res["steps"] == 4 and res["eval"]["knn"]["top1"] > 0.25  # 4 classes: above chance


def _quick_run(tmp_path, *extra):
    run = tmp_path / "run"
    argv = build_train_args(
        "tinytest",
        *QUICK,
        "data.fake_size=8",
        "data.fake_images=64",
        "optim.batch_size=32",
        *extra,
        dataset="fake",
        epochs=2,
        out=run,
        flags=["--arch", "convnet"],
        fast=False,
    )
    return run, main(argv)


def test_csv_logger_mirrors_the_jsonl(tmp_path, capsys):
    import csv

    run, rc = _quick_run(tmp_path, "--logger", "csv")
    assert rc == 0
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == len(recs) == 6  # 2 steps + 1 epoch record, twice
    assert {"step", "loss", "lr", "rankme", "invariance_ratio"} <= set(rows[0])
    assert float(rows[0]["loss"]) == pytest.approx(recs[0]["loss"])


class _Writer:
    calls: list = []

    def __init__(self, log_dir):
        self.log_dir = log_dir

    def add_scalar(self, tag, value, step):
        _Writer.calls.append((tag, value, step))

    def flush(self):
        pass

    def close(self):
        _Writer.calls.append(("closed", self.log_dir, 0))


def test_tensorboard_logger_writes_scalars_through_summary_writer(tmp_path, capsys, monkeypatch):
    import sys
    import types

    mod = types.ModuleType("torch.utils.tensorboard")
    mod.SummaryWriter = _Writer
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", mod)
    _Writer.calls = []
    run, rc = _quick_run(tmp_path, "--logger", "tb,csv")
    assert rc == 0
    tags = {t for t, _, _ in _Writer.calls}
    assert {"train/loss", "train/lr", "epoch/rankme", "closed"} <= tags
    assert ("closed", str(run / "tb"), 0) in _Writer.calls and (run / "metrics.csv").is_file()


def test_tensorboard_event_files_read_back_by_tensorboards_own_reader(tmp_path, capsys):
    """The real writer (the ``tb`` extra, part of ``dev``): the event file holds the same losses as metrics.jsonl,
    step for step, as TensorBoard's EventAccumulator reads them."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, rc = _quick_run(tmp_path, "--logger", "jsonl,tb")
    assert rc == 0
    events = sorted((run / "tb").glob("events.out.tfevents.*"))
    assert len(events) == 1, events
    acc = EventAccumulator(str(events[0]))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/lr", "epoch/rankme"} <= tags, tags
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in logged if r.get("kind", "step") == "step" and "loss" in r and "step" in r]
    read = {e.step: e.value for e in acc.Scalars("train/loss")}
    assert steps and set(read) == {r["step"] for r in steps}
    for r in steps:
        assert read[r["step"]] == pytest.approx(r["loss"], rel=1e-6)


@pytest.mark.parametrize("name,extra", [("tb", "tb"), ("wandb", "wandb")])
def test_missing_optional_logger_is_one_line_before_anything_is_written(tmp_path, capsys, monkeypatch, name, extra):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard" if name == "tb" else "wandb", None)
    run, rc = _quick_run(tmp_path, "--logger", name)
    err = capsys.readouterr().err
    assert rc == 2 and f"pip install 'idealssl[{extra}]'" in err and err.count("\n") == 1, err
    assert not run.exists()


def test_wandb_respects_wandb_mode_and_never_prompts(tmp_path, capsys, monkeypatch):
    import sys
    import types

    seen = {}

    class _Run:
        def log(self, d, step):
            seen.setdefault("logs", []).append((step, d))

        def finish(self):
            seen["finished"] = True

    def init(**kw):
        seen.update(kw)
        return _Run()

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    run, rc = _quick_run(tmp_path, "--logger", "wandb")
    assert rc == 0 and seen["mode"] == "disabled" and seen["finished"] and seen["dir"] == str(run)
    assert any("train/loss" in d for _, d in seen["logs"])
    monkeypatch.delenv("WANDB_MODE")
    seen.clear()
    _, rc = _quick_run(tmp_path / "b", "--logger", "wandb")
    assert rc == 0 and seen["mode"] == "offline"  # no key, no mode: offline, never a login prompt


def test_wandb_resume_continues_the_same_wandb_run(tmp_path, capsys, monkeypatch):
    """The run id is stored in RUN/wandb_run_id at the first session; --resume passes it back with resume='allow';
    a branch (--resume FILE --out NEW) is a new wandb run."""
    import sys
    import types

    inits = []

    class _Run:
        def log(self, d, step):
            pass

        def finish(self):
            pass

    def init(**kw):
        inits.append(kw)
        return _Run()

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    run, rc = _quick_run(tmp_path, "--logger", "wandb")
    assert rc == 0 and len(inits) == 1
    first = inits[0]["id"]
    assert first and (run / "wandb_run_id").read_text().strip() == first and inits[0]["resume"] == "allow"
    assert main(["train", "--out", str(run), "--resume", "--epochs", "3"]) == 0
    assert len(inits) == 2 and inits[1]["id"] == first and inits[1]["resume"] == "allow"
    branch = tmp_path / "branch"
    ckpt = run / "checkpoints" / "last.pt"
    assert main(["train", "--resume", str(ckpt), "--out", str(branch), "--epochs", "4"]) == 0
    assert len(inits) == 3 and inits[2]["id"] != first
    assert (branch / "wandb_run_id").read_text().strip() == inits[2]["id"]


def test_online_knn_monitor_per_epoch_equals_the_final_knn_on_the_same_images(tmp_path, capsys):
    """eval.online_knn_every: an ``online_knn`` top-1 in every epoch record; with the bank and queries covering all
    of train and test, the last epoch's value is the final k-NN evaluation of the same weights (same k, T)."""
    run, rc = _quick_run(
        tmp_path,
        "eval.at_end=[knn]",
        "eval.online_knn_bank=100000",
        "eval.online_knn_queries=100000",
        "eval.knn_k=5",
        "probe.online=false",
    )
    assert rc == 0
    epochs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"end_of_epoch"' in x]
    assert len(epochs) == 2 and all(0.0 <= e["online_knn"] <= 1.0 for e in epochs)
    final = json.loads((run / "results.json").read_text())["eval"]["knn"]
    assert final["k"] == 5 and epochs[-1]["online_knn"] == pytest.approx(final["top1"], abs=1e-9)


def test_online_knn_monitor_off_and_subsets(tmp_path, capsys):
    run, rc = _quick_run(tmp_path, "eval.online_knn_every=0")
    assert rc == 0 and not any("online_knn" in x for x in (run / "metrics.jsonl").read_text().splitlines())
    run2, rc = _quick_run(tmp_path / "b", "eval.online_knn_every=2", "eval.online_knn_bank=10")
    recs = [json.loads(x) for x in (run2 / "metrics.jsonl").read_text().splitlines() if '"end_of_epoch"' in x]
    assert rc == 0 and ["online_knn" in r for r in recs] == [False, True]
    assert main(["train", "--dataset", "fake", "--print-config", "eval.online_knn_bank=0"]) == 2
    assert "eval.online_knn_bank" in capsys.readouterr().err


def test_unknown_logger_is_one_line(capsys):
    assert main(["train", "--logger", "jsonl,mlflow", "--print-config"]) == 2
    err = capsys.readouterr().err
    assert "unknown logger 'mlflow'" in err and err.count("\n") == 1


def test_progress_lines_show_images_per_second_and_eta(capsys):
    from idealssl.train.loop import Progress

    p = Progress("plain", total=100, enabled=True, batch=32, start_step=0)
    p.t0 -= 10.0  # 10 s ago
    p.update(20, 0, 1.5, force=True)
    line = capsys.readouterr().err
    assert "step 20/100" in line and "64 img/s" in line and "ETA 0:00:40" in line
