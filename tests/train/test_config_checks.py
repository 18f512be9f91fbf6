"""`idealssl train`'s configuration: every key of every section checked before any work (type and range, one line
naming the key, exit 2), the configuration a resume reads checked the same way, and no setting silently ignored:
each either works or is refused with the reason."""

import json

import pytest
import yaml

from idealssl.cli import main
from idealssl.train import checkpoint as C
from idealssl.train import config

from ._tiny import FAST

#: a quick command: 1 epoch of 1 step, no evaluation (the bad value given last wins over these)
QUICK = ["--epochs", "1", "--limit-batches", "1", "model.width=8", "optim.batch_size=64", "optim.warmup_epochs=0"]
SIMCLR = ["train", "--method", "simclr", "--dataset", "digits"]


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the command reaches the training loop (where data, directories and models are made)."""

    def reached(*a, **k):
        raise AssertionError("the command reached the training loop: the bad value was not refused up front")

    monkeypatch.setattr("idealssl.train.loop.train", reached)
    monkeypatch.setattr("idealssl.train.launch.spawn", reached)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


BAD = [
    # check: untyped before, read only after the whole run
    (["check.tol=abc"], "check.tol must be a number, got 'abc'"),
    (["check.tol=-1"], "check.tol must be a number in [1e-12, 1), got -1"),
    (["check.tol=.nan"], "check.tol must be a number in [1e-12, 1), got nan"),
    (["check.tol=1"], "check.tol must be a number in [1e-12, 1), got 1"),
    (["check.tol=[0.1]"], "check.tol must be a number"),
    (["check.images=1"], "check.images must be an integer >= 2, got 1"),
    (["check.images=abc"], "check.images must be an integer"),
    (["check.views=0"], "check.views must be an integer in [1, 1024], got 0"),
    (["check.seed=-1"], "check.seed must be an integer in [0, 4294967295]"),
    (["check.seed=1e30"], "check.seed must be an integer"),
    (["check.probe=foo"], "check.probe must be null or one of linear, linear-nobias, mlp, got 'foo'"),
    (["check.orbits=foo"], "check.orbits must be one of image, class, got 'foo'"),
    (["check.features=foo"], "check.features must be one of backbone, projector, both, got 'foo'"),
    (["check.features=[projector]"], "check.features must be a string"),
    (["check.enabled=maybe"], "check.enabled must be true/false, got 'maybe'"),
    (["check=5"], "check must be a mapping"),
    # theory: untyped before, read after the data were loaded
    (["theory.probe=foo"], "theory.probe must be one of linear, linear-nobias, mlp, got 'foo'"),
    (["theory.source=foo"], "theory.source must be one of derived, original, got 'foo'"),
    (["theory.enforce=maybe"], "theory.enforce must be true/false, got 'maybe'"),
    (["theory=5"], "theory must be a mapping"),
    (["optim=5"], "optim must be a mapping"),
    # seeds: NumPy's legacy seeding and torch take 0 .. 2^32 - 1 everywhere
    (["--seed", str(2**32)], "seed must be an integer in [0, 4294967295], got 4294967296"),
    (["--seed", str(2**64)], "seed must be an integer in [0, 4294967295]"),
    (["data.fake_seed=-1", "--dataset", "fake"], "data.fake_seed must be an integer in [0, 4294967295], got -1"),
    # settings recorded but not applied
    (["data.image_size=100000"], "data.image_size must be an integer in [1, 4096], got 100000"),
    (["data.image_size=16"], "data.image_size=16 is not used by --dataset digits"),
    (["data.max_images=5"], "data.max_images=5 is not used by --dataset digits"),
    (["data.fake_size=16"], "data.fake_size=16 is not used by --dataset digits"),
    (["data.stl10_unlabeled=false"], "data.stl10_unlabeled=False is not used by --dataset digits"),
    (["views.n_global=1"], "views.n_global=1: simclr takes 2 global views"),
    (["views.n_global=3"], "views.n_global=3: simclr takes 2 global views"),
    (["views.blur_p=[0.5,0.5,0.5]"], "views.blur_p must be a number or a list of 1 to 2 numbers"),
    (["views.solarize_p=[]"], "views.solarize_p must be a number or a list of 1 to 2 numbers"),
    # sizes, fake data, display
    (["views.size=100000"], "views.size must be an integer in [1, 4096], got 100000"),
    (["views.local_size=100000"], "views.local_size must be an integer in [1, 4096]"),
    (["data.fake_size=100000", "--dataset", "fake"], "data.fake_size must be an integer in [1, 4096]"),
    (["data.fake_classes=0", "--dataset", "fake"], "data.fake_classes must be an integer >= 2"),
    (["data.fake_channels=2", "--dataset", "fake"], "data.fake_channels must be 1 or 3"),
    (["model.width=100000"], "model.width must be an integer in [1, 4096], got 100000"),
    (["model.width=" + str(10**20)], "model.width must be an integer in [1, 4096]"),
    (["optim.epochs=1000000000"], "optim.epochs must be an integer in [1, 100000], got 1000000000"),
    (["model.small_stem=true"], "model.small_stem=True is not used by model.arch=convnet"),
    (["--arch", "resnet18"], "model.width=8 is not used by model.arch=resnet18"),
    (["model.expand_dim=" + str(10**20)], "model.expand_dim must be null or an integer in [1, 65536]"),
    (["views.n_local=" + str(10**20)], "views.n_local must be an integer in [0, 64]"),
    (["data.num_workers=100000"], "data.num_workers must be an integer in [0, 256]"),
    (["check.views=100000"], "check.views must be an integer in [1, 1024]"),
    (["data.fake_classes=1", "--dataset", "fake"], "data.fake_classes must be an integer >= 2"),
    (["--device", "cuda:abc"], "--device must be auto, cpu or cuda[:i], got 'cuda:abc'"),
    (["objective={temperature: abc}"], "objective.temperature must be a number, got 'abc'"),
    (["eval={at_end: linear}"], "eval.at_end must be a list of strings, got 'linear'"),
    (["model.channels_last=maybe"], "model.channels_last must be auto, true or false, got 'maybe'"),
    (["train.progress=maybe"], "train.progress must be auto, bar, plain or off, got 'maybe'"),
    # the objective's hyperparameters, typed as its constructor declares them; its own range checks
    (["objective.temperature=abc"], "objective.temperature must be a number, got 'abc'"),
    (["objective.temperature=[1]"], "objective.temperature must be a number, got [1]"),
    (["objective.temperature=.nan"], "objective.temperature must be a finite number, got nan"),
    (["objective.out_dim=abc"], "objective.out_dim must be an integer, got 'abc'"),
    (["objective.out_dim=1.5"], "objective.out_dim must be an integer, got 1.5"),
    (["objective.temperature=-1"], "method 'simclr': temperature must be > 0, got -1"),
    (["objective.nosuch=1"], "method 'simclr' has no hyperparameter 'nosuch'"),
    (["--method", "nosuch"], "unknown method 'nosuch'; available:"),
    (["--arch", "nosuch"], "model.arch: unknown encoder 'nosuch'; available: resnet18, resnet50, convnet"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_a_bad_value_is_one_line_and_exit_2_before_any_work(tmp_path, capsys, no_work, argv, message):
    out = tmp_path / "run"
    assert main([*SIMCLR, "--out", str(out), *QUICK, *argv]) == 2
    assert message in _one_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize("features", ["projector", "both"])
def test_a_projector_check_of_a_method_without_a_projector_is_refused_before_any_work(
    tmp_path, capsys, no_work, features
):
    out = tmp_path / "run"
    argv = ["train", "--method", "vje", "--dataset", "digits", "--out", str(out), *QUICK]
    assert main([*argv, "objective.projector_hidden_dim=0", f"check.features={features}"]) == 2
    assert "method 'vje' with objective.projector_hidden_dim=0 has no projector" in _one_line(capsys)
    assert not out.exists()
    off = ["objective.projector_hidden_dim=0", f"check.features={features}", "check.enabled=false"]
    config.check_components(config.build("vje", "digits", overrides=off).config)  # no check, nothing to refuse


@pytest.mark.parametrize("argv", [["check.tol=abc"], ["views.n_global=1"], ["--method", "nosuch"]])
def test_print_config_refuses_what_train_refuses(capsys, argv):
    assert main([*SIMCLR, *argv, "--print-config"]) == 2
    _one_line(capsys)


FILES = [
    ("optim: 5\n", "optim must be a mapping, got 5"),
    ("check: 5\n", "check must be a mapping, got 5"),
    ("theory: [1]\n", "theory must be a mapping, got [1]"),
    ("check: {tol: abc}\n", "check.tol must be a number, got 'abc'"),
    ("methods: 5\n", "methods must be a mapping of method names to settings, got 5"),
    ("methods: {simclr: 5}\n", "methods.simclr must be a mapping, got 5"),
    ("methods: {simclr: {optim: 5}}\n", "methods.simclr.optim must be a mapping, got 5"),
    ("method: 5\n", "method must be a string, got 5"),
    ("dataset: [1]\n", "dataset must be a string, got [1]"),
    ("objective: [1]\n", "objective must be a mapping, got [1]"),
]


@pytest.mark.parametrize("text,message", FILES, ids=[t.strip() for t, _ in FILES])
def test_a_bad_config_file_is_one_line_naming_it(tmp_path, capsys, no_work, text, message):
    (tmp_path / "c.yaml").write_text(text)
    assert main(["train", "--out", str(tmp_path / "run"), "--config", str(tmp_path / "c.yaml")]) == 2
    err = _one_line(capsys)
    assert message in err and "c.yaml" in err, err


def test_the_largest_seed_trains(tmp_path):
    """The bound is 2^32 - 1 (NumPy's legacy ``RandomState``, scikit-learn's ``random_state`` and torch all take
    it): the largest seed runs end to end, the view generators' derived seeds included."""
    out = tmp_path / "run"
    seed = str(2**32 - 1)
    assert main([*SIMCLR, "--seed", seed, "--out", str(out), *QUICK, "eval.at_end=[]", "check.enabled=false"]) == 0
    assert C.load(out / "checkpoints" / "last.pt")["cfg"]["seed"] == 2**32 - 1


