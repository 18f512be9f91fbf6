"""Orbit sets from a trained image encoder, for ``idealssl check``.

M held-out images (the test split, a seeded choice) × V augmented views each, drawn with the run's own
training augmentations (its :class:`~idealssl.data.views.ViewConfig`, from a generator seeded with
``check.seed``), are embedded by the backbone and, as ``check.features`` says, by the objective's projector (the
head the loss reads, applied to the backbone's output of the same views: :mod:`idealssl.train.features`). Each
image's V views form one orbit (``check.orbits: image``), or all views of all images of a class form one
(``check.orbits: class``: the coarser augmentation the class labels allow). Written to ``RUN/check/`` (backbone)
and ``RUN/check-projector/`` (projector):

* ``representation.npy`` (M·V x d, float64, row i·V + v = view v of image i),
* ``orbits.json`` (``{"labels": [...]}``, the checker's labels form),
* ``report.json`` (``idealssl check --json`` of the two, at ``check.tol`` for ``check.probe``),
* ``orbit_set.json`` (the images, views, seed, and which features and tensor),

and a ``check`` block for ``results.json`` (:func:`check_block`; with ``check.features: both`` the backbone's, with
the projector's as its ``projector`` sub-block). ``idealssl eval check RUN`` redoes it for any run
(:func:`eval_check`); ``idealssl check RUN/check/representation.npy --augs RUN/check/orbits.json`` redoes the
check alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import atomic
from ..checker import check
from ..checker.selection import score_orbit_set
from ..derive.prescriptions import Prescriptions
from ..errors import InputError
from ..jsonutil import plain
from .config import validate, with_values
from .defaults import CheckConfig, RunConfig
from .features import BACKBONE, FOLDERS, READING, kinds, projector_of


def embed_views(
    backbone, images: np.ndarray, views_fn, size: int, V: int, seed: int, device, batch: int = 256, head=None
) -> list[np.ndarray]:
    """[Z] (M·V x d): V augmented views of each image (row i·V + v), embedded by the backbone without gradients;
    with ``head`` (:func:`idealssl.train.features.projector_of`), [Z, head(Z)]: the head applied, in eval mode, to
    the backbone's float32 output of the same views."""
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    old, views_fn.g = views_fn.g, g
    nets = [backbone] + ([head] if head is not None else [])
    was_training = [n.training for n in nets]
    for n in nets:
        n.eval()
    try:
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
            x01 = x.float().div(255.0)
            per_view: list[list] = [[] for _ in nets]
            for _ in range(V):
                hs = [
                    backbone(views_fn.one_view(x01[i : i + batch], size, views_fn.scale, 0)).float()
                    for i in range(0, len(x01), batch)
                ]
                per_view[0].append(torch.cat([h.cpu() for h in hs]))
                if head is not None:
                    per_view[1].append(torch.cat([head(h).float().cpu() for h in hs]))
            out = [torch.stack(zs, 1).reshape(len(images) * V, -1).double().numpy() for zs in per_view]
    finally:
        views_fn.g = old
        for n, mode in zip(nets, was_training):
            n.train(mode)
    return out


def orbit_set(
    backbone, data, views_fn, size: int, device, s: CheckConfig, head=None
) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """({features: Z}, orbit labels, description) for the check settings ``s``: ``backbone`` always, ``projector``
    as well when ``head`` is given (the same views)."""
    n_test = len(data.test_x)
    M = min(int(s.images), n_test)
    if M < 2:
        raise InputError(f"check: the test split has {n_test} images; need at least 2")
    pick = np.sort(np.random.default_rng(int(s.seed)).permutation(n_test)[:M])
    V = int(s.views)
    Zs = embed_views(backbone, data.test_x[pick], views_fn, size, V, int(s.seed), device, head=head)
    if s.orbits == "class":
        y = np.asarray(data.test_y)[pick]
        _, labels = np.unique(np.repeat(y, V), return_inverse=True)
    else:
        labels = np.repeat(np.arange(M), V)
    desc = {
        "images": M,
        "views": V,
        "seed": int(s.seed),
        "orbits": s.orbits,
        "split": "test",
        "image_indices": pick.tolist(),
        "augmentations": "the run's training views (ViewConfig), seeded",
        "n_orbits": int(labels.max()) + 1,
    }
    return dict(zip(("backbone", "projector"), Zs)), labels.astype(np.int64), desc


