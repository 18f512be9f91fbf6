"""``python benches/cpu_profile.py``: the sections add up to the step, and each speed-up is fp32's step time over
the setting's, from the same run (``--smoke``: a tiny convnet, in-process through ``main``)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # the script puts benches/ first; undone after the test
    spec = importlib.util.spec_from_file_location("cpu_profile_bench", ROOT / "benches" / "cpu_profile.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "cpu_profile_bench", mod)
    spec.loader.exec_module(mod)
    return mod


def test_smoke_sections_add_up_and_speedups_come_from_this_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "p.json"
    assert _load(monkeypatch).main(["--smoke", "--out", str(out)]) == 0
    d = json.loads(out.read_text())
    assert (
        d["conditions"]["cpu"] and d["conditions"]["torch_threads"] >= 1 and "load_average_at_start" in d["conditions"]
    )
    c = d["configs"]["smoke"]
    assert set(c["settings"]) == {"fp32", "channels_last", "bf16"} and c["batch_size"] == 16
    for name, s in c["settings"].items():
        sec = s["sections_seconds"]
        assert set(sec) == {"views", "encoder_forward", "loss", "backward", "optimizer", "other"}
        assert all(v >= 0 for k, v in sec.items() if k != "other") and sec["encoder_forward"] > 0
        assert sum(sec.values()) == pytest.approx(s["step_seconds"], rel=1e-9)  # one round, one step: exact
        assert sum(s["sections_share"].values()) == pytest.approx(1.0)
        assert c["speedup_vs_fp32"][name] == pytest.approx(c["settings"]["fp32"]["step_seconds"] / s["step_seconds"])
    assert "smoke fp32" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [(["--steps", "0"], "must be >= 1"), (["--only", "nope"], "invalid choice"), (["--method", "x"], "unknown method")],
)
def test_bad_arguments_exit_2_with_one_line(argv, message, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exc:
        _load(monkeypatch).main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err
