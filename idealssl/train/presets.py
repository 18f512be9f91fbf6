"""The shipped presets: one YAML per dataset in ``idealssl/configs/`` (package data), with a ``methods:`` section of
per-method settings and, for some, a recorded ``timing:`` section (:mod:`idealssl.train.timing`).

Reading them is all this module does; :func:`idealssl.train.config.build` merges a preset over the defaults.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml


def preset(dataset: str) -> dict:
    """The shipped preset for a dataset (empty when none)."""
    name = f"{dataset.lower()}.yaml"
    try:
        text = resources.files("idealssl.configs").joinpath(name).read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        return {}
    return yaml.safe_load(text) or {}


def list_presets() -> list[str]:
    """The datasets with a shipped preset."""
    try:
        return sorted(p.name[:-5] for p in resources.files("idealssl.configs").iterdir() if p.name.endswith(".yaml"))
    except ModuleNotFoundError:
        return []


def preset_objective(method: str, dataset: str) -> dict[str, Any]:
    """The objective's hyperparameters of the defaults and the preset alone (its own and its ``methods`` section's):
    what a run's configuration holds when the user set none."""
    pre = preset(dataset)
    out = dict(pre.get("objective") or {})
    out.update(((pre.get("methods") or {}).get(str(method).lower()) or {}).get("objective") or {})
    return out
