"""A run says how long it should take before its first step, and times its progress from the end of step 1."""

import json

from idealssl.cli import main
from idealssl.train import timing
from idealssl.train.config import build, resolve


def test_digits_preset_records_the_readme_command_with_its_conditions():
    t = timing.recorded("digits")
    assert t is not None and t["command"] == "idealssl train --method dissl --dataset digits"
    for r in t["measured"]:
        assert {"total_wall_s", "train_wall_s", "cpu_s", "load", "when"} <= set(r)
    assert "timing" not in resolve("dissl", "digits")  # a record, not a setting


def test_expectation_for_the_readme_command_and_for_another_configuration():
    cfg = build("dissl", "digits").config
    t = timing.recorded("digits")
    line = timing.expectation(cfg, int(t["steps"]), int(t["batch_size"]), "cpu", "auto")
    r = t["measured"][0]
    assert line.startswith("expected for `idealssl train --method dissl --dataset digits`, as measured: ")
    assert "on a 2-core CPU shared with other jobs, " in line and f"(measured {r['when']})" in line
    total, train = f"{r['total_wall_s']:.0f}", f"{r['train_wall_s']:.0f}"
    assert f"{total} s in all ({train} s of training) at load average {r['load']}" in line
    assert "progress: a line every 10 s" in line
    other = timing.expectation(build("simclr", "digits").config, 300, 256, "cpu", "off")
    assert other.startswith("expected: 300 steps of 256 images; no recorded time") and "display off" in other
    assert "no recorded time" in timing.expectation(cfg, 300, 256, "cuda", "auto")  # measured on a CPU


def test_eta_is_timed_from_the_end_of_the_first_step(capsys):
    from idealssl.train.loop import Progress

    p = Progress("plain", total=101, enabled=True, batch=10, start_step=0)
    p.update(1, 0, 2.0, force=True)  # step 1 ends: the warm-up step; its time is not a rate
    p.t0 -= 100.0  # as if step 1 had taken 100 s
    p.first = (1, p.first[1] - 10.0)  # and steps 2..11 took 10 s in all
    p.update(11, 0, 1.0, force=True)
    err = capsys.readouterr().err.splitlines()
    assert "ETA" not in err[0] or "img/s" in err[0]
    assert "10 img/s ETA 0:01:30" in err[1]  # 1 step/s after step 1, 90 steps left (not 0:15:00 from 110 s)


def test_trainer_prints_the_expectation_before_step_1_and_each_evaluation_stage(train_args, tmp_path, capsys):
    run = tmp_path / "run"
    argv = train_args("tinytest", "train.progress=plain", dataset=None, epochs=1, out=run)
    assert main(argv + ["eval.at_end=[knn,fewshot]", "eval.fewshot_trials=1"]) == 0
    err = capsys.readouterr().err
    assert "no recorded time for this configuration" in err
    assert err.index("expected: ") < err.index("step 1/") < err.index("evaluating (knn, fewshot)")
    assert "eval: k-NN (+" in err and "eval: 10-shot (1 trials) (+" in err
    t = json.loads((run / "results.json").read_text())["timing"]
    assert t["train_cpu_s"] > 0 and t["eval_wall_s"] > 0 and "end" in t["load_average_1min"]
