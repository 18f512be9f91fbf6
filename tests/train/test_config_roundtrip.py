"""``config.yaml`` is written from the run's typed configuration and read back to the same object; a resume keeps
what :data:`idealssl.train.resume.RESUME_SAFE` says it takes from the command (``train.loggers`` included)."""

import yaml

from idealssl.cli import main
from idealssl.train import checkpoint as C
from idealssl.train.config import build, from_run
from idealssl.train.defaults import RunConfig


def _yaml_round_trip(rc: RunConfig) -> RunConfig:
    return from_run(yaml.safe_load(yaml.safe_dump(rc.to_dict(), sort_keys=False)), "config.yaml")


def test_built_configurations_round_trip_through_yaml():
    for method, dataset, overrides in [
        ("dissl", "digits", []),
        ("simclr", "fake", ["views.blur_p=[0.5,0.1]", "eval.knn_k=[5,10]", "check.probe=mlp"]),
        ("cissl", "cifar10", ["optim.grad_clip=null", "model.expand_dim=128", "train.loggers=[jsonl,csv]"]),
    ]:
        rc = build(method, dataset, overrides=overrides).config
        assert _yaml_round_trip(rc) == rc, (method, dataset)


def test_a_hand_written_config_file_round_trips(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(
        "dataset: fake\n"
        "optim:\n  lr: 1.0e-3\n  epochs: 3\n"
        "data:\n  fake_size: 16\n  fake_classes: 4\n"
        "methods:\n  simclr:\n    objective:\n      temperature: 0.2\n"
    )
    rc = build("simclr", None, f).config
    assert rc.dataset == "fake" and rc.optim.lr == 1e-3 and rc.data.fake_size == 16
    assert rc.objective["temperature"] == 0.2
    assert _yaml_round_trip(rc) == rc


def test_config_yaml_of_a_run_and_of_its_resume_read_back_to_the_checkpoint_configuration(train_args, tmp_path):
    run = tmp_path / "run"
    assert main(train_args("tinytest", "eval.at_end=[]", "check.enabled=false", "train.limit_steps=3", out=run)) == 0
    written = from_run(yaml.safe_load((run / "config.yaml").read_text()), "config.yaml")
    assert written == from_run(C.load(run / "checkpoints" / "last.pt")["cfg"], "last.pt")
    assert main(["train", "--out", str(run), "--resume", "eval.at_end=[]", "train.progress=off"]) == 0
    resumed = from_run(yaml.safe_load((run / "config.yaml").read_text()), "config.yaml")
    assert resumed == from_run(C.load(run / "checkpoints" / "last.pt")["cfg"], "last.pt")
    assert resumed.train.limit_steps == 0 and resumed.optim == written.optim  # per session; the run's own


def test_resume_takes_the_commands_loggers(train_args, tmp_path):
    """``train.loggers`` is in RESUME_SAFE: a resume that asks for the CSV logger writes metrics.csv and records it."""
    run = tmp_path / "run"
    assert main(train_args("tinytest", "eval.at_end=[]", "check.enabled=false", "train.limit_steps=3", out=run)) == 0
    assert not (run / "metrics.csv").exists()
    argv = ["train", "--out", str(run), "--resume", "--logger", "jsonl,csv", "eval.at_end=[]", "train.progress=off"]
    assert main(argv) == 0
    assert (run / "metrics.csv").is_file()
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["loggers"] == ["jsonl", "csv"]
