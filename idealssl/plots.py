"""Figures of a training run (PNG, matplotlib's Agg backend): ``idealssl plot``.

* :func:`training_curves` — from ``RUN/metrics.jsonl``: loss, learning rate, online-probe loss, RankMe, invariance
  ratio and online k-NN top-1 (end of each epoch), and every objective term that varies during the run, against
  the step.
* :func:`embedding` — a 2-D PCA (scikit-learn) of held-out features of the run's last checkpoint, coloured by class.
* :func:`plot_run` — both, and the end-of-run check's figure (:func:`idealssl.checker.figure.check_figure`) when the
  run holds a check report, into ``RUN/plots/``.

matplotlib (the ``plot`` extra) is imported when a figure is drawn (:mod:`idealssl.figfile`), never at import time;
torch only by :func:`embedding`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import atomic
from .checker.figure import check_figure
from .errors import InputError
from .figfile import pyplot, save

__all__ = [
    "training_curves",
    "embedding",
    "plot_run",
    "read_metrics",
    "find_check_report",
]

#: keys of a step record that are not objective terms
_STEP_KEYS = {"step", "epoch", "loss", "probe_loss", "lr", "end_of_epoch", "train_seconds"}
#: at most this many held-out points in the embedding figure
MAX_EMBED_POINTS = 2000


# ------------------------------------------------------------------------------------------------ training curves
def read_metrics(path: Path) -> tuple[list[dict], list[dict]]:
    """``(step records, end-of-epoch records)`` of a ``metrics.jsonl``; a bad line is one-line InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} not found: not a run directory written by idealssl train")
    steps: list[dict] = []
    epochs: list[dict] = []
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{i}: not JSON ({exc.msg})") from None
        if not isinstance(rec, dict) or "step" not in rec:
            raise InputError(f"{path}:{i}: a metrics record must be an object with a 'step'")
        (epochs if rec.get("end_of_epoch") else steps).append(rec)
    if not steps and not epochs:
        raise InputError(f"{path} holds no records yet (the run has not logged a step)")
    return steps, epochs


def _series(recs: list[dict], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in recs:
        v = r.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            xs.append(float(r["step"]))
            ys.append(float(v))
    return xs, ys


def _objective_terms(steps: list[dict]) -> list[str]:
    """Numeric objective logs that change during the run (constants such as a fixed temperature are left out)."""
    keys: list[str] = []
    for r in steps:
        keys += [k for k in r if k not in _STEP_KEYS and k not in keys]
    varying = []
    for k in keys:
        _, ys = _series(steps, k)
        if len(ys) > 1 and max(ys) != min(ys):
            varying.append(k)
    return varying


def _panel(ax, xs, ys, title: str, ylabel: str, *, zero: bool = False, marker: str = "", note: str = "") -> None:
    if xs:
        ax.plot(xs, ys, marker=marker, lw=1.2, ms=4)
    else:
        ax.text(0.5, 0.5, note or "not logged in this run", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("step")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if zero and ys:
        top = max(ys)
        ax.set_ylim(0, top * 1.08 if top > 0 else 1)


def training_curves(run_dir: Path, out: Path) -> Path:
    """One PNG of the run's curves against the step (see the module docstring)."""
    run_dir = Path(run_dir)
    steps, epochs = read_metrics(run_dir / "metrics.jsonl")
    cfg = _read_json_or_yaml(run_dir / "config.yaml")
    results = _read_json(run_dir / "results.json") or {}
    n_classes, dim = _dims(run_dir, results, cfg)
    terms = _objective_terms(steps)[:9]
    kx, ky = _series(epochs, "online_knn")
    n = 5 + bool(kx) + len(terms)
    cols = 3
    rows = math.ceil(n / cols)
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.1 * rows), squeeze=False)
    flat = list(axes.ravel())
    ex, ey = _series(epochs, "loss")
    _loss_panel(flat[0], steps)
    _panel(flat[1], *_series(steps, "lr"), "learning rate (backbone and heads)", "lr", zero=True)
    _probe_panel(flat[2], steps, results, n_classes)
    _rankme_panel(flat[3], epochs, dim)
    ix, iy = _series(epochs, "invariance_ratio")
    _panel(
        flat[4],
        ix,
        iy,
        "invariance ratio of two views (end of epoch)",
        "within-pair / total variance",
        zero=True,
        marker="o",
        note="no epoch completed yet",
    )
    if kx:
        _knn_panel(flat[5], kx, ky, results, n_classes)
    for k, ax in zip(terms, flat[5 + bool(kx) :]):
        _panel(ax, *_series(steps, k), f"objective term: {k}", k)
    for ax in flat[n:]:
        ax.axis("off")
    if ex and len(ex) < 30:
        flat[0].plot(ex, ey, "o", ms=4, color="C1", label="end of epoch")
        flat[0].legend(fontsize=8)
    fig.suptitle(_run_title(cfg, results, steps + epochs), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.04 / rows))  # room for the title above the first row
    return save(fig, out)