def test_progress_off_from_yaml_is_off():
    """``train.progress=off`` is YAML's false: it means off (it gave progress lines)."""
    assert config.resolve("simclr", "digits", overrides=["train.progress=off"])["train"]["progress"] == "off"
    assert config.resolve("simclr", "digits", overrides=["train.progress=on"])["train"]["progress"] == "auto"


# ------------------------------------------------------------------------------------------------ resume
TINY = ["train", "--method", "tinytest", "--dataset", "digits"]


def _run(out, *extra, epochs=1):
    return main([*TINY, "--epochs", str(epochs), "--out", str(out), *FAST, "eval.at_end=[]", *extra])


def _edit(run, fn):
    p = run / "config.yaml"
    cfg = yaml.safe_load(p.read_text())
    fn(cfg)
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda c: c.update(optim=5), "optim must be a mapping, got 5"),
        (lambda c: c["check"].update(tol="abc"), "check.tol must be a number, got 'abc'"),
        (lambda c: c.update(nosuch=1), "unknown key 'nosuch'"),
    ],
)
def test_resume_before_the_first_checkpoint_checks_the_edited_config(tmp_path, capsys, edit, message):
    """A run killed before its first checkpoint restarts from its config.yaml: that file is checked like any."""
    run = tmp_path / "run"
    assert _run(run, "check.enabled=false") == 0
    for f in (run / "checkpoints").iterdir():
        f.unlink()
    _edit(run, edit)
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume"]) == 2
    err = _one_line(capsys)
    assert message in err and str(run / "config.yaml") in err, err