def check_block(
    report: dict[str, Any],
    desc: dict[str, Any],
    probe: str,
    tol: float,
    features: str = "backbone",
    tensor: str = BACKBONE,
) -> dict[str, Any]:
    """The ``check`` block of results.json from the checker's JSON report of the ``features`` set (backbone or
    projector; ``tensor`` says which tensor was embedded, ``reading`` what its scores are to be read for:
    :data:`idealssl.train.features.READING`)."""
    cond = report["conditions"]
    C = report["n_orbits"]
    rank_key = {"linear": "affine_independence", "linear-nobias": "linear_independence"}.get(probe)
    eff = cond.get("effective_dimension", {})
    folder = FOLDERS[features]
    return {
        "features": features,
        "tensor": tensor,
        "reading": READING[features],
        "verdict": "ideal" if report["ideal"] else "not ideal",
        "ideal": report["ideal"],
        "probe": probe,
        "tol": tol,
        "ideal_tolerance": report.get("ideal_tolerance"),
        "binding_condition": (report.get("graded") or {}).get("binding_condition"),
        "invariance_ratio": cond["invariance"]["value"],
        "rank": eff.get("value"),
        "rank_required": eff.get("threshold"),
        "sigma_ratio": cond[rank_key]["value"] if rank_key in cond else None,
        "fitted_task_fraction": report.get("fitted_task_fraction"),
        "certified": report.get("certified"),
        "M": desc["images"],
        "V": desc["views"],
        "C": C,
        "d": report["dim"],
        "orbits": desc["orbits"],
        "files": {
            "representation": f"{folder}/representation.npy",
            "orbits": f"{folder}/orbits.json",
            "report": f"{folder}/report.json",
        },
        "note": (
            f"C = {C} orbits need d >= {C - 1 if probe == 'linear' else C} for linear probes; d = {report['dim']}"
            if probe != "mlp"
            else "mlp probes need distinct codes"
        ),
    }


def run_check(
    run_dir: Path, backbone, data, views_fn, size: int, device, cfg: RunConfig, objective=None
) -> dict[str, Any]:
    """Embed, write ``RUN/check/`` (backbone) and/or ``RUN/check-projector/`` (``objective``'s projector) as
    ``cfg.check.features`` says, check each at ``cfg``'s ``check`` settings; returns the ``check`` block: the
    backbone's with the projector's as its ``projector`` sub-block for ``both``, else the one set's."""
    s, probe = cfg.check, cfg.check_probe
    want = kinds(s.features)
    head, what = projector_of(objective) if "projector" in want else (None, BACKBONE)
    Zs, labels, desc = orbit_set(backbone, data, views_fn, size, device, s, head)
    files: dict[Path | str, bytes | memoryview] = {}
    blocks: dict[str, dict[str, Any]] = {}
    for kind in want:
        Z, tensor = Zs[kind], (what if kind == "projector" else BACKBONE)
        rep = check(Z, labels, probe=probe, tol=float(s.tol)).to_dict()
        out = atomic.real_folder(Path(run_dir) / FOLDERS[kind], "check files")
        files.update(
            {
                out / "representation.npy": atomic.npy_bytes(Z),
                out / "orbits.json": json.dumps({"labels": labels.tolist()}).encode(),
                out / "report.json": json.dumps(plain(rep), indent=1).encode(),
                out / "orbit_set.json": json.dumps(
                    plain({**desc, "features": kind, "tensor": tensor}), indent=1
                ).encode(),
            }
        )
        blocks[kind] = check_block(rep, desc, probe, float(s.tol), kind, tensor)
        blocks[kind]["label_free"] = label_free_block(Z, labels, probe, desc, kind, tensor)
    atomic.write_files(files, "check file")  # every folder's four files replace the previous ones together, or none
    blk = blocks[want[0]]
    if len(want) == 2:
        blk["projector"] = blocks["projector"]
    return plain(blk)


