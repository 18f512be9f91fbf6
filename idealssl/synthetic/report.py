"""The claims table of ``synthetic/README.md``, built from the recorded result files (never by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import atomic
from ..errors import InputError
from .protocol import EXPERIMENTS, regime_label

BEGIN = "<!-- claims:begin -->"
END = "<!-- claims:end -->"


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
    return {
        True: "**held**",
        False: "**failed**",
        None: "measured (no prediction / not run)",
        "cannot discriminate": "**cannot discriminate here**",
    }.get(h, f"**{h}**")


def claims_table(results: Path, mode: str = "full") -> str:
    """Markdown table: one line per claim of every result file found in ``results/mode``."""
    d = Path(results) / mode
    if not d.is_dir():
        raise InputError(f"{d}: no such results directory; run `idealssl bench synthetic --mode {mode}` first")
    lines = ["| experiment | claim | prediction | criterion | result | numbers |", "|---|---|---|---|---|---|"]
    found = False
    for name in EXPERIMENTS:
        f = d / f"{name}.json"
        if not f.exists():
            continue
        found = True
        res = json.loads(f.read_text())
        for c in res["verdict"]["claims"]:
            vals = _fmt(c.get("values", "")) if c.get("values") else ""
            lines.append(
                f"| {name} | {c['id']} | {c['prediction']} | {c['criterion']} | {_verdict(c.get('held'))} | {vals} |"
            )
    if not found:
        raise InputError(f"{d}: no result files")
    return "\n".join(lines)


def replace_between(readme: Path, begin: str, end: str, text: str) -> None:
    """Replace the text between the markers ``begin`` and ``end`` of ``readme`` by ``text``."""
    doc = readme.read_text()
    if begin not in doc or end not in doc:
        raise InputError(f"{readme}: missing the markers {begin} / {end}")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    atomic.write_text(readme, f"{head}{begin}\n{text}\n{end}{tail}", "README")


def update_readme(readme: Path, table: str) -> None:
    """Replace the text between the claims markers of ``readme`` by ``table``."""
    replace_between(readme, BEGIN, END, table)


TBEGIN = "<!-- tables:begin -->"
TEND = "<!-- tables:end -->"


def _m(v, digits=3) -> str:
    if not isinstance(v, dict) or v.get("mean") is None:
        return "n/a"
    if v.get("n", 1) > 1:
        return f"{v['mean']:.{digits}f} ± {v['sd']:.{digits}f}"
    return f"{v['mean']:.{digits}f}"


def _dimension_lines(res: dict) -> list[str]:
    out = [
        "### dimension (linear and MLP probes, full world as training set)",
        "",
        "| world | method | d | vs C-1 | linear: tasks fitted perfectly (2 labels) | (5 labels) | Cover "
        "fraction (2 labels, general position) | MLP: tasks fitted perfectly (2 labels) | affine rank | "
        "invariance ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in res["summary"]:
        out.append(
            f"| {s['world']} | {s['method']} | {s['dim']} | {s['relation']} | "
            f"{_m(s['linear_frac_perfect_binary'], 2)} | {_m(s['linear_frac_perfect_5class'], 2)} | "
            f"{s['cover_fraction_binary']:.3f} | {_m(s['mlp_frac_perfect_binary'], 2)} | "
            f"{_m(s['affine_rank'], 1)} | {_m(s['invariance_ratio'])} |"
        )
    return out + [""]


def _self_target_lines(res: dict) -> list[str]:
    out = [
        "### self target (CISSL and SimCLR at their published default temperatures 0.07 / 0.1, matched heads)",
        "",
        "| batch regime | method | final batch loss (last 10%) | invariant bound | runs below the bound | "
        "invariance ratio | 16-shot error | linear acc (2 labels) | loss flattened |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for regime, ms in res["summary"].items():
        for m, x in ms.items():
            out.append(
                f"| {regime} | {m} | {_m(x['final_loss_last10'])} | {x['invariant_bound']:.3f} | "
                f"{x['below_bound_runs']} | {_m(x['invariance_ratio'])} | {_m(x['fewshot_error_n16'])} | "
                f"{_m(x['linear_acc_binary'])} | {x['flattened']} |"
            )
    return out + [""]


def _coarseness_lines(res: dict) -> list[str]:
    shots = res["protocol"]["shots"]
    out = [
        f"### coarseness (world {res['protocol']['world']['name']}; tasks label the 4 classes; error / W_n / "
        "seen-orbit error)",
        "",
        "| method | C | " + " | ".join(f"n={n}" for n in shots) + " | invariance ratio (level orbits) |",
        "|---|---|" + "---|" * len(shots) + "---|",
    ]
    for s in res["summary"]:
        cells = [
            f"{s[f'error_n{n}']['mean']:.3f} / {s[f'W_n{n}']:.3f} / {s[f'seen_orbit_error_n{n}']['mean']:.3f}"
            for n in shots
        ]
        out.append(f"| {s['method']} | {s['C']} | " + " | ".join(cells) + f" | {_m(s['invariance_ratio'])} |")
    return out + [""]


def _trained_dissl_lines(rows: list[dict]) -> list[str]:
    tl = sorted({r["lambda"] for r in rows if r["part"] == "trained" and "error" not in r})
    if not tl:
        return []
    out = [
        "",
        "| trained encoder (C = 16) | " + " | ".join(f"λ={x}" for x in tl) + " |",
        "|---|" + "---|" * len(tl),
    ]
    for setting in dict.fromkeys(r["setting"] for r in rows if r["part"] == "trained"):
        cells = []
        for x in tl:
            hs = [
                r["H_M_given_Z_full"] for r in rows if r["setting"] == setting and r["lambda"] == x and "error" not in r
            ]
            cells.append(f"{sum(hs) / len(hs):.3f}" if hs else "n/a")
        out.append(f"| {setting} | " + " | ".join(cells) + " |")
    return out


def _dissl_lines(res: dict) -> list[str]:
    rows = res["rows"]
    lams = sorted({r["lambda"] for r in rows if r["part"] == "free-logits"})
    out = [
        f"### DISSL determinism (beta = {res['protocol']['beta']}, threshold 1 + beta = "
        f"{res['summary']['threshold']}): teacher H(M^|X) in nats",
        "",
        "| setting | " + " | ".join(f"λ={x}" for x in lams) + " |",
        "|---|" + "---|" * len(lams),
    ]
    for setting in dict.fromkeys(r["setting"] for r in rows if r["part"] == "free-logits"):
        vals = {r["lambda"]: r["H_M_given_X"] for r in rows if r["setting"] == setting}
        out.append(f"| free logits, {setting} | " + " | ".join(_m(vals.get(x)) for x in lams) + " |")
    return out + _trained_dissl_lines(rows) + [""]


def result_tables(results: Path, mode: str = "full") -> str:
    """Markdown tables of the aggregates (mean ± sd over seeds) of every result file found, in the suite's order,
    and the experiments' wall times."""
    d = Path(results) / mode
    tables = {
        "dimension": _dimension_lines,
        "methods": _methods_tables,
        "self_target": _self_target_lines,
        "coarseness": _coarseness_lines,
        "dissl_threshold": _dissl_lines,
        "loss_vs_accuracy": _loss_lines,
    }
    found = {
        name: json.loads((d / f"{name}.json").read_text()) for name in EXPERIMENTS if (d / f"{name}.json").exists()
    }
    out: list[str] = []
    for name, lines in tables.items():  # the tables' order
        if name in found:
            out += lines(found[name])
    walls = [f"{name} {res['wall_seconds']:.0f} s" for name, res in found.items()]
    if walls:
        out += ["Wall times (" + mode + " mode): " + ", ".join(walls) + "."]
    return "\n".join(out)


