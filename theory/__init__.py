"""Executable theory: sympy derivations of the statements in ``theory/statements.md``.

Each module derives one group of statements, returns what it established from ``derive()`` (a
dict name -> bool or expression) and prints it from ``main()``::

    python -m theory.simplex          # S4, S5: the ideal log loss, the simplex, the normalisation
    python -m theory.sample_efficiency  # S1.5, S3: Cover count, W_n, coarsening
    python -m theory.heads            # S6: CISSL population loss, symmetric vs asymmetric heads
    python -m theory.dissl            # S7: DISSL population objective and determinism threshold
    python -m theory.vje              # S8: VJE KL, Student-t normaliser, polar change, cancellation
    python -m theory.robust           # S10: robust Theorem 1, certified few-shot error, sharp constants
    python -m theory                  # all of them

The test suite (``tests/theory/test_derivations.py``) runs every ``derive()`` and checks each claim.
"""

MODULES = ("simplex", "sample_efficiency", "heads", "dissl", "vje", "robust")
