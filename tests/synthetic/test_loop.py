"""idealssl bench loop: derive, train (orbit-blind by default; one-per-orbit as the labelled oracle regime), export,
check."""

import json

import numpy as np
import pytest

import idealssl
from idealssl.cli import main
from idealssl.synthetic import train as trainer
from idealssl.synthetic.loop import configure_run
from idealssl.synthetic.loop import run as loop_run
from idealssl.synthetic.sampling import AnchorSampler, describe_regime
from idealssl.synthetic.worlds import World, main_world


def _orbit_blind(monkeypatch):
    """Make reading the world's orbit partition (``World.members``) raise: a sampler that uses M cannot run."""

    def forbidden(self):
        raise AssertionError("the batch sampler read the orbit partition")

    monkeypatch.setattr(World, "members", property(forbidden))


def test_the_loops_default_sampler_is_orbit_blind(monkeypatch):
    """By default the loop draws anchors i.i.d. from the inputs (sampling.AnchorSampler in 'iid'), never reading
    the orbit partition; the views come from each anchor's orbit by the world's augmentation."""
    w = main_world(0)
    seen = []
    real = trainer.AnchorSampler

    def spy(world, batch, rng, regime):
        seen.append((batch, regime))
        return real(world, batch, rng, regime)

    monkeypatch.setattr(trainer, "AnchorSampler", spy)
    cfg = configure_run(w, "cissl", "derived", 0, 3)
    _orbit_blind(monkeypatch)
    trainer.train(w, cfg.training(w))
    assert seen == [(cfg.batch, "iid")] and cfg.sampler == "iid"


@pytest.mark.parametrize("regime", ["iid", "epoch"])
def test_orbit_blind_samplers_never_read_the_partition(monkeypatch, regime):
    w = main_world(0)
    _orbit_blind(monkeypatch)
    s = AnchorSampler(w, 100, np.random.default_rng(0), regime)
    drawn = np.concatenate([s() for _ in range(5)])
    assert drawn.shape == (500,) and drawn.min() >= 0 and drawn.max() < w.N


def test_the_oracle_sampler_reads_the_partition_and_is_labelled(monkeypatch):
    w = main_world(0)
    a = AnchorSampler(w, 64, np.random.default_rng(0), "one-per-orbit")()
    assert sorted(w.orbits[a].tolist()) == list(range(w.C))  # one of each orbit: it uses M
    assert describe_regime(w, 64, "one-per-orbit")["oracle"] is True
    assert describe_regime(w, 64, "iid")["oracle"] is False
    _orbit_blind(monkeypatch)
    with pytest.raises(AssertionError, match="orbit partition"):
        AnchorSampler(w, 64, np.random.default_rng(0), "one-per-orbit")()


def test_epoch_sampler_visits_every_input_once_per_epoch():
    w = main_world(0)
    s = AnchorSampler(w, 64, np.random.default_rng(1), "epoch")
    epoch = np.concatenate([s() for _ in range(w.N // 64)])
    assert sorted(epoch.tolist()) == list(range(w.N))


def test_the_oracle_regime_is_explicit_and_recorded():
    w = main_world(0)
    cfg = configure_run(w, "cissl", "derived", 0, 3, sampler="one-per-orbit")
    t = cfg.training(w)
    assert t.batch_regime == "one-per-orbit" and t.batch == w.C
    row = loop_run(w, "cissl", "derived", 0, 2, sampler="one-per-orbit")
    assert row["protocol"]["batch_regime"] == "one-per-orbit" and row["protocol"]["oracle"] is True
    row = loop_run(w, "cissl", "derived", 0, 2)
    assert row["protocol"]["batch_regime"] == "iid" and row["protocol"]["oracle"] is False


def test_derived_and_original_configurations():
    w = main_world(0)
    d = configure_run(w, "dissl", "derived", 0, 10)
    o = configure_run(w, "dissl", "original", 0, 10)
    assert d.dim == o.dim == w.C - 1
    # K = C = 16 and a batch of 64 >= K: every lambda gives a deterministic teacher, the published 2.3 is kept
    assert d.hparams["categories"] == w.C and d.hparams["lambda_maximality"] == 2.3
    assert o.hparams["categories"] == 64 and o.hparams["lambda_maximality"] == 2.3
    assert all(r["holds"] is not False for r in d.theory)  # None: a record of a fact, no rule
    assert any(r["holds"] is False for r in o.theory)  # o: K > C, lambda > 1.8
    small = configure_run(w, "dissl", "derived", 0, 10, batch=8)  # B = 8 < K = 16: lambda < 1 + beta binds
    assert small.hparams["lambda_maximality"] == 0.9 and all(r["holds"] is not False for r in small.theory)


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
    row = json.loads((out / "row.json").read_text())["train"]
    rep = idealssl.check(str(out / "representation.npy"), str(out / "orbits.json"), tol=1e-2)
    assert rep.ideal == row["ideal"] and rep.ideal_tolerance == row["ideal_tolerance"]
    assert json.loads(rec.read_text())["rows"][0]["method"] == "cissl"


def test_bench_loop_sampler_flag_records_the_regime(tmp_path, capsys):
    args = ["bench", "loop", "--method", "cissl", "--steps", "2", "--batch", "32"]
    assert main([*args, "--out", str(tmp_path / "a"), "--sampler", "epoch"]) == 0
    assert json.loads((tmp_path / "a" / "row.json").read_text())["protocol"]["batch_regime"] == "epoch"
    assert main([*args, "--out", str(tmp_path / "b"), "--sampler", "one-per-orbit"]) == 0
    prot = json.loads((tmp_path / "b" / "row.json").read_text())["protocol"]
    assert prot["oracle"] is True and prot["batch_effective"] == 16
    assert main([*args, "--out", str(tmp_path / "c"), "--batch", "1"]) == 2
