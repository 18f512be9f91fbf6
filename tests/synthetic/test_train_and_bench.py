"""The small trainer with every registered objective, the DISSL free-logit threshold, and the bench CLI."""

import json

import numpy as np
import pytest

from idealssl.jsonutil import plain
from idealssl.synthetic.evaluate import geometry, ideal_log_loss, probe_tasks
from idealssl.synthetic.worlds import vector_world

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def small_world():
    return vector_world(n_orbits=6, dim=5, groups=("shift",), seed=0)


def _methods():
    from idealssl.objectives import available

    return available()


def test_oracle_training_reaches_an_ideal_representation(small_world):
    """The supervised ideal log loss (Eq. 6) on the true orbits makes the encoder near-ideal: the
    encoder family and the evaluation are sound, so SSL shortfalls measured by the suite are findings."""
    from idealssl.synthetic.train import TrainConfig, embed, train

    torch.set_num_threads(1)
    w = small_world
    r = train(w, TrainConfig("oracle", dim=w.C - 1, steps=300, batch=64, seed=0))
    Z = embed(r["encoder"], w)
    g = geometry(Z, w.orbits)
    assert g["invariance_ratio"] < 0.05 and g["affine_rank"] == w.C - 1
    assert ideal_log_loss(Z, w.orbits)["gap"] < 0.1
    assert probe_tasks(Z, w.orbits, n_tasks=5)["full"]["2"]["frac_perfect"] == 1.0
    assert r["losses"][-1] < r["losses"][0]


def test_every_registered_objective_trains(small_world):
    """A few steps with each objective through the objectives' contract (EMA targets when asked)."""
    from idealssl.synthetic.experiments.settings import method_hparams
    from idealssl.synthetic.train import TrainConfig, embed, train

    torch.set_num_threads(1)
    names = _methods()
    assert {"cissl", "dissl", "simclr"} <= set(names)
    for m in names:
        r = train(small_world, TrainConfig(m, dim=5, steps=3, batch=16, hparams=method_hparams(m), seed=0))
        assert np.all(np.isfinite(r["losses"])), m
        assert embed(r["encoder"], small_world).shape == (small_world.N, 5)
        assert r["hparams_used"] == method_hparams(m)


def test_learning_rate_constant_or_cosine_to_a_floor_from_the_step_schedules(small_world):
    """One trainer, two schedules: a constant lr (the suite) and a cosine decay to lr * lr_final (the loop), both
    from idealssl.step.Schedules and applied by the shared step at every step."""
    import math

    from idealssl.synthetic import train as T

    torch.set_num_threads(1)
    const_cfg = T.TrainConfig("oracle", dim=3, steps=6, lr=1e-3, batch=8)
    const = T.setup(small_world, const_cfg)
    assert const.schedules.lr is None
    cfg = T.TrainConfig("oracle", dim=3, steps=6, lr=3e-3, lr_final=0.01, batch=8)
    run = T.setup(small_world, cfg)
    expected = [0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t / 6)) for t in range(6)]
    assert run.schedules.lr == pytest.approx(expected, rel=1e-12)
    for t in range(6):
        T.train_step(small_world, cfg, run, t)
        assert run.optimizer.param_groups[0]["lr"] == pytest.approx(3e-3 * expected[t], rel=1e-12)
    for t in range(2):  # the constant schedule leaves Adam's lr alone
        T.train_step(small_world, const_cfg, const, t)
        assert const.optimizer.param_groups[0]["lr"] == 1e-3


def test_a_non_finite_loss_stops_the_trainer_before_the_step(small_world):
    from idealssl.synthetic import train as T

    cfg = T.TrainConfig("oracle", dim=3, steps=2, batch=8)
    run = T.setup(small_world, cfg)
    before = [p.detach().clone() for p in run.encoder.parameters()]
    run.X = torch.full_like(run.X, float("nan"))
    with pytest.raises(FloatingPointError, match="non-finite loss at step 0"):
        T.train_step(small_world, cfg, run, 0)
    assert all(torch.equal(a, b) for a, b in zip(before, run.encoder.parameters()))


def test_image_world_trains_with_the_convnet():
    from idealssl.synthetic.train import TrainConfig, embed, train
    from idealssl.synthetic.worlds import digits_world

    w = digits_world(per_class=1, digits=(0, 1, 2), max_shift=1)
    r = train(w, TrainConfig("oracle", dim=4, steps=5, batch=16))
    assert embed(r["encoder"], w).shape == (w.N, 4)