def label_free_block(
    Z: np.ndarray,
    labels: np.ndarray,
    probe: str,
    desc: dict[str, Any],
    features: str = "backbone",
    tensor: str = BACKBONE,
) -> dict[str, Any]:
    """Every label-free score of the orbit set (:mod:`idealssl.checker.selection`: the theory's S10.5 scores beside
    RankMe, LiDAR and alpha-ReQ), each with its value, parts and a protocol string holding its definition and
    constants and the features it was computed on; ``idealssl select RUN [--features F]`` recomputes them from the
    run's check folder."""
    where = (
        f"{features} features ({tensor}) of {desc['images']} test images x {desc['views']} views "
        f"({desc['orbits']} orbits, check.seed {desc['seed']}), probe {probe}"
    )
    return {
        "features": features,
        "scores": {
            name: {"value": v["value"], "parts": v["parts"], "protocol": f"{v['definition']}; on {where}"}
            for name, v in score_orbit_set(Z, labels, probe).items()
        },
    }


def finalise_hook(run: Any, results: dict[str, Any], verbose: bool = True) -> None:
    """``loop.finalise``: the ``theory`` block and, unless ``check.enabled`` is false, the ``check`` block. A check
    skipped for its input (a test split of one image) says why in ``{"skipped": ...}``; one whose files could not be
    written (a full disk) in ``{"failed": ...}``, which ``idealssl train`` reports on one line with exit 2 once
    ``results.json`` holds the run's other results."""
    th = run.cfg.theory
    results["theory"] = (run.theory or Prescriptions(th.probe, th.source, th.enforce, [])).block()
    if not run.cfg.check.enabled:
        return
    size = int(run.vcfg.size)
    m = run.model
    try:
        results["check"] = run_check(
            run.run_dir, m.backbone, run.data, run.views_fn, size, run.device, run.cfg, m.objective
        )
    except atomic.WriteError as exc:  # e.g. a full disk: recorded, results.json still written, then exit 2
        results["check"] = {"failed": str(exc)}
        return
    except InputError as exc:  # e.g. a test split of one image: the run's other results stand
        results["check"] = {"skipped": str(exc)}
        if verbose:
            print(f"check skipped: {exc}", file=sys.stderr, flush=True)
        return
    if verbose:
        print(summary(results["check"]), file=sys.stderr, flush=True)


def eval_check(
    args: Any, path: Path, step: int, cfg: RunConfig, backbone, objective, data, views_fn, device, out: Path
) -> int:
    """``idealssl eval check RUN``: redo the orbit set and the check for any run, from its checkpoint ``path`` at
    ``step`` (written to RUN/check/ and/or RUN/check-projector/, beside a loose checkpoint; the block to ``out``), at
    the run's ``check`` settings with the command's ``--images``, ``--views``, ``--probe``, ``--tol``,
    ``--features`` and ``--class-orbits``."""
    from .checkpoint import run_dir_of

    over = {
        f"check.{k}": v
        for k, v in (
            ("images", args.images),
            ("views", args.views),
            ("probe", args.probe),
            ("tol", args.tol),
            ("features", args.features),
        )
        if v is not None
    }
    if args.class_orbits:
        over["check.orbits"] = "class"
    cfg = validate(with_values(cfg, over))
    run_dir = run_dir_of(path) or path.parent
    blk = run_check(run_dir, backbone, data, views_fn, int(views_fn.cfg.size), device, cfg, objective)
    blk["checkpoint"], blk["step"], blk["weights"] = str(path), step, args.weights
    atomic.write_text(out, json.dumps(blk, indent=2), "results file")
    print(summary(blk))
    folders = " and ".join(f"{run_dir / FOLDERS[k]}/" for k in kinds(cfg.check.features))
    print(f"written to {out} and {folders}", file=sys.stderr)
    return 0


def summary(block: dict[str, Any]) -> str:
    """One line per feature set checked: the verdict and its measures, then the label-free scores."""
    t = block.get("ideal_tolerance")
    head = "check" if block.get("features", "backbone") == "backbone" else "check of the projector"
    line = (
        f"{head} ({block['probe']}, tol {block['tol']:g}, {block['M']} images x {block['V']} views, "
        f"{block['orbits']} orbits): {block['verdict']}; ideal_tolerance {'none' if t is None else f'{t:.3g}'}; "
        f"invariance {block['invariance_ratio']:.3g}; "
        f"rank {block['rank']} vs {block['rank_required']}; fitted_task_fraction {block['fitted_task_fraction']}"
        + "".join(
            f"; {n} {block['label_free']['scores'][n]['value']:.4g}"
            for n in ("pair_ratio", "lidar", "rankme")
            if n in (block.get("label_free") or {}).get("scores", {})
        )
    )
    return line + (f"\n{summary(block['projector'])}" if isinstance(block.get("projector"), dict) else "")