def test_resume_with_fast_dev_run_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert _run(run, "check.enabled=false") == 0
    before = (run / "results.json").read_bytes()
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--fast-dev-run"]) == 2
    assert "--fast-dev-run cannot continue a run" in _one_line(capsys)
    assert (run / "results.json").read_bytes() == before


@pytest.mark.parametrize("make", [False, True])
def test_resume_of_an_out_with_nothing_to_continue_is_refused(tmp_path, capsys, no_work, make):
    out = tmp_path / "missing"
    if make:
        out.mkdir()
    assert main(["train", "--out", str(out), "--resume"]) == 2
    assert "--resume: nothing to continue in" in _one_line(capsys)
    assert out.exists() == make


def test_branching_a_finished_run_gives_a_run_that_eval_and_export_read(tmp_path, capsys):
    run, new = tmp_path / "run", tmp_path / "new"
    assert _run(run, "check.enabled=false") == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run / "checkpoints" / "last.pt"), "--out", str(new)]) == 0
    assert C.load(new / "checkpoints" / "last.pt")["step"] == C.load(run / "checkpoints" / "last.pt")["step"]
    res = json.loads((new / "results.json").read_text())
    assert res["throughput"]["images_per_s"] is None and "no training step" in res["throughput"]["protocol"]
    assert "no training step" in capsys.readouterr().err
    assert main(["eval", "knn", str(new)]) == 0
    assert main(["export", str(new), "--out", str(tmp_path / "bb.pt")]) == 0