def test_unknown_method_is_an_input_error(small_world):
    from idealssl.errors import InputError
    from idealssl.synthetic.train import TrainConfig, train

    with pytest.raises(InputError, match="unknown method"):
        train(small_world, TrainConfig("nope", dim=3, steps=1))


def test_free_logit_dissl_threshold():
    """theory/statements.md S7.2-S7.3: with K > C categories the optimal teacher is deterministic for
    lambda < 1 + beta and spreads for lambda > 1 + beta (beta = 0.8: threshold 1.8)."""
    from idealssl.synthetic.experiments.dissl_threshold import free_logit_dissl

    torch.set_num_threads(1)
    lo = free_logit_dissl(C=4, K=8, lam=1.0, beta=0.8, steps=500, seed=0)
    hi = free_logit_dissl(C=4, K=8, lam=3.0, beta=0.8, steps=500, seed=0)
    assert lo["H_M_given_X"] < 0.05 and lo["H_M"] == pytest.approx(np.log(4), abs=0.05)
    assert hi["H_M_given_X"] > 0.3


def test_bench_cli_errors_exit_2(tmp_path, capsys):
    from idealssl.cli import main

    assert main(["bench", "synthetic", "--experiments", "bogus", "--out", str(tmp_path)]) == 2
    assert "unknown experiment 'bogus'" in capsys.readouterr().err
    assert main(["bench", "export", "--world", "vector", "--level", "5", "--out", str(tmp_path)]) == 2
    assert "coarseness levels are 4, 8, 16" in capsys.readouterr().err
    assert main(["bench", "report", "--results", str(tmp_path / "none")]) == 2
    assert main(["bench", "export", "--world", "vector", "--method", "nope", "--out", str(tmp_path)]) == 2
    assert main(["bench", "synthetic", "--steps", "0", "--out", str(tmp_path)]) == 2
    (tmp_path / "f").write_text("x")
    assert main(["bench", "synthetic", "--out", str(tmp_path / "f")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_bench_export_then_check(tmp_path, capsys):
    from idealssl.cli import main

    out = tmp_path / "coarse4"
    assert (
        main(
            [
                "bench",
                "export",
                "--world",
                "coarse",
                "--level",
                "4",
                "--method",
                "oracle",
                "--dim",
                "3",
                "--steps",
                "20",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["C"] == 4 and info["method"] == "oracle"
    Z = np.load(out / "representation.npy", allow_pickle=False)
    assert Z.shape == (info["N"], 3)
    # the checker reads the export; 20 steps are not enough for invariance: verdict 1 (not ideal) or 0
    assert main(["check", str(out / "representation.npy"), "--augs", str(out / "orbits.json")]) in (0, 1)
    assert main(["bench", "worlds"]) == 0


def test_one_registered_runner_per_experiment_in_the_suites_order():
    """The registry of the experiments package runs exactly the experiments the torch-free protocol lists (the
    CLI's help and the report read that list), each one module with a ``run(mode, store)``."""
    import importlib

    from idealssl.synthetic import experiments as E
    from idealssl.synthetic import protocol, report

    assert tuple(E.RUNNERS) == protocol.EXPERIMENTS == E.EXPERIMENTS
    assert report.EXPERIMENTS is protocol.EXPERIMENTS
    for name, runner in E.RUNNERS.items():
        assert runner is importlib.import_module(f"idealssl.synthetic.experiments.{name}").run


def test_dissl_threshold_experiment_and_report(tmp_path):
    """One experiment end to end in a reduced mode: the JSON carries protocol, seeds, versions, wall
    time and verdicts, and the report renders them."""
    from idealssl.synthetic import experiments as E
    from idealssl.synthetic.report import BEGIN, END, claims_table, update_readme

    E.MODES["tiny"] = dict(
        E.MODES["quick"], steps=5, lambdas=(1.0, 3.0), lambdas_trained=(1.0,), free_restarts=1, free_steps=300
    )
    try:
        res = E.run_suite("tiny", ["dissl_threshold"], tmp_path, log=lambda s: None)
    finally:
        del E.MODES["tiny"]
    doc = json.loads((tmp_path / "tiny" / "dissl_threshold.json").read_text())
    for key in ("protocol", "seeds", "versions", "wall_seconds", "rows", "verdict", "command"):
        assert key in doc
    claims = {c["id"]: c for c in doc["verdict"]["claims"]}
    assert claims["dissl-threshold"]["held"] is True
    assert plain(res["dissl_threshold"]["verdict"]) == doc["verdict"]
    table = claims_table(tmp_path, "tiny")
    assert "dissl-threshold" in table and "**held**" in table
    readme = tmp_path / "R.md"
    readme.write_text(f"x\n{BEGIN}\nOLD-TABLE\n{END}\ny\n")
    update_readme(readme, table)
    assert "OLD-TABLE" not in readme.read_text() and "dissl-threshold" in readme.read_text()


@pytest.mark.slow
def test_quick_suite_runs(tmp_path):
    """`idealssl bench synthetic --mode quick` (the CI mode) writes one result file per experiment."""
    from idealssl.cli import main
    from idealssl.synthetic.experiments import EXPERIMENTS

    assert main(["bench", "synthetic", "--mode", "quick", "--threads", "1", "--out", str(tmp_path)]) == 0
    for name in EXPERIMENTS:
        doc = json.loads((tmp_path / "quick" / f"{name}.json").read_text())
        assert doc["verdict"]["claims"] and doc["versions"]["torch"]
        assert all(
            c["held"] in (True, False, None, "inconclusive", "cannot discriminate") for c in doc["verdict"]["claims"]
        )
        assert doc["protocol"]["batch_regime"] in ("one-per-orbit", "iid")


def test_readme_tables_are_the_recorded_results():
    """synthetic/README.md's claims table and result tables are generated from synthetic/results/full
    (regenerate with `idealssl bench report --mode full --readme synthetic/README.md`)."""
    from pathlib import Path

    from idealssl.synthetic.report import claims_table, result_tables

    root = Path(__file__).resolve().parents[2]
    results = root / "synthetic" / "results"
    if not (results / "full").is_dir():
        pytest.skip("no recorded full-mode results in this checkout")
    readme = (root / "synthetic" / "README.md").read_text()
    assert claims_table(results, "full") in readme
    assert result_tables(results, "full") in readme
    from idealssl.synthetic.loop import paper_tables
    from idealssl.synthetic.report import LBEGIN, LEND

    assert f"{LBEGIN}\n{paper_tables(results / 'full' / 'loop_paper.json')}\n{LEND}" in readme
    from idealssl.synthetic.experiments import EXPERIMENTS

    for name in EXPERIMENTS:  # the suite's files (loop.json is `idealssl bench loop --record`'s, checked below)
        doc = json.loads((results / "full" / f"{name}.json").read_text())
        assert doc["mode"] == "full" and doc["seeds"] == [0, 1, 2] and doc["wall_seconds"] > 0
    loop = json.loads((results / "full" / "loop.json").read_text())
    assert loop["protocol"] and loop["rows"]
    assert all(
        {"method", "config", "seed", "steps", "ideal_tolerance", "fitted_task_fraction"} <= set(r) for r in loop["rows"]
    )
    for name in ("methods", "coarseness", "loss_vs_accuracy", "dimension", "dissl_threshold"):
        protocol = json.loads((results / "full" / f"{name}.json").read_text())["protocol"]
        assert protocol["batch_regime"] in ("one-per-orbit", "iid") and "temperatures" in protocol, name
    for name in (
        "methods",
        "loss_vs_accuracy",
    ):  # the claims about the paper: orbit-blind iid batches, temperatures chosen on validation in that regime
        doc = json.loads((results / "full" / f"{name}.json").read_text())
        protocol = doc["protocol"]
        assert protocol["batch_regime"] == "iid" and protocol["oracle"] is False
        assert protocol["temperatures"]["validation"]["batch_regime"] == "iid"
        if name == "methods":  # the oracle regime only as the pairs' labelled ablation
            assert protocol["ablation_regime"] == "one-per-orbit" and protocol["ablation_oracle"] is True
            assert all(r["oracle"] is (r["batch_regime"] == "one-per-orbit") for r in doc["rows"])
            assert {r["method"] for r in doc["rows"] if r["oracle"]} == {"simclr", "cissl", "dino", "dissl"}
        chosen = protocol["temperatures"]["chosen"]
        assert set(chosen) == {"simclr", "cissl", "dino", "dissl"} and protocol["temperatures"]["validation"][
            "train_seed"
        ] not in (0, 1, 2)
