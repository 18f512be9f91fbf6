"""The theory configures the trainer (train/theory_config.py); its encoder is checked (train/orbit_sets.py)."""

import json

import numpy as np
import pytest

import idealssl
from idealssl.cli import main
from idealssl.errors import InputError
from idealssl.train import theory_config
from idealssl.train.config import build


def _cfg(method="dissl", *overrides):
    return build(method, "digits", overrides=list(overrides)).config


def _by(rec, start):
    return next(r for r in rec.records if r["prescription"].startswith(start))


def test_derived_applies_dissl_prescriptions():
    cfg = _cfg()
    assert cfg.objective["categories"] == 128  # the preset
    applied, rec = theory_config.apply(cfg, n_orbits=1437, batch=256)
    assert cfg.objective["categories"] == 128  # the configuration given is not changed
    obj = applied.objective
    assert (
        obj["categories"] == 1437 and obj["probe"] == "linear" and obj["lambda_maximality"] == pytest.approx(0.9)
    )  # (1 + beta)/2: B = 256 < K
    assert _by(rec, "K >= C")["holds"] and _by(rec, "K >= C")["applied"]
    assert _by(rec, "0 < lambda")["value"] == pytest.approx(0.9) and _by(rec, "0 < lambda")["holds"]
    assert _by(rec, "batch >= K")["holds"] is False  # recorded, not enforced
    rec.with_dim(64)
    assert _by(rec, "d >= 1436")["holds"] is False and _by(rec, "d >= 1436")["value"] == 64


def test_original_keeps_the_preset_and_records_what_breaks():
    cfg, rec = theory_config.apply(_cfg("dissl", "theory.source=original"), n_orbits=1437)
    assert cfg.objective["categories"] == 128 and "lambda_maximality" not in cfg.objective
    assert _by(rec, "K >= C")["holds"] is False and not _by(rec, "K >= C")["applied"]
    # K = 128 <= C with the population marginal: every lambda > 0 gives a deterministic teacher (S7.2)
    assert _by(rec, "0 < lambda")["value"] == pytest.approx(2.3) and _by(rec, "0 < lambda")["holds"] is True
    _, rec = theory_config.apply(_cfg("dissl", "theory.source=original", "objective.categories=512"), 1437, batch=256)
    assert _by(rec, "0 < lambda < 1.8")["holds"] is False  # a batch of 256 < K = 512: lambda < 1 + beta binds


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("objective.lambda_maximality=2.3", "lambda < 1.8"),
        ("objective.categories=64", "K >= C = 1437"),
        ("objective.probe=mlp", "probe family"),
    ],
)
def test_contradicting_setting_is_refused_unless_overridden(override, fragment):
    with pytest.raises(InputError, match="contradicts the theory") as e:
        theory_config.apply(_cfg("dissl", override), n_orbits=1437, batch=256)
    assert fragment in str(e.value) and "theory.enforce=false" in str(e.value)
    _, rec = theory_config.apply(_cfg("dissl", override, "theory.enforce=false"), n_orbits=1437, batch=256)
    assert any(r["holds"] is False for r in rec.records)


def test_mlp_probe_and_other_methods():
    cfg, rec = theory_config.apply(_cfg("cissl", "theory.probe=mlp"), n_orbits=100)
    assert cfg.objective["probe"] == "mlp" and _by(rec, "student head")["holds"]
    before = _cfg("simclr")
    cfg, rec = theory_config.apply(before, n_orbits=100)
    assert cfg.objective == before.objective and "not one of the theory's objectives" in rec.records[-1]["prescription"]


def test_train_writes_theory_and_check_blocks_and_files_check_accepts(train_args, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(
        train_args(
            "dissl", "eval.at_end=[]", "check.images=8", "check.views=3", epochs=1, out=out, flags=["--probe", "linear"]
        )
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "theory (derived configuration, linear probes" in err and "check (linear, tol 0.01" in err
    res = json.loads((out / "results.json").read_text())
    th, ch = res["theory"], res["check"]
    assert th["source"] == "derived" and {"prescription", "value", "holds"} <= set(th["prescriptions"][0])
    for k in (
        "verdict",
        "ideal_tolerance",
        "invariance_ratio",
        "rank",
        "rank_required",
        "fitted_task_fraction",
        "M",
        "V",
        "probe",
    ):
        assert k in ch, k
    assert ch["M"] == 8 and ch["V"] == 3 and ch["rank_required"] == 7
    Z = np.load(out / "check" / "representation.npy")
    assert Z.shape == (24, res["encoder"]["dim"])
    rep = idealssl.check(str(out / "check" / "representation.npy"), str(out / "check" / "orbits.json"), tol=1e-2)
    assert (
        rep.to_dict()["ideal_tolerance"] == ch["ideal_tolerance"]
        and rep.fitted_task_fraction == ch["fitted_task_fraction"]
    )
    stored = json.loads((out / "check" / "report.json").read_text())
    assert {"ideal_tolerance", "fitted_task_fraction", "graded"} <= set(stored)
    # redo it with class-level orbits
    assert main(["eval", "check", str(out), "--class-orbits", "--images", "12", "--views", "2"]) == 0
    blk = json.loads((out / "eval-check.json").read_text())
    assert blk["orbits"] == "class" and blk["M"] == 12 and blk["C"] <= 10


def test_contradiction_refused_on_the_command_line(train_args, tmp_path, capsys):
    rc = main(train_args("dissl", "objective.lambda_maximality=3.0", "eval.at_end=[]", out=tmp_path / "r"))
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "contradicts the theory" in err and len(err.splitlines()) == 1
