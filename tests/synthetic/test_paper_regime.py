"""Worlds in the paper's regime (many orbits per batch, held-out points of every orbit) and the loop run there."""

import json

import numpy as np
import pytest

import idealssl
from idealssl.cli import main
from idealssl.errors import InputError
from idealssl.synthetic.loop import run as loop_run
from idealssl.synthetic.worlds import hold_out, named_world, paper_world

SMOKE_C = 32  # the smoke size: C = 8 x a batch of 4


def test_paper_world_holds_out_points_of_every_orbit():
    w = paper_world(0, n_orbits=SMOKE_C)
    train, held = hold_out(w, 4, seed=0)
    assert train.C == held.C == w.C == SMOKE_C
    assert np.all(np.bincount(held.orbits) == 4) and np.all(np.bincount(train.orbits) == 12)
    # the held-out inputs are not training inputs, and each keeps its orbit
    rows = {tuple(x) for x in train.X.round(6)}
    assert not any(tuple(x) in rows for x in held.X.round(6))
    assert train.N + held.N == w.N
    with pytest.raises(InputError, match="hold out"):
        hold_out(w, 16, seed=0)  # nothing left to train on


def test_named_world_takes_its_size():
    assert named_world("paper", 0, size=32).C == 32 and named_world("vector", 0).C == 16
    with pytest.raises(InputError, match="size"):
        named_world("vector", 0, size=32)


def test_loop_checks_training_and_held_out_points_over_training():
    w = paper_world(0, n_orbits=SMOKE_C)
    train, held = hold_out(w, 4, seed=0)
    row = loop_run(train, "cissl", "derived", 0, 6, batch=4, heldout=held, evaluate_at=(3,))
    assert row["protocol"]["batch_regime"] == "iid" and row["protocol"]["batch_effective"] * 8 == train.C
    assert row["dim"] == SMOKE_C - 1
    for split in ("train", "heldout"):
        s = row[split]
        assert s["n_points"] == (train.N if split == "train" else held.N)
        assert {"ideal", "ideal_tolerance", "invariance_ratio", "sigma_ratio", "certified_fraction"} <= set(s)
    assert [c["step"] for c in row["curve"]] == [3, 6]
    assert row["curve"][-1]["heldout"]["invariance_ratio"] == row["heldout"]["invariance_ratio"]


def test_bench_loop_paper_world_writes_both_splits(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["bench", "loop", "--world", "paper", "--orbits", str(SMOKE_C), "--batch", "4", "--method", "simclr"]
    assert main([*args, "--config", "original", "--steps", "4", "--out", str(out)]) == 0
    row = json.loads((out / "row.json").read_text())
    for sub, key in ((out, "train"), (out / "heldout", "heldout")):
        rep = idealssl.check(str(sub / "representation.npy"), str(sub / "orbits.json"), tol=1e-2)
        assert rep.ideal == row[key]["ideal"]
    assert "held-out" in capsys.readouterr().out
    assert main([*args, "--orbits", "1", "--steps", "2", "--out", str(tmp_path / "x")]) == 2


def test_seed_table_gives_t_intervals_and_the_three_way_verdict():
    from idealssl.synthetic.loop import seed_table

    def row(seed, inv, t=None):
        s = {
            "invariance_ratio": inv,
            "ideal": False,
            "sigma_ratio": 0.1,
            "affine_rank": 5,
            "required_rank": 7,
            "certified_fraction": 0.0,
        }
        return {"method": "simclr", "config": "original", "seed": seed, "hparams": {"temperature": t}, "heldout": s}

    rows = [row(0, 0.5, 0.1), row(1, 0.6, 0.1), row(2, 0.55, 0.1), row(0, 0.011, 0.5), row(1, 0.009, 0.5)]
    lines = seed_table(rows).splitlines()
    assert "not held" in lines[2] and "τ 0.1" in lines[2]  # all three seeds far above 1e-2
    assert "cannot discriminate" in lines[3] and "| 2 |" in lines[3]  # two seeds straddling 1e-2


def test_bench_loop_derived_widens_the_student_head_to_c_minus_1():
    """``--config derived`` gives CISSL's heads an output width >= C - 1 (derive's prescription, S1.3); ``original``
    keeps the suite's small heads (64) and its record says so."""
    from idealssl.synthetic.loop import configure_run

    w = paper_world(0, n_orbits=128)
    d = configure_run(w, "cissl", "derived", 0, 2, batch=16)
    o = configure_run(w, "cissl", "original", 0, 2, batch=16)
    assert d.hparams["out_dim"] == 127 and o.hparams["out_dim"] == 64
    assert all(r["holds"] is not False for r in d.theory)
    assert any(r["holds"] is False and "output width" in r["prescription"] for r in o.theory)


def test_bench_loop_hparam_sets_and_records_the_objectives_settings(tmp_path, capsys):
    """``--hparam KEY=VALUE`` passes an objective's keyword (DINO's published teacher-temperature warm-up and
    centring momentum), recorded in the row; a malformed pair or a keyword the objective does not take: exit 2."""
    args = ["bench", "loop", "--world", "paper", "--orbits", str(SMOKE_C), "--batch", "4", "--method", "dino"]
    args += ["--config", "original", "--steps", "3"]
    published = ["teacher_temp=0.07", "warmup_teacher_temp=0.04", "warmup_teacher_temp_frac=0.3", "center_momentum=0.9"]
    assert main([*args, "--hparam", *published, "--out", str(tmp_path / "a")]) == 0
    hp = json.loads((tmp_path / "a" / "row.json").read_text())["hparams"]
    assert hp["teacher_temp"] == 0.07 and hp["warmup_teacher_temp_frac"] == 0.3 and hp["center_momentum"] == 0.9
    assert main([*args, "--hparam", "teacher_temp", "--out", str(tmp_path / "b")]) == 2
    assert main([*args, "--hparam", "no_such_setting=1", "--out", str(tmp_path / "c")]) == 2
    assert "no_such_setting" in capsys.readouterr().err


def test_the_grid_chooses_on_the_training_points_in_the_declared_order():
    from idealssl.synthetic.loop import choose

    def row(t, train, held, seed=0):
        base = {"ideal": False, "ideal_tolerance": None, "certified_fraction": 0.0}
        return {
            "method": "simclr",
            "seed": seed,
            "hparams": {"temperature": t},
            "train": {**base, **train},
            "heldout": {**base, **held},
        }

    rows = [
        row(0.1, {"affine_rank": 9, "invariance_ratio": 0.1}, {"affine_rank": 30, "invariance_ratio": 0.1}),
        row(0.2, {"affine_rank": 12, "invariance_ratio": 0.3}, {"affine_rank": 5, "invariance_ratio": 0.3}),
        row(0.5, {"affine_rank": 12, "invariance_ratio": 0.2}, {"affine_rank": 5, "invariance_ratio": 0.2}),
        row(0.05, {"affine_rank": 99, "invariance_ratio": 0.01}, {"affine_rank": 99, "invariance_ratio": 0.01}, seed=1),
    ]
    assert choose(rows, "simclr")["hparams"]["temperature"] == 0.5  # rank first, then invariance; seed 0 only
    assert choose(rows, "simclr", split="heldout")["hparams"]["temperature"] == 0.1
    rows[0]["train"].update(ideal_tolerance=0.5)  # an ideal tolerance beats any rank
    assert choose(rows, "simclr")["hparams"]["temperature"] == 0.1
    with pytest.raises(InputError, match="no dino row"):
        choose(rows, "dino")
