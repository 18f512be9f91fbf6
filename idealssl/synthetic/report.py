"""The claims table of ``synthetic/README.md``, built from the recorded result files (never by hand)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError

BEGIN = "<!-- claims:begin -->"
END = "<!-- claims:end -->"

ORDER = ("dimension", "methods", "coarseness", "loss_vs_accuracy", "dissl_threshold")


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict):
        if set(v) >= {"mean", "sd"}:
            return f"{v['mean']:.3g} ± {v['sd']:.2g}" if v.get("mean") is not None else "n/a"
        return "; ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


def _verdict(h) -> str:
    return {True: "**held**", False: "**failed**", None: "measured (no prediction / not run)"}.get(h, f"**{h}**")


def claims_table(results: Path, mode: str = "full") -> str:
    """Markdown table: one line per claim of every result file found in ``results/mode``."""
    d = Path(results) / mode
    if not d.is_dir():
        raise InputError(f"{d}: no such results directory; run `idealssl bench synthetic --mode {mode}` first")
    lines = ["| experiment | claim | prediction | criterion | result | numbers |", "|---|---|---|---|---|---|"]
    found = False
    for name in ORDER:
        f = d / f"{name}.json"
        if not f.exists():
            continue
        found = True
        res = json.loads(f.read_text())
        for c in res["verdict"]["claims"]:
            vals = _fmt(c.get("values", "")) if c.get("values") else ""
            lines.append(f"| {name} | {c['id']} | {c['prediction']} | {c['criterion']} | {_verdict(c.get('held'))} | {vals} |")
    if not found:
        raise InputError(f"{d}: no result files")
    return "\n".join(lines)


def update_readme(readme: Path, table: str) -> None:
    """Replace the text between the claims markers of ``readme`` by ``table``."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise InputError(f"{readme}: missing the markers {BEGIN} / {END}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