def _methods_rows(summary: dict, regime: str) -> list:
    items = sorted(summary.items(), key=lambda kv: kv[1].get("fewshot_error_n16", {}).get("mean", 9) or 9)
    out = []
    for m, s in items:
        if "error" in s:
            out.append(f"| {m} | {regime} | failed: {s['error']} ||||||||||")
            continue
        bound = s.get("invariant_bound")
        out.append(
            f"| {m} | {regime} | {_m(s['linear_acc_binary'])} | {_m(s['linear_acc_5class'])} | "
            f"{_m(s['fewshot_error_n4'])} | {_m(s['fewshot_error_n16'])} | {_m(s['fewshot_error_n64'])} | "
            f"{_m(s['ideal_log_loss_gap'])} | {_m(s['invariance_ratio'])} | {_m(s['affine_rank'], 1)} | "
            f"{_m(s.get('final_loss_last10'))} | {'' if bound is None else f'{bound:.3f}'} | "
            f"{s.get('flattened', '')} |"
        )
    return out


def _methods_tables(res: dict) -> list:
    p = res["protocol"]
    wn: dict = next((s["W_n"] for s in res["summary"].values() if "W_n" in s), {})
    regime = p.get("batch_regime", "iid")
    out = [
        f"### methods (world {p['world']['name']}, d = {p['dim']}, equal budget of {p['steps']} steps), sorted by "
        "16-shot error",
        "",
        f"W_n: n=4: {wn.get('4', float('nan')):.3f}, n=16: {wn.get('16', float('nan')):.3f}, n=64: "
        f"{wn.get('64', float('nan')):.3f}. Batch regime {regime_label(regime)} (effective batch "
        f"{p.get('batch_effective', p['batch'])})"
        + (
            f"; the pairs again in batch regime {regime_label(p['ablation_regime'])} as a labelled ablation."
            if p.get("ablation_regime")
            else "."
        ),
        "",
    ]
    t = p.get("temperatures")
    if isinstance(t, dict) and "chosen" in t:
        out += [
            "Temperatures chosen on the validation world " + f"({t['validation']['world']} with world seed "
            f"{t['validation']['world_seed']}, training seed {t['validation']['train_seed']}; "
            + t["validation"]["criterion"]
            + "): "
            + "; ".join(
                f"{m} {v} (grid {t['grids'][f]}: "
                + ", ".join(
                    f"{k} → {'n/a' if e is None else f'{e:.3f}'}" for k, e in t["scores_fewshot16_error"][m].items()
                )
                + ")"
                for f, ms in (("contrastive", ("simclr", "cissl")), ("distillation", ("dino", "dissl")))
                for m, v in t["chosen"].items()
                if m in ms
            )
            + ". "
            + "; ".join(f"{k}: {v}" for k, v in t["meaning"].items())
            + ".",
            "",
        ]
    out += [
        "| method | batch regime | linear acc (2 labels) | (5 labels) | 4-shot error | 16-shot error | 64-shot "
        "error | L_I − optimum | invariance ratio | affine rank | final batch loss (last 10%) | invariant bound | "
        "loss flattened |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    out += _methods_rows(res["summary"], regime_label(regime))
    if res.get("summary_ablation"):
        out += _methods_rows(res["summary_ablation"], regime_label(p["ablation_regime"], ablation=True))
    out.append("")
    return out


def _test_text(res: dict) -> str:
    """One permutation test of ``loss_vs_accuracy`` (its ``test`` and ``smallest_p``) in words."""
    t = res.get("test")
    if not t:
        return "not tested (fewer than two informative groups)"
    how = "exact" if t["exact"] else f"{t['n_permutations']} Monte Carlo arrangements"
    return (
        f"ρ = {t['statistic']:.3f}, two-sided p = {t['p_value']:.2g} ({how}; smallest attainable p "
        f"{res['smallest_p']:.2g})"
    )


def _loss_lines(res: dict) -> list:
    s = res["summary"]
    if "spearman_loss_vs_fewshot16_error" not in s:
        return []
    part = s.get("partial_spearman_controlling_log_steps")
    across, within_m = s.get("across_methods", {}), s.get("within_method", {})
    out = ["### ideal log loss vs probe accuracy", ""]
    if across:
        out += [
            f"Across methods at {across['steps']} steps, on the seed means of {len(across['methods'])} methods "
            f"(one point per method): {_test_text(across)}. Within each budget sweep "
            f"({', '.join(within_m.get('methods', [])) or 'none'}; {within_m.get('n_models', 0)} models), seeds "
            f"exchanged whole, budget by budget: {_test_text(within_m)}.",
            "",
        ]
    out += [
        f"Descriptive, every model counted as independent (it is not: the p-values are too small): "
        f"{s['n_models']} models (batch regime {regime_label(res['protocol'].get('batch_regime', 'iid'))}), "
        f"Spearman ρ(L_I, 16-shot error) = {s['spearman_loss_vs_fewshot16_error']['rho']:.3f} "
        f"(p = {s['spearman_loss_vs_fewshot16_error']['p']:.2g}); ρ(L_I, full-data accuracy) = "
        f"{s['spearman_loss_vs_full_binary_acc']['rho']:.3f}"
        + (f"; partial ρ controlling for log(steps) = {part['rho']:.3f} (p = {part['p']:.2g})" if part else "")
        + ".",
        "",
    ]
    within = s.get("spearman_within_budget", {})
    if within:
        out += [
            "Within one training budget: "
            + "; ".join(f"{k} steps: ρ = {v['rho']:.3f} (p = {v['p']:.2g}, {v['n']} models)" for k, v in within.items())
            + ".",
            "",
        ]
    own = s.get("spearman_own_batch_loss_vs_fewshot16_error_within_method", {})
    if own:
        out += [
            "The objectives' own batch loss (last 10% of steps; no orbit labels) vs 16-shot error, within each "
            "objective's budget sweep: "
            + "; ".join(f"{m}: ρ = {v['rho']:.3f} (p = {v['p']:.2g}, {v['n']} models)" for m, v in own.items())
            + ".",
            "",
        ]
    return out


def update_readme_tables(readme: Path, tables: str) -> None:
    """Replace the text between the tables markers of ``readme`` by ``tables``."""
    replace_between(readme, TBEGIN, TEND, tables)


#: the markers of the paper-regime loop's tables (:func:`idealssl.synthetic.loop.paper_tables` of
#: ``results/<mode>/loop_paper.json``)
LBEGIN = "<!-- loop-paper:begin -->"
LEND = "<!-- loop-paper:end -->"
