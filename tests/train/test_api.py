"""The Python API ``idealssl.train(method=..., dataset=..., **overrides)``: the results dict of results.json, the
documented examples executed as written, ``import idealssl`` without torch, bad input as ``InputError``."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import idealssl
from idealssl.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
MARK = "<!-- executed by tests/train/test_api.py -->"


def _examples(doc: str) -> list[str]:
    """The python blocks that follow the marker in ``doc``."""
    text = (ROOT / doc).read_text()
    return re.findall(re.escape(MARK) + r"\s*```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("doc", ["README.md", "docs/guide.md"])
def test_the_documented_example_runs_as_written(doc, tmp_path, sub_env):
    blocks = _examples(doc)
    assert blocks, f"{doc}: no example marked {MARK!r}"
    for code in blocks:
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=sub_env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "k-NN" in proc.stdout, proc.stdout  # both examples print the k-NN result with its protocol


def test_train_returns_the_results_of_results_json(tmp_path):
    out = tmp_path / "run"
    res = idealssl.train(
        method="simclr",
        dataset="digits",
        out=str(out),
        fast_dev_run=True,
        seed=3,
        verbose=False,
        model__width=8,
        **{"train.progress": "off"},
    )
    assert res == json.loads((out / "results.json").read_text())
    assert res["seed"] == 3 and res["method"] == "simclr" and "knn" in res["eval"]
    cfg = (out / "config.yaml").read_text()
    assert "width: 8" in cfg


def test_bad_input_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="optim.lr"):
        idealssl.train(method="simclr", dataset="digits", out=str(tmp_path / "a"), lr=-1.0)
    with pytest.raises(InputError, match="no_such_key"):
        idealssl.train(method="simclr", dataset="digits", out=str(tmp_path / "b"), no_such_key=1)
    with pytest.raises(InputError, match="unknown method"):
        idealssl.train(method="nope", dataset="digits", out=str(tmp_path / "c"))


def test_import_idealssl_and_reading_train_stay_torch_free():
    code = (
        "import sys, idealssl; f = idealssl.train; assert callable(f) and f is sys.modules['idealssl.train']; "
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:3]; "
        "import idealssl.train.cli_export; assert idealssl.train is f; print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
