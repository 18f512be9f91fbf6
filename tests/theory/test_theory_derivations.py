"""The sympy derivations in theory/ run, print what they establish, and every claim holds."""
import importlib

import pytest

import theory

#: minimum number of established claims per module (guards against a derivation silently shrinking)
EXPECTED = {"simplex": 14, "sample_efficiency": 6, "heads": 6, "dissl": 9, "vje": 7}


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

    monkeypatch.setattr(simplex, "L_star", lambda Cv=simplex.C, tv=simplex.tau: sp.log(1 + (sp.sympify(Cv) - 1) * sp.exp(-1 / sp.sympify(tv))))
    assert simplex.value_at_simplex_claim()[simplex.VALUE_CLAIM] is False
    monkeypatch.undo()
    assert simplex.value_at_simplex_claim()[simplex.VALUE_CLAIM] is True
