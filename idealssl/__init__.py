"""idealssl: idealized self-supervised representations, as software.

Top-level API (imports are lazy so that ``import idealssl`` stays cheap):

* :func:`idealssl.check` — decide and certify whether a representation is ideal for a probe family.
* :mod:`idealssl.objectives` — CISSL, DISSL, the baselines and VJE under one interface.
"""

__version__ = "0.1.0"

__all__ = ["check", "load_representation", "load_orbits", "__version__"]


def __getattr__(name: str):
    if name == "check":  # the function idealssl.checker.check, imported on first use
        from .checker.api import check

        return check
    if name == "load_representation":
        from .inputs.representation import load_representation

        return load_representation
    if name == "load_orbits":
        from .inputs.orbits import load_orbits

        return load_orbits
    raise AttributeError(f"module 'idealssl' has no attribute {name!r}")
