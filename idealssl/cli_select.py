"""Rank encoders without labels: ``idealssl select RUN... [--score S] [--json]``.

Each argument is a run directory (its orbit set ``RUN/check/representation.npy`` and ``RUN/check/orbits.json``,
written by ``idealssl train`` and ``idealssl eval check``; with ``--features projector``, the objective's projector's
in ``RUN/check-projector/``) or such a folder itself (e.g. the check folder of one of a run's checkpoints). Every
score is recomputed from those two files (:mod:`idealssl.checker.selection`), never read from results.json. The
runs are printed best first by the chosen score, with its parts and what it predicts.

Examples
--------
  idealssl select runs/a runs/b runs/c                   # ranked by the default score (pair_ratio)
  idealssl select runs/* --score lidar --json            # one JSON document, every score of every run
  idealssl select runs/* --features projector            # the projector's orbit sets (check.features=both)
  idealssl select runs/a/checks/epoch=10 runs/a/checks/epoch=20 --probe linear-nobias
  idealssl select --list-scores                          # the scores, their definitions and constants

Exit status: 0 ranked, 2 bad input (a folder without an orbit set, an unknown score).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from .errors import InputError


def configure(p: argparse.ArgumentParser) -> None:
    from .checker.selection import DEFAULT_SCORE, SCORES

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = "examples:\n" + __doc__.split("Examples\n--------\n", 1)[1]
    p.add_argument(
        "runs", metavar="RUN", nargs="*", help="run directory, or a folder holding representation.npy and orbits.json"
    )
    p.add_argument(
        "--score", choices=list(SCORES), default=DEFAULT_SCORE, help=f"rank by this score (default {DEFAULT_SCORE})"
    )
    p.add_argument(
        "--probe",
        choices=["linear", "linear-nobias", "mlp"],
        help="probe family of the theory's scores (default: the run's check.probe in results.json, else linear)",
    )
    p.add_argument(
        "--features",
        choices=["backbone", "projector"],
        default="backbone",
        help="a run directory's orbit set: the backbone's (RUN/check/, default) or the objective's projector's "
        "(RUN/check-projector/, written with check.features=projector or both)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document (every score of every run)")
    p.add_argument("--list-scores", action="store_true", help="print the scores with their definitions and exit")


def orbit_set_files(path: str, features: str = "backbone") -> tuple[Path, Path, Path | None]:
    """(representation.npy, orbits.json, results.json or None) of an orbit-set folder, or of a run directory's
    ``features`` set (``RUN/check/`` or ``RUN/check-projector/``)."""
    from .train.features import FOLDERS

    p = Path(path)
    sub = FOLDERS[features]
    if not p.is_dir():
        raise InputError(
            f"{path}: not a directory (give a run directory or a folder with representation.npy and orbits.json)"
        )
    for folder, results in ((p, p.parent / "results.json"), (p / sub, p / "results.json")):
        rep, orb = folder / "representation.npy", folder / "orbits.json"
        if rep.is_file() and orb.is_file():
            return rep, orb, results if results.is_file() else None
    raise InputError(
        f"{path}: no orbit set (expected {p / sub / 'representation.npy'} and orbits.json, written by "
        + (
            "idealssl train or idealssl eval check)"
            if features == "backbone"
            else "idealssl train or idealssl eval check with check.features=projector or both)"
        )
    )


def _run_probe(results: Path | None) -> str | None:
    """The probe of the run's check block, if results.json has one."""
    if results is None:
        return None
    try:
        block = json.loads(results.read_text()).get("check") or {}
    except (OSError, ValueError, AttributeError):
        return None
    probe = block.get("probe") if isinstance(block, dict) else None
    return probe if probe in ("linear", "linear-nobias", "mlp") else None


def _features_of(folder: Path) -> str | None:
    """Which features an orbit-set folder holds: its ``orbit_set.json``'s ``features`` (written by the trainer),
    else ``backbone`` for a ``check/`` folder written before the key existed; None when unknown."""
    try:
        features = json.loads((folder / "orbit_set.json").read_text()).get("features")
    except (OSError, ValueError, AttributeError):
        features = None
    if features in ("backbone", "projector"):
        return str(features)
    return "backbone" if folder.name == "check" else None


def score_path(path: str, probe: str | None, features: str = "backbone") -> dict[str, Any]:
    """Every score of the orbit set of ``path`` (recomputed from its files; a run directory's ``features`` set)."""
    from .checker.selection import score_orbit_set
    from .inputs import load_orbits
    from .inputs.representation import load_representation

    rep_file, orb_file, results = orbit_set_files(path, features)
    Z = load_representation(rep_file).to_array()
    orb = load_orbits(str(orb_file), n=Z.shape[0])
    used = probe or _run_probe(results) or "linear"
    return {
        "path": path,
        "features": _features_of(rep_file.parent),
        "probe": used,
        "N": int(Z.shape[0]),
        "d": int(Z.shape[1]),
        "orbits": int(orb.n_orbits),
        "scores": score_orbit_set(Z, orb.labels, used),
    }


def rank(rows: list[dict[str, Any]], score: str) -> list[dict[str, Any]]:
    """``rows`` best first by the score's key (ties keep the order given); NaN keys last."""

    def key(r: dict[str, Any]) -> float:
        k = r["scores"][score]["key"]
        return -math.inf if math.isnan(k) else k

    return sorted(rows, key=key, reverse=True)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}"
    return str(v)


def run(args: argparse.Namespace) -> int:
    from .checker.selection import SCORES
    from .cli import emit
    from .jsonutil import plain

    if args.list_scores:
        for s in SCORES.values():
            emit(f"{s.name} ({s.family}): {s.definition}\n    predicts: {s.predicts}\n")
        return 0
    if not args.runs:
        raise InputError("give at least one RUN (a run directory or an orbit-set folder); see idealssl select -h")
    ranked = rank([score_path(p, args.probe, args.features) for p in args.runs], args.score)
    if args.json:
        emit(json.dumps(plain({"score": args.score, "ranked": ranked}), indent=1) + "\n")
        return 0
    s = SCORES[args.score]
    emit(f"ranked by {s.name} ({s.family}; larger is better): {s.definition}\npredicts: {s.predicts}\n")
    for i, r in enumerate(ranked, 1):
        sc = r["scores"][args.score]
        others = ", ".join(f"{n} {_fmt(v['value'])}" for n, v in r["scores"].items() if n != args.score)
        emit(
            f"{i:>3}. {r['path']}: {s.name} = {_fmt(sc['value'])}  parts {_fmt(sc['parts'])}\n"
            f"     ({r['orbits']} orbits, N = {r['N']}, d = {r['d']}, probe {r['probe']}; {others})\n"
        )
    return 0
