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


TBEGIN = "<!-- tables:begin -->"
TEND = "<!-- tables:end -->"


def _m(v, digits=3) -> str:
    if not isinstance(v, dict) or v.get("mean") is None:
        return "n/a"
    if v.get("n", 1) > 1:
        return f"{v['mean']:.{digits}f} ± {v['sd']:.{digits}f}"
    return f"{v['mean']:.{digits}f}"


def result_tables(results: Path, mode: str = "full") -> str:
    """Markdown tables of the aggregates (mean ± sd over seeds) of every result file found."""
    d = Path(results) / mode
    out = []
    f = d / "dimension.json"
    if f.exists():
        res = json.loads(f.read_text())
        out += ["### dimension (linear and MLP probes, full world as training set)", "",
                "| world | method | d | vs C-1 | linear: tasks fitted perfectly (2 labels) | (5 labels) | Cover fraction (2 labels, general position) | MLP: tasks fitted perfectly (2 labels) | affine rank | invariance ratio |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for s in res["summary"]:
            out.append(f"| {s['world']} | {s['method']} | {s['dim']} | {s['relation']} | {_m(s['linear_frac_perfect_binary'], 2)} | "
                       f"{_m(s['linear_frac_perfect_5class'], 2)} | {s['cover_fraction_binary']:.3f} | {_m(s['mlp_frac_perfect_binary'], 2)} | "
                       f"{_m(s['affine_rank'], 1)} | {_m(s['invariance_ratio'])} |")
        out.append("")
    f = d / "methods.json"
    if f.exists():
        res = json.loads(f.read_text())
        wn = next((s["W_n"] for s in res["summary"].values() if "W_n" in s), {})
        out += [f"### methods (world {res['protocol']['world']['name']}, d = {res['protocol']['dim']}, equal budget), sorted by 16-shot error", "",
                f"W_n: n=4: {wn.get('4', float('nan')):.3f}, n=16: {wn.get('16', float('nan')):.3f}, n=64: {wn.get('64', float('nan')):.3f}", "",
                "| method | linear acc (2 labels) | (5 labels) | 4-shot error | 16-shot error | 64-shot error | L_I − optimum | invariance ratio | affine rank | distance to simplex |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        items = sorted(res["summary"].items(), key=lambda kv: kv[1].get("fewshot_error_n16", {}).get("mean", 9) or 9)
        for m, s in items:
            if "error" in s:
                out.append(f"| {m} | failed: {s['error']} |||||||||")
                continue
            out.append(f"| {m} | {_m(s['linear_acc_binary'])} | {_m(s['linear_acc_5class'])} | {_m(s['fewshot_error_n4'])} | "
                       f"{_m(s['fewshot_error_n16'])} | {_m(s['fewshot_error_n64'])} | {_m(s['ideal_log_loss_gap'])} | "
                       f"{_m(s['invariance_ratio'])} | {_m(s['affine_rank'], 1)} | {_m(s['simplex_distance'], 2)} |")
        out.append("")
    f = d / "coarseness.json"
    if f.exists():
        res = json.loads(f.read_text())
        shots = res["protocol"]["shots"]
        out += [f"### coarseness (world {res['protocol']['world']['name']}; tasks label the 4 classes; error / W_n / seen-orbit error)", "",
                "| method | C | " + " | ".join(f"n={n}" for n in shots) + " | invariance ratio (level orbits) |",
                "|---|---|" + "---|" * len(shots) + "---|"]
        for s in res["summary"]:
            cells = [f"{s[f'error_n{n}']['mean']:.3f} / {s[f'W_n{n}']:.3f} / {s[f'seen_orbit_error_n{n}']['mean']:.3f}" for n in shots]
            out.append(f"| {s['method']} | {s['C']} | " + " | ".join(cells) + f" | {_m(s['invariance_ratio'])} |")
        out.append("")
    f = d / "dissl_threshold.json"
    if f.exists():
        res = json.loads(f.read_text())
        rows = res["rows"]
        lams = sorted({r["lambda"] for r in rows if r["part"] == "free-logits"})
        out += [f"### DISSL determinism (beta = {res['protocol']['beta']}, threshold 1 + beta = {res['summary']['threshold']}): teacher H(M^|X) in nats", "",
                "| setting | " + " | ".join(f"λ={x}" for x in lams) + " |", "|---|" + "---|" * len(lams)]
        for setting in dict.fromkeys(r["setting"] for r in rows if r["part"] == "free-logits"):
            vals = {r["lambda"]: r["H_M_given_X"] for r in rows if r["setting"] == setting}
            out.append(f"| free logits, {setting} | " + " | ".join(_m(vals.get(x)) for x in lams) + " |")
        tl = sorted({r["lambda"] for r in rows if r["part"] == "trained" and "error" not in r})
        if tl:
            out += ["", "| trained encoder (C = 16) | " + " | ".join(f"λ={x}" for x in tl) + " |", "|---|" + "---|" * len(tl)]
            for setting in dict.fromkeys(r["setting"] for r in rows if r["part"] == "trained"):
                cells = []
                for x in tl:
                    hs = [r["H_M_given_Z_full"] for r in rows if r["setting"] == setting and r["lambda"] == x and "error" not in r]
                    cells.append(f"{sum(hs) / len(hs):.3f}" if hs else "n/a")
                out.append(f"| {setting} | " + " | ".join(cells) + " |")
        out.append("")
    f = d / "loss_vs_accuracy.json"
    if f.exists():
        res = json.loads(f.read_text())
        s = res["summary"]
        if s:
            out += ["### ideal log loss vs probe accuracy", "",
                    f"Spearman ρ(L_I, 16-shot error) = {s['spearman_loss_vs_fewshot16_error']['rho']:.3f} (p = {s['spearman_loss_vs_fewshot16_error']['p']:.2g}); "
                    f"ρ(L_I, full-data accuracy) = {s['spearman_loss_vs_full_binary_acc']['rho']:.3f}; {s['n_models']} models"
                    + (f"; CISSL/DISSL models only: ρ = {s['spearman_within_issl_objectives']['rho']:.3f} ({s['spearman_within_issl_objectives']['n_models']} models)"
                       if "spearman_within_issl_objectives" in s else ""), ""]
    walls = []
    for name in ORDER:
        f = d / f"{name}.json"
        if f.exists():
            walls.append(f"{name} {json.loads(f.read_text())['wall_seconds']:.0f} s")
    if walls:
        out += ["Wall times (" + mode + " mode): " + ", ".join(walls) + "."]
    return "\n".join(out)


def update_readme_tables(readme: Path, tables: str) -> None:
    """Replace the text between the tables markers of ``readme`` by ``tables``."""
    text = readme.read_text()
    if TBEGIN not in text or TEND not in text:
        raise InputError(f"{readme}: missing the markers {TBEGIN} / {TEND}")
    head, rest = text.split(TBEGIN, 1)
    _, tail = rest.split(TEND, 1)
    readme.write_text(f"{head}{TBEGIN}\n{tables}\n{TEND}{tail}")
