"""The sympy derivations in theory/ run, print what they establish, and every claim holds."""

import importlib

import pytest
import sympy as sp

import theory

#: minimum number of established claims per module (guards against a derivation silently shrinking)
EXPECTED = {"simplex": 15, "sample_efficiency": 6, "heads": 6, "dissl": 9, "vje": 7, "robust": 19}


@pytest.mark.parametrize("name", theory.MODULES)
def test_derivation_establishes_its_claims(name, capsys):
    mod = importlib.import_module(f"theory.{name}")
    rc = mod.main()
    out = capsys.readouterr().out
    print(out)  # visible with -s / in the failure report: what the derivation establishes
    assert rc == 0, out
    assert "[FAILED]" not in out
    assert out.count("[established]") >= EXPECTED[name], out


def test_cover_counts_match_lp_enumeration_in_the_reference():
    """Cover's counts (theory/statements.md S1.5), also found by LP enumeration: 10, 22, 30, 32, 84, 256."""
    from theory.sample_efficiency import cover_count

    got = [int(cover_count(C, d)) for C, d in ((5, 1), (5, 2), (5, 3), (5, 4), (7, 3), (8, 7))]
    assert got == [10, 22, 30, 32, 84, 256]


def test_derivation_detects_a_false_claim(monkeypatch):
    """The machinery can fail: a wrong closed form for L* is reported as FAILED."""
    import sympy as sp

    from theory import simplex

    monkeypatch.setattr(
        simplex,
        "L_star",
        lambda Cv=simplex.C, tv=simplex.tau: sp.log(1 + (sp.sympify(Cv) - 1) * sp.exp(-1 / sp.sympify(tv))),
    )
    assert simplex.value_at_simplex_claim()[simplex.VALUE_CLAIM] is False
    monkeypatch.undo()
    assert simplex.value_at_simplex_claim()[simplex.VALUE_CLAIM] is True


@pytest.mark.parametrize(
    "module,attr,wrong,claim_fn,key",
    [
        # DISSL: KL(p||s) with the arguments swapped (a classic slip) breaks CE = H + KL
        ("dissl", "KL", lambda mod: lambda p, s: mod.CE(s, p) - mod.H(s), "ce_decomposition_claim", "CE_CLAIM"),
        # heads: L* with exp(-1/τ) instead of exp(-C/((C-1)τ))
        (
            "heads",
            "L_star",
            lambda mod: lambda Cv, tv: sp.log(1 + (sp.sympify(Cv) - 1) * sp.exp(-1 / sp.sympify(tv))),
            "symmetric_head_claim",
            "SYMMETRIC_CLAIM",
        ),
        # sample efficiency: Cover's count summed one term too far
        (
            "sample_efficiency",
            "cover_count",
            lambda mod: lambda Cv, d: 2 * sum(sp.binomial(Cv - 1, k) for k in range(0, min(d + 1, Cv - 1) + 1)),
            "cover_necessity_claim",
            "COVER_CLAIM",
        ),
        # robust (S10.4): the core bound without its (1 − q)^n factors, s W_n(a/s) + 1 − s
        (
            "robust",
            "core_bound_expr",
            lambda mod: lambda a, nv: sum(a) * sum((x / sum(a)) * (1 - x / sum(a)) ** nv for x in a) + 1 - sum(a),
            "core_enumeration_claim",
            "CORE_CLAIM",
        ),
        # VJE: the Student-t weight without the δ² in the denominator
        (
            "vje",
            "student_t_weight",
            lambda mod: lambda nu, D, delta2: (nu + D) / (2 * nu),
            "student_t_weight_claim",
            "WEIGHT_CLAIM",
        ),
    ],
)
def test_each_derivation_module_catches_an_injected_wrong_claim(monkeypatch, module, attr, wrong, claim_fn, key):
    """Issue 11: the derivations do not only count their own "[established]" lines; a deliberately wrong
    formula, injected into each module, turns its claim into FAILED (and the right one restores it)."""
    mod = importlib.import_module(f"theory.{module}")
    fn, name = getattr(mod, claim_fn), getattr(mod, key)
    assert fn()[name] is True
    monkeypatch.setattr(mod, attr, wrong(mod))
    assert fn()[name] is False
    monkeypatch.undo()
    assert fn()[name] is True
