"""Discoverability: --list-methods, --list-presets, --print-config, check/bench help, unknown flags."""

import subprocess
import sys

import pytest
import yaml

from idealssl.cli import main


def test_list_methods_prints_papers_and_hyperparameters(capsys):
    assert main(["train", "--list-methods"]) == 0
    out = capsys.readouterr().out
    for fragment in (
        "dissl ",
        "lambda_maximality=2.3",
        "beta_det_inv=0.8",
        "Dubois",
        "simclr ",
        "temperature=0.1",
        "Chen et al.",
        "byol ",
        "Grill et al.",
        "--print-config",
    ):
        assert fragment in out, fragment


def test_list_presets_prints_dataset_arch_recipe_and_number(capsys):
    assert main(["train", "--list-presets"]) == 0
    out = capsys.readouterr().out
    assert "cifar10 " in out and "no number yet" in out and "arch: resnet18" in out and "epochs 300" in out
    digits = out.split("digits", 1)[1].split("\n")[1]
    assert "convnet" in digits and "number:" in digits and "no number yet" not in digits


def test_list_presets_reads_each_recorded_number(capsys):
    """digits and mnist5k have results/<dataset>/results.json: the line shows a method's mean linear accuracy."""
    import json
    from pathlib import Path

    assert main(["train", "--list-presets"]) == 0
    out = capsys.readouterr().out
    root = Path(__file__).resolve().parents[2]
    for name in ("digits", "mnist5k"):
        rows = json.loads((root / "results" / name / "results.json").read_text())["rows"]
        line = next(ln for ln in out.splitlines() if ln.lstrip().startswith("arch:") and f"results/{name}/" in ln)
        assert any(f"linear probe {r['linear']['mean']:.3f}" in line for r in rows.values()), line


def test_print_config_shows_resolved_values(train_args, capsys):
    assert main(train_args("dissl", flags=["--print-config"], fast=False)) == 0
    out = capsys.readouterr().out
    cfg = yaml.safe_load(out)
    assert cfg["device"] in ("cpu", "cuda") and cfg["out"].startswith("runs/digits-dissl/")
    ob = cfg["objective"]
    assert ob["categories"] == 128  # the digits preset's
    assert ob["lambda_maximality"] == 2.3 and ob["beta_det_inv"] == 0.8 and ob["teacher_temperature"] == 0.5
    assert "# learning rate after optim.lr_scaling=none: 0.002" in out


@pytest.mark.parametrize("command", [["check"], ["bench"]])
def test_check_and_bench_help_have_worked_examples(capsys, command):
    with pytest.raises(SystemExit) as exc:
        main([*command, "-h"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and out.count(f"idealssl {command[0]} ") >= 3


@pytest.mark.parametrize(
    "argv,where",
    [
        (["check", "z.npy", "--augs", "o.json", "--bogus"], "idealssl check -h"),
        (["train", "--bogus"], "idealssl train -h"),
        (["bench", "synthetic", "--bogus"], "idealssl bench synthetic -h"),
        (["plot", "RUN", "--bogus"], "idealssl plot -h"),
    ],
)
def test_unknown_flag_points_to_the_subcommand_help(capsys, argv, where):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "unrecognized arguments: --bogus" in err and f"(see {where})" in err, err


def test_output_into_a_closed_pipe_is_not_a_traceback():
    """`idealssl train --list-methods | head -0`: the reader is gone before the first write."""
    import subprocess
    import sys

    p = subprocess.Popen(
        [sys.executable, "-m", "idealssl.cli", "train", "--list-methods"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    p.stdout.close()  # no reader: the first write raises BrokenPipeError in the child
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141 and "Traceback" not in err, err


def test_list_methods_works_without_torch():
    """The catalogue is static: `idealssl train --list-methods` in an interpreter where torch cannot be imported (the
    base install, without the train extra) prints every method, and imports no objective."""
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['torchvision'] = None\n"
        "from idealssl.cli import main\n"
        "rc = main(['train', '--list-methods'])\n"
        "loaded = [m for m in sys.modules if m.startswith('idealssl.objectives.')]\n"
        "assert loaded in ([], ['idealssl.objectives.defaults']), loaded\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for m in ("barlow", "byol", "cissl", "dino", "dissl", "simclr", "swav", "vicreg", "vje"):
        assert f"\n{m} " in "\n" + proc.stdout, m
    assert "lambda_maximality=2.3" in proc.stdout and "Grill et al." in proc.stdout


def test_the_static_catalogue_is_the_registry():
    """Every objective of idealssl/objectives is in the catalogue, with its module's summary line and its
    constructor's defaults (the live registry, read with torch)."""
    from idealssl.objectives import available
    from idealssl.objectives.base import _REGISTRY
    from idealssl.train.catalog import METHODS, live_entry

    ours = [m for m in available() if _REGISTRY[m].__module__.startswith("idealssl.objectives.")]
    assert sorted(METHODS) == sorted(ours)
    for m in ours:
        assert METHODS[m] == live_entry(m, METHODS[m].paper, tuple(METHODS[m].defaults)), m


def test_help_explains_seed_epochs_and_the_lr_scaling_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "-h"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--seed SEED" in text and "--epochs EPOCHS pretraining epochs" in text
    assert "optim.lr_scaling (default none" in text
    assert "stdout" in text and "stderr" in text  # which stream carries what
