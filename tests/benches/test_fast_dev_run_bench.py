"""benches/fast_dev_run.py: benches/README.md's rows are the recorded JSON's (``--table``)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_rows_are_generated_from_the_recorded_results():
    spec = importlib.util.spec_from_file_location("fast_dev_run", ROOT / "benches" / "fast_dev_run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    readme = (ROOT / "benches" / "README.md").read_text()
    for name in ("fast_dev_run.json", "fast_dev_run_ab.json"):  # against the previous settings; against a checkout
        rows = mod.table(ROOT / "benches" / "results" / name)
        assert rows and rows in readme, name