def test_an_edited_config_yaml_is_read_on_resume_as_if_given_on_the_command_line(tmp_path, capsys):
    """With a checkpoint, an edit of RUN/config.yaml is neither dropped nor applied silently: what a resume may change
    from the command line (eval.*, a longer run, ...) applies from the file and is said; a change of the trajectory
    (optim.lr, ...) is refused unless --allow-changes."""
    run = tmp_path / "run"
    assert _run(run, "check.enabled=false", "train.limit_steps=3", epochs=2) == 0
    _edit(run, lambda c: c["optim"].update(lr=0.5))
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume"]) == 2
    err = _one_line(capsys)
    assert str(run / "config.yaml") in err and "optim.lr" in err and "--allow-changes" in err, err
    assert C.load(run / "checkpoints" / "last.pt")["step"] == 3
    # the same edit with --allow-changes is applied and listed
    assert main(["train", "--out", str(run), "--resume", "--allow-changes", "train.limit_steps=4"]) == 0
    err = capsys.readouterr().err
    assert "optim.lr" in err and "config.yaml" in err
    assert C.load(run / "checkpoints" / "last.pt")["cfg"]["optim"]["lr"] == 0.5
    # an evaluation setting is one a resume takes: applied, and said
    _edit(run, lambda c: (c["eval"].update(at_end=["knn"], knn_k=3), c["optim"].update(epochs=3)))
    assert main(["train", "--out", str(run), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "eval.knn_k" in err and "optim.epochs 2 -> 3" in err, err
    res = json.loads((run / "results.json").read_text())
    assert res["eval"]["knn"]["k"] == 3 and res["epochs"] == 3
    assert yaml.safe_load((run / "config.yaml").read_text())["eval"]["knn_k"] == 3


def test_an_unedited_config_yaml_says_nothing_on_resume(tmp_path, capsys):
    run = tmp_path / "run"
    assert _run(run, "check.enabled=false", "train.limit_steps=3", "--device", "cpu", epochs=2) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume"]) == 0
    assert "config.yaml" not in capsys.readouterr().err


def test_knn_records_the_k_it_used():
    """``eval.knn_k`` above the memory bank: the k-NN uses every train image, and says so (it recorded the k asked)."""
    import torch

    from idealssl.train import evaluate

    g = torch.Generator().manual_seed(0)
    ftr, fte = torch.randn(30, 4, generator=g), torch.randn(10, 4, generator=g)
    ytr, yte = torch.arange(30) % 3, torch.arange(10) % 3
    got = evaluate.knn(ftr, ytr, fte, yte, 3, k=10**20)
    assert got["k"] == 30 and got["k_requested"] == 10**20 and "k=30 (every train image" in got["protocol"]
    small = evaluate.knn(ftr, ytr, fte, yte, 3, k=5)
    assert small["k"] == 5 and "k_requested" not in small


def test_a_dataset_of_one_class_is_refused_before_training_when_evaluations_are_asked(tmp_path, capsys):
    """A folder with one class folder trained, then the linear probe raised scikit-learn's ValueError at the end."""
    import numpy as np
    from PIL import Image

    for split, n in (("train", 40), ("val", 10)):
        d = tmp_path / "data" / split / "a"
        d.mkdir(parents=True)
        for i in range(n):
            Image.fromarray(np.full((12, 12, 3), 7 * i % 256, np.uint8)).save(d / f"{i}.png")
    out = tmp_path / "run"
    argv = ["train", "--method", "tinytest", "--dataset", "folder", "--data-dir", str(tmp_path / "data")]
    argv += ["--arch", "convnet", "--fast-dev-run", "--out", str(out), "data.image_size=8", "model.width=8"]
    assert main([*argv, "check.enabled=false"]) == 2
    assert "1 class" in _one_line(capsys) and not out.exists()
    assert main([*argv, "check.enabled=false", "eval.at_end=[]"]) == 0  # pretraining alone is fine
