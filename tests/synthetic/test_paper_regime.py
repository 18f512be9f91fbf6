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


def _summary(inv, rank, tol=None, cert=0.0):
    return {"invariance_ratio": inv, "affine_rank": rank, "ideal_tolerance": tol, "certified_fraction": cert}


def test_claims_table_compares_configs_with_paired_t_intervals_against_scipy():
    """Derived vs original over three seeds: the interval of the mean paired difference is
    d̄ ± t_{0.975, 2} s_d / √3 with scipy's critical value (4.303), and the verdict follows which side of 0 the whole
    interval lies on, in the direction that is closer to ideal for each figure."""
    from scipy import stats as sps

    from idealssl.synthetic.loop import claims_table, compare_configs

    def row(method, config, seed, **kw):
        return {"method": method, "config": config, "seed": seed, "heldout": _summary(**kw)}

    rows = [
        row("cissl", "derived", 0, inv=0.30, rank=500),
        row("cissl", "derived", 1, inv=0.20, rank=511),
        row("cissl", "derived", 2, inv=0.25, rank=505),
        row("cissl", "original", 0, inv=0.50, rank=64),
        row("cissl", "original", 1, inv=0.45, rank=60),
        row("cissl", "original", 2, inv=0.60, rank=66),
        row("dissl", "derived", 0, inv=0.50, rank=13),
        row("dissl", "derived", 1, inv=0.60, rank=5),
        row("dissl", "derived", 2, inv=0.55, rank=9),
        row("dissl", "original", 0, inv=0.20, rank=8, tol=0.3),
        row("dissl", "original", 1, inv=0.25, rank=8, tol=0.3),
        row("dissl", "original", 2, inv=0.22, rank=8, tol=0.3),
        row("simclr", "original", 0, inv=0.1, rank=9),  # one configuration only (a grid at seed 0): no comparison
        row("simclr", "original", 0, inv=0.2, rank=13),
    ]
    got = {(e["method"], e["figure"]): e for e in compare_configs(rows)}
    d = np.array([0.30 - 0.50, 0.20 - 0.45, 0.25 - 0.60])
    half = sps.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert sps.t.ppf(0.975, 2) == pytest.approx(4.303, abs=1e-3)
    iv = got[("cissl", "invariance_ratio")]["interval"]
    assert iv.estimate == pytest.approx(d.mean()) and iv.low == pytest.approx(d.mean() - half)
    assert iv.high == pytest.approx(d.mean() + half) and iv.df == 2
    assert got[("cissl", "invariance_ratio")]["verdict"] == "derived closer"  # lower invariance, interval < 0
    assert got[("cissl", "affine_rank")]["verdict"] == "derived closer"  # higher rank, interval > 0
    assert got[("cissl", "certified_fraction")]["verdict"] == "cannot discriminate"  # every difference 0
    assert got[("cissl", "ideal_tolerance")]["interval"] is None  # not ideal at any tolerance
    assert got[("dissl", "invariance_ratio")]["verdict"] == "original closer"
    r = np.array([13 - 8, 5 - 8, 9 - 8])  # straddles 0
    iv = got[("dissl", "affine_rank")]["interval"]
    assert iv.low == pytest.approx(r.mean() - sps.t.ppf(0.975, 2) * r.std(ddof=1) / np.sqrt(3))
    assert iv.low < 0 < iv.high
    assert got[("dissl", "affine_rank")]["verdict"] == "cannot discriminate"
    assert got[("dissl", "ideal_tolerance")]["verdict"] == "cannot discriminate"  # undefined on the derived side
    assert {m for m, _ in got} == {"cissl", "dissl"}
    lines = claims_table(rows).splitlines()
    assert len(lines) == 2 + 8 and "derived closer" in lines[3] and "undefined" in lines[4]
    with pytest.raises(InputError, match="two rows at seed 0"):
        compare_configs([*rows, row("cissl", "derived", 0, inv=0.3, rank=500)])


def test_paper_tables_have_one_section_per_budget(tmp_path):
    from idealssl.synthetic.loop import paper_tables

    def row(config, seed, steps, inv):
        s = {**_summary(inv, 9), "ideal": False, "sigma_ratio": 1e-9, "required_rank": 511, "binding_condition": "x"}
        curve = [{"step": steps // 2, "heldout": s, "train": s}, {"step": steps, "heldout": s, "train": s}]
        return {"method": "cissl", "config": config, "seed": seed, "steps": steps, "hparams": {}, "curve": curve}

    rows = [row(c, seed, 1500, 0.5) for c in ("derived", "original") for seed in (0, 1)] + [
        row("derived", 0, 15000, 0.1)
    ]
    for r in rows:
        r["heldout"] = r["train"] = r["curve"][-1]["heldout"]
    (tmp_path / "p.json").write_text(json.dumps({"rows": rows}))
    text = paper_tables(tmp_path / "p.json")
    assert text.count("**1500 steps:") == 4  # seeds (held-out, training), derived against original, curve
    assert text.count("**15000 steps:") == 3  # one configuration: no comparison table
    assert "| cissl | invariance_ratio | lower | 2 |" in text


def test_curve_table_means_skip_a_missing_figure_instead_of_counting_it_as_zero():
    from idealssl.synthetic.loop import curve_table

    def row(seed, inv, rank):
        s = {"invariance_ratio": inv, "affine_rank": rank, "certified_fraction": 0.0, "ideal": False}
        return {"method": "cissl", "config": "derived", "seed": seed, "curve": [{"step": 10, "heldout": s}]}

    line = curve_table([row(0, 0.4, 8), row(1, None, 10), row(2, 0.2, None)]).splitlines()[2]
    cells = [c.strip() for c in line.split("|")]
    assert cells[3] == "3" and cells[5] == "0.3" and cells[6] == "9"  # means of the recorded values only
    none = curve_table([row(0, None, 8)]).splitlines()[2]
    assert [c.strip() for c in none.split("|")][5] == "n/a"
