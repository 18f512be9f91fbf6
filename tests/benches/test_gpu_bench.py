"""``python benches/gpu.py --smoke`` as a user types it: it runs on the CPU in seconds, writes the JSON the
README's table is read from, and every ratio in it is computed from images/s measured in that run."""

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benches" / "gpu.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("gpu_bench", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gpu_bench", mod)  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """One ``--smoke`` run for the module's tests (the JSON and the printed output)."""
    out = tmp_path_factory.mktemp("gpu") / "gpu_smoke.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--device", "cpu", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def test_smoke_writes_every_setting_and_says_compile_was_skipped(smoke):
    d, stdout = smoke
    for key in ("benchmark", "command", "device", "machine", "date_utc", "config", "settings", "ratios", "epochs"):
        assert key in d, key
    assert d["smoke"] is True and d["device"]["type"] == "cpu" and d["device"]["name"]
    assert "compile" in d["skipped"][0] and "--smoke skips" in stdout
    names = set(d["settings"])
    ours = {"idealssl_fp32", "idealssl_bf16", "idealssl_channels_last", "idealssl_bf16_channels_last"}
    assert ours <= names and not any("compile" in n for n in names)
    refs = {n for n, v in d["settings"].items() if v["kind"] == "reference"}
    assert {v["input"] for n, v in d["settings"].items() if n in refs} == {"pil", "uint8"}
    assert {d["settings"][n]["precision"] for n in refs} == {"32", "bf16-mixed"}
    for v in d["settings"].values():
        assert v["peak_gpu_memory_mib"] is None  # CPU: no GPU memory to report
        assert len(v["images_per_s_rounds"]) == d["config"]["rounds"]
    for m in ("dissl", "simclr"):
        e = d["epochs"][m]
        assert e["images_per_s"] > 0 and e["train_seconds"] > 0 and e["process_wall_seconds"] >= e["train_seconds"]
        assert 0.0 <= e["online_probe_top1"] <= 1.0 and e["command"].startswith(f"idealssl train --method {m} ")


def test_every_ratio_is_recomputed_from_this_runs_measurements(smoke):
    d, _ = smoke
    s, r = d["settings"], d["ratios"]
    for v in s.values():
        assert all(x > 0 for x in v["images_per_s_rounds"])
        assert v["images_per_s"] == statistics.median(v["images_per_s_rounds"])
    refs = {n: v["images_per_s"] for n, v in s.items() if v["kind"] == "reference"}
    assert r["best_reference"] == max(refs, key=refs.get)
    assert set(r["per_setting"]) == {n for n, v in s.items() if v["kind"] == "idealssl"}
    for n, e in r["per_setting"].items():
        assert e["vs_best_reference"] == pytest.approx(s[n]["images_per_s"] / refs[r["best_reference"]], rel=1e-12)
        same = e["same_precision_reference"]
        assert s[same]["kind"] == "reference" and s[same]["precision"] == s[n]["precision"]
        assert refs[same] == max(v for m, v in refs.items() if s[m]["precision"] == s[n]["precision"])
        assert e["vs_same_precision_reference"] == pytest.approx(s[n]["images_per_s"] / refs[same], rel=1e-12)
    top = max(r["per_setting"], key=lambda n: r["per_setting"][n]["vs_best_reference"])
    assert r["best_idealssl"] == top and r["goal"]["ratio"] == r["per_setting"][top]["vs_best_reference"]
    assert r["goal"]["target_ratio"] == 3.0 and r["goal"]["met"] is None  # not judged by a CPU smoke run
    assert "not judged" in r["goal"]["not_judged"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "0"], "--steps must be >= 1"),
        (["--images", "8", "--batch", "16"], "must be at least --batch"),
        (["--method", "nope"], "unknown method 'nope'"),
        (["--epoch-methods", "simclr", "nope"], "unknown method 'nope'"),
        (["--device", "tpu"], "--device must be cpu, cuda or cuda:N"),
        (["--workers", "-1"], "--workers needs one or more counts >= 0"),
        (["--arch", "vit"], "--arch must be resnet18"),
        (["--reference-inputs", "jpeg"], "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(argv, message, capsys):
    bench = _load_bench()
    with pytest.raises(SystemExit) as exc:
        bench.main(["--smoke", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cuda_without_a_gpu_is_refused(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit) as exc:
        _load_bench().main(["--smoke", "--device", "cuda"])
    assert exc.value.code == 2 and "no CUDA device is available" in capsys.readouterr().err
