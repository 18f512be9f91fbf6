"""idealssl bench loop: derive, train in the one-per-orbit regime, export, check."""

import json

import idealssl
from idealssl.cli import main
from idealssl.synthetic import train as trainer
from idealssl.synthetic.loop import configure_run
from idealssl.synthetic.worlds import main_world


def test_the_loop_draws_its_batches_with_the_suites_sampler(monkeypatch):
    """The loop is a configuration of the one synthetic trainer: every batch is sampling.sample_anchors(world, C,
    rng, 'one-per-orbit'), which holds exactly one input of every orbit."""
    w = main_world(0)
    seen = []
    real = trainer.sample_anchors

    def spy(world, batch, rng, regime="iid"):
        a = real(world, batch, rng, regime=regime)
        seen.append((batch, regime, sorted(world.orbits[a].tolist())))
        return a

    monkeypatch.setattr(trainer, "sample_anchors", spy)
    cfg = configure_run(w, "cissl", "derived", 0, 3)
    trainer.train(w, cfg.training(w))
    assert len(seen) == 3
    assert all(b == w.C and r == "one-per-orbit" and o == list(range(w.C)) for b, r, o in seen)


def test_derived_and_original_configurations():
    w = main_world(0)
    d = configure_run(w, "dissl", "derived", 0, 10)
    o = configure_run(w, "dissl", "original", 0, 10)
    assert d.dim == o.dim == w.C - 1
    assert d.hparams["categories"] == w.C and d.hparams["lambda_maximality"] < 1 + d.hparams["beta_det_inv"]
    assert o.hparams["categories"] == 64 and o.hparams["lambda_maximality"] == 2.3
    assert all(r["holds"] for r in d.theory) and not all(r["holds"] for r in o.theory)


def test_bench_loop_writes_files_the_checker_accepts(tmp_path, capsys):
    out = tmp_path / "loop"
    rec = tmp_path / "loop.json"
    assert (
        main(
            [
                "bench",
                "loop",
                "--world",
                "vector",
                "--method",
                "cissl",
                "--config",
                "derived",
                "--seed",
                "0",
                "--steps",
                "5",
                "--out",
                str(out),
                "--record",
                str(rec),
            ]
        )
        == 0
    )
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    rep = idealssl.check(str(out / "representation.npy"), str(out / "orbits.json"), tol=1e-2)
    assert rep.ideal == row["ideal"] and rep.ideal_tolerance == row["ideal_tolerance"]
    assert json.loads(rec.read_text())["rows"][0]["method"] == "cissl"
