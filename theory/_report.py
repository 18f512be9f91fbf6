"""Shared printing for the derivation modules: one line per established claim."""

from __future__ import annotations


def report(title: str, claims: dict[str, object]) -> int:
    """Print ``claims`` (name -> True/False or a value) and return 0 iff no claim is False."""
    print(title)
    bad = 0
    for name, val in claims.items():
        if val is True:
            print(f"  [established] {name}")
        elif val is False:
            print(f"  [FAILED]      {name}")
            bad += 1
        else:
            print(f"  [value]       {name}: {val}")
    return 1 if bad else 0