def _loss_panel(ax: Any, steps: list[dict]) -> None:
    xs, ys = _series(steps, "loss")
    _panel(ax, xs, ys, "training loss (objective)", "loss")
    if len(xs) >= 60:  # a running mean over ~5% of the steps, beside the raw curve
        w = max(2, len(ys) // 20)
        sm = [sum(ys[max(0, i - w + 1) : i + 1]) / len(ys[max(0, i - w + 1) : i + 1]) for i in range(len(ys))]
        ax.lines[0].set_alpha(0.35)
        ax.plot(xs, sm, lw=1.6, color="C0", label=f"running mean ({w} steps)")
        ax.legend(fontsize=8)


def _probe_panel(ax: Any, steps: list[dict], results: dict, n_classes: int | None) -> None:
    px, py = _series(steps, "probe_loss")
    online = ((results.get("eval") or {}).get("online_linear") or {}).get("top1")
    title = "online linear probe" + (f" (final test top-1 {online:.3f})" if online is not None else "")
    _panel(ax, px, py, title, "probe cross-entropy", zero=True)
    if px and n_classes:
        ax.axhline(math.log(n_classes), ls="--", color="grey", lw=1, label=f"chance: ln {n_classes}")
        ax.set_ylim(0, max(max(py), math.log(n_classes)) * 1.08)
        ax.legend(fontsize=8)


def _rankme_panel(ax: Any, epochs: list[dict], dim: int | None) -> None:
    rx, ry = _series(epochs, "rankme")
    _panel(
        ax,
        rx,
        ry,
        "RankMe of plain features (end of epoch)",
        "effective rank",
        zero=True,
        marker="o",
        note="no epoch completed yet",
    )
    if rx and dim:
        ax.axhline(dim, ls="--", color="grey", lw=1, label=f"feature dimension d = {dim}")
        ax.set_ylim(0, dim * 1.08)
        ax.legend(fontsize=8)


def _knn_panel(ax: Any, kx: list[float], ky: list[float], results: dict, n_classes: int | None) -> None:
    knn = ((results.get("eval") or {}).get("knn") or {}).get("top1")
    title = "online k-NN top-1 (end of epoch" + (f"; final k-NN {knn:.3f})" if knn is not None else ")")
    _panel(ax, kx, ky, title, "top-1 accuracy", zero=True, marker="o")
    ax.set_ylim(0, 1.02)
    if n_classes:
        ax.axhline(1 / n_classes, ls="--", color="grey", lw=1, label=f"chance: 1/{n_classes}")
        ax.legend(fontsize=8)


def _run_title(cfg: dict, results: dict, recs: list[dict]) -> str:
    method = cfg.get("method") or results.get("method") or "?"
    dataset = cfg.get("dataset") or results.get("dataset") or "?"
    last = max((int(r["step"]) for r in recs), default=0)
    return f"{method} on {dataset}: {last} steps" + (f", seed {cfg['seed']}" if "seed" in cfg else "")


def _dims(run_dir: Path, results: dict, cfg: dict) -> tuple[int | None, int | None]:
    dim = (results.get("encoder") or {}).get("dim")
    if dim is None:
        dim = (_read_json(run_dir / "env.json") or {}).get("dim")
    dataset = str(cfg.get("dataset") or results.get("dataset") or "").lower()
    known = {"digits": 10, "cifar10": 10, "stl10": 10, "cifar100": 100, "tinyimagenet": 200}
    n_classes = known.get(dataset)
    if dataset == "fake":
        n_classes = (cfg.get("data") or {}).get("fake_classes")
    return n_classes, dim


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _read_json_or_yaml(path: Path) -> dict:
    try:
        import yaml

        d = yaml.safe_load(Path(path).read_text())
        return d if isinstance(d, dict) else {}
    except Exception:  # noqa: BLE001  (a figure title only)
        return {}


# ------------------------------------------------------------------------------------------------ embedding
def embedding(run_dir: Path, out: Path, max_points: int = MAX_EMBED_POINTS, device: str = "cpu") -> Path:
    """2-D PCA of the last checkpoint's backbone features of (up to ``max_points``) test images, by class."""
    import numpy as np
    import torch
    from sklearn.decomposition import PCA

    from .data.datasets import load_dataset
    from .data.views import ViewGenerator
    from .train import checkpoint as C
    from .train.config import from_run
    from .train.evaluate import extract
    from .train.loop import view_config
    from .train.model import backbone_from_checkpoint

    path = C.resolve_checkpoint(str(run_dir))
    ck = C.load(path)
    cfg = from_run(ck.get("cfg"), str(path))
    data = load_dataset(cfg.dataset, cfg.data_dir, cfg.data)
    backbone = backbone_from_checkpoint(ck, path, cfg=cfg).to(device)
    vcfg = view_config(cfg.views, data, 2)
    views = ViewGenerator(vcfg, ck["mean"], ck["std"])
    rng = np.random.default_rng(0)
    idx = np.sort(rng.permutation(len(data.test_x))[:max_points])
    with torch.no_grad():
        feats = extract(backbone, views.plain, data.test_x[idx], device).numpy()
    labels = np.asarray(data.test_y)[idx]
    if feats.shape[1] < 2 or len(feats) < 3:
        raise InputError(f"{path}: too few features for a 2-D embedding ({feats.shape})")
    pca = PCA(n_components=2, random_state=0)
    xy = pca.fit_transform(feats.astype(np.float64))
    var = pca.explained_variance_ratio_
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    classes = np.unique(labels)
    if len(classes) <= 20:
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for i, c in enumerate(classes):
            m = labels == c
            ax.scatter(xy[m, 0], xy[m, 1], s=8, alpha=0.75, color=cmap(i % cmap.N), label=str(int(c)))
        ax.legend(title="class", fontsize=8, markerscale=2, loc="center left", bbox_to_anchor=(1.01, 0.5))
    else:
        sc = ax.scatter(xy[:, 0], xy[:, 1], s=6, c=labels, cmap="viridis", alpha=0.75)
        fig.colorbar(sc, ax=ax, label="class")
    ax.set_xlabel(f"PC 1 ({100 * var[0]:.1f}% of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * var[1]:.1f}% of the variance)")
    ax.set_title(
        f"{cfg.method} on {data.name}, step {ck.get('step')}: PCA of backbone features\n"
        f"{len(xy)} test images (d = {feats.shape[1]}), coloured by class",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save(fig, out)


def find_check_report(run_dir: Path) -> Path | None:
    p = Path(run_dir) / "check" / "report.json"
    return p if p.is_file() else None


# ------------------------------------------------------------------------------------------------ a run
def plot_run(run_dir: Path, out_dir: Path | None = None, embed: bool = True, device: str = "cpu") -> list[Path]:
    """Every figure of a run into ``out_dir`` (default ``RUN/plots``); returns the files written. Writing into the
    run, it holds the run's lock (:mod:`idealssl.train.runlock`: refused while a training run holds it) and refuses
    an ``out_dir`` where a figure would replace one of the run's own files."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a directory (give a run directory written by idealssl train)")
    if not (run_dir / "metrics.jsonl").is_file():
        raise InputError(f"{run_dir} has no metrics.jsonl: not a run directory written by idealssl train")
    from .train.rundir import writing_into

    out_dir = Path(out_dir) if out_dir is not None else atomic.real_folder(run_dir / "plots", "run's figures")
    names = ("curves.png", "embedding.png", "check.png")
    with writing_into(run_dir, {out_dir / n: ("plots/*",) for n in names}, [], "idealssl plot"):
        written = [training_curves(run_dir, out_dir / "curves.png")]
        if embed:
            if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").glob("*.pt")):
                written.append(embedding(run_dir, out_dir / "embedding.png", device=device))
        rpt = find_check_report(run_dir)
        if rpt is not None:
            data = _read_json(rpt)
            if data is None:
                raise InputError(f"{rpt}: not JSON")
            written.append(check_figure(data, out_dir / "check.png", where=str(rpt)))
    return written
