"""Build the figure notebooks from their sources and execute them, saving outputs.

Usage (from the repository root)::

    python -m notebooks.run                      # quick mode, every notebook (what the tests run)
    IDEALSSL_NB_MODE=full python -m notebooks.run   # full mode: rerun the heavy experiments
    python -m notebooks.run --mode full --only 03 05

Each notebook's source is ``notebooks/src/NN_name.py`` in the "percent" format (``# %%`` starts a
code cell, ``# %% [markdown]`` a markdown cell whose lines start with ``# ``); it is converted to
``notebooks/NN_name.ipynb`` and executed with nbclient in ``notebooks/`` (the kernel sees
``IDEALSSL_NB_MODE``), and the executed notebook, with its outputs, is written back. Per-notebook
wall times are printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"


def parse_percent(text: str) -> list[dict]:
    """Cells of a percent-format script: list of {"type": "code"|"markdown", "source": str}."""
    cells: list[dict] = []
    cur: dict | None = None
    for line in text.splitlines():
        if line.startswith("# %%"):
            if cur is not None:
                cells.append(cur)
            cur = {"type": "markdown" if "[markdown]" in line else "code", "lines": []}
            continue
        if cur is None:  # header before the first cell marker: ignored
            continue
        if cur["type"] == "markdown":
            cur["lines"].append(line[2:] if line.startswith("# ") else ("" if line.strip() == "#" else line))
        else:
            cur["lines"].append(line)
    if cur is not None:
        cells.append(cur)
    out = []
    for c in cells:
        lines = c["lines"]
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        out.append({"type": c["type"], "source": "\n".join(lines)})
    return out


def build(src: Path):
    """The nbformat notebook for one source file."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for c in parse_percent(src.read_text()):
        nb.cells.append(
            nbformat.v4.new_markdown_cell(c["source"])
            if c["type"] == "markdown"
            else nbformat.v4.new_code_cell(c["source"])
        )
    return nb


def execute(nb, mode: str, timeout: int = 1800, env: dict | None = None):
    """Execute ``nb`` in notebooks/ with IDEALSSL_NB_MODE=mode; returns the executed notebook."""
    from nbclient import NotebookClient

    old = dict(os.environ)
    os.environ["IDEALSSL_NB_MODE"] = mode
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures embedded even if MPLBACKEND=Agg
    os.environ.update(env or {})
    try:
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    return nb


def sources(only: list[str] | None = None) -> list[Path]:
    srcs = sorted(SRC.glob("[0-9][0-9]_*.py"))
    if only:
        srcs = [s for s in srcs if any(s.name.startswith(o) for o in only)]
    return srcs


def main(argv=None) -> int:
    import nbformat

    ap = argparse.ArgumentParser(prog="python -m notebooks.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("quick", "full"), default=os.environ.get("IDEALSSL_NB_MODE", "quick"))
    ap.add_argument("--only", nargs="*", help="notebook numbers, e.g. 01 03")
    ap.add_argument("--timeout", type=int, default=3600, help="per-cell timeout in seconds")
    ap.add_argument("--build-only", action="store_true", help="write the .ipynb files without executing them")
    args = ap.parse_args(argv)
    total = 0.0
    for src in sources(args.only):
        nb = build(src)
        target = HERE / (src.stem + ".ipynb")
        if not args.build_only:
            t0 = time.perf_counter()
            execute(nb, args.mode, args.timeout)
            dt = time.perf_counter() - t0
            total += dt
            nb.metadata["idealssl"] = {"executed_mode": args.mode, "wall_seconds": round(dt, 1)}
            print(f"{target.name}: {args.mode} mode, {dt:.1f} s", flush=True)
        nbformat.write(nb, target)
    if not args.build_only:
        print(f"total {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
