"""idealssl: idealized self-supervised representations, as software.

Top-level API (imports are lazy so that ``import idealssl`` stays cheap):

* :func:`idealssl.check` — decide and certify whether a representation is ideal for a probe family.
* :mod:`idealssl.objectives` — CISSL, DISSL, the baselines and VJE under one interface.
"""
__version__ = "0.1.0"

__all__ = ["check", "load_representation", "load_orbits", "__version__"]


def __getattr__(name):
    if name == "check":  # the callable module idealssl.check (see idealssl/check/__init__.py)
        import importlib

        return importlib.import_module(".check", __name__)
    if name == "load_representation":
        from .representation import load_representation

        return load_representation
    if name == "load_orbits":
        from .problem import load_orbits

        return load_orbits
    raise AttributeError(f"module 'idealssl' has no attribute {name!r}")
