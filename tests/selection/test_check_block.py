"""The trainer's check block and ``idealssl eval check`` carry every label-free score of the run's orbit set, with
its protocol; ``idealssl select RUN`` recomputes the same values from ``RUN/check/``."""

from __future__ import annotations

import json

import pytest

from idealssl.checker.selection import SCORES
from idealssl.cli import main
from tests.train._tiny import FAST

pytest.importorskip("torch")


def test_check_block_scores_equal_select_and_eval_check_recomputes_them(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--method", "simclr", "--dataset", "digits", "--epochs", "1", "--out", str(out), *FAST]
    assert main([*argv, "eval.at_end=[]", "check.images=10", "check.views=3"]) == 0
    err = capsys.readouterr().err
    assert "pair_ratio" in err and "lidar" in err  # the summary line names them
    lf = json.loads((out / "results.json").read_text())["check"]["label_free"]
    assert lf["features"] == "backbone" and set(lf["scores"]) == set(SCORES)
    for name, s in lf["scores"].items():
        assert SCORES[name].definition in s["protocol"] and "10 test images x 3 views" in s["protocol"]
    assert main(["select", str(out), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["ranked"][0]
    for name, s in lf["scores"].items():
        assert row["scores"][name]["value"] == pytest.approx(s["value"], rel=1e-12, nan_ok=True), name
    assert main(["eval", "check", str(out), "--images", "6", "--views", "2"]) == 0
    blk = json.loads((out / "eval-check.json").read_text())
    assert blk["label_free"]["scores"]["lidar"]["parts"]["n_classes"] == 6
