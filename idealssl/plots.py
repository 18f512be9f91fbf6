"""Figures of a training run and of a check report (PNG, matplotlib's Agg backend).

* :func:`training_curves` — from ``RUN/metrics.jsonl``: loss, learning rate, online-probe loss, RankMe, invariance
  ratio and online k-NN top-1 (end of each epoch), and every objective term that varies during the run, against
  the step.
* :func:`embedding` — a 2-D PCA (scikit-learn) of held-out features of the run's last checkpoint, coloured by class.
* :func:`check_figure` — a check report (:meth:`idealssl.checker.report.CheckReport.to_dict`): the codes' singular
  values relative to the largest against the tolerance, and each orbit's largest deviation against the tolerance.
* :func:`plot_run` — all of them for a run directory, into ``RUN/plots/``.

matplotlib (the ``plot`` extra) is imported when a figure is drawn, never at import time; this module imports no
torch at module level (``idealssl check --plot`` stays torch-free).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .errors import InputError

__all__ = [
    "training_curves",
    "embedding",
    "check_figure",
    "figure_target",
    "plot_run",
    "read_metrics",
    "find_check_report",
]

#: keys of a step record that are not objective terms
_STEP_KEYS = {"step", "epoch", "loss", "probe_loss", "lr", "end_of_epoch", "train_seconds"}
#: at most this many held-out points in the embedding figure
MAX_EMBED_POINTS = 2000


def _pyplot():
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise InputError(
            "plots need matplotlib, which is not installed: pip install 'idealssl[plot]' (or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def figure_target(path: str | Path) -> Path:
    """Check, before anything is computed, that a figure can be written to ``path``: matplotlib installed, an
    extension naming a format it writes, not a directory, and a writable place for it (folders to be created
    below the nearest existing one). Returns the path. One InputError line otherwise."""
    path = Path(path)
    _pyplot()  # matplotlib installed
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    formats = sorted(FigureCanvasAgg.get_supported_filetypes())
    if path.is_dir():
        raise InputError(f"{path} is a directory; give a figure file such as {path / 'check.png'}")
    ext = path.suffix[1:].lower()
    if not ext:
        raise InputError(f"{path}: a figure file needs an extension naming its format ({', '.join(formats)})")
    if ext not in formats:
        raise InputError(f"{path}: matplotlib cannot write '.{ext}' figures (it writes {', '.join(formats)})")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write in {parent} (permission denied)")
    return path


def _save(fig, path: Path) -> Path:
    """``fig`` drawn into memory in the format of ``path``'s suffix (:func:`figure_target` checks it), then written
    to exactly ``path`` by :func:`idealssl.atomic.write_bytes` (atomically, never through a symlink)."""
    import io

    from . import atomic

    buf = io.BytesIO()
    try:
        path = figure_target(path)
        fig.savefig(buf, format=path.suffix[1:].lower(), dpi=110, bbox_inches="tight")
    finally:
        _pyplot().close(fig)
    atomic.write_bytes(path, buf.getbuffer(), "figure")
    return path


# ------------------------------------------------------------------------------------------------ training curves
def read_metrics(path: Path) -> tuple[list[dict], list[dict]]:
    """``(step records, end-of-epoch records)`` of a ``metrics.jsonl``; a bad line is one-line InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} not found: not a run directory written by idealssl train")
    steps, epochs = [], []
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
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.1 * rows), squeeze=False)
    flat = list(axes.ravel())
    xs, ys = _series(steps, "loss")
    ex, ey = _series(epochs, "loss")
    ax = flat[0]
    _panel(ax, xs, ys, "training loss (objective)", "loss")
    if len(xs) >= 60:  # a running mean over ~5% of the steps, beside the raw curve
        w = max(2, len(ys) // 20)
        sm = [sum(ys[max(0, i - w + 1) : i + 1]) / len(ys[max(0, i - w + 1) : i + 1]) for i in range(len(ys))]
        ax.lines[0].set_alpha(0.35)
        ax.plot(xs, sm, lw=1.6, color="C0", label=f"running mean ({w} steps)")
        ax.legend(fontsize=8)
    _panel(flat[1], *_series(steps, "lr"), "learning rate (backbone and heads)", "lr", zero=True)
    px, py = _series(steps, "probe_loss")
    online = ((results.get("eval") or {}).get("online_linear") or {}).get("top1")
    title = "online linear probe" + (f" (final test top-1 {online:.3f})" if online is not None else "")
    _panel(flat[2], px, py, title, "probe cross-entropy", zero=True)
    if px and n_classes:
        flat[2].axhline(math.log(n_classes), ls="--", color="grey", lw=1, label=f"chance: ln {n_classes}")
        flat[2].set_ylim(0, max(max(py), math.log(n_classes)) * 1.08)
        flat[2].legend(fontsize=8)
    rx, ry = _series(epochs, "rankme")
    _panel(
        flat[3],
        rx,
        ry,
        "RankMe of plain features (end of epoch)",
        "effective rank",
        zero=True,
        marker="o",
        note="no epoch completed yet",
    )
    if rx and dim:
        flat[3].axhline(dim, ls="--", color="grey", lw=1, label=f"feature dimension d = {dim}")
        flat[3].set_ylim(0, dim * 1.08)
        flat[3].legend(fontsize=8)
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
        knn = ((results.get("eval") or {}).get("knn") or {}).get("top1")
        title = "online k-NN top-1 (end of epoch" + (f"; final k-NN {knn:.3f})" if knn is not None else ")")
        _panel(flat[5], kx, ky, title, "top-1 accuracy", zero=True, marker="o")
        flat[5].set_ylim(0, 1.02)
        if n_classes:
            flat[5].axhline(1 / n_classes, ls="--", color="grey", lw=1, label=f"chance: 1/{n_classes}")
            flat[5].legend(fontsize=8)
    for k, ax in zip(terms, flat[5 + bool(kx) :]):
        _panel(ax, *_series(steps, k), f"objective term: {k}", k)
    for ax in flat[n:]:
        ax.axis("off")
    if ex and len(ex) < 30:
        flat[0].plot(ex, ey, "o", ms=4, color="C1", label="end of epoch")
        flat[0].legend(fontsize=8)
    fig.suptitle(_run_title(cfg, results, steps + epochs), fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.04 / rows))  # room for the title above the first row
    return _save(fig, out)


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
    from .train.config import DEFAULTS, deep_update
    from .train.evaluate import extract
    from .train.loop import view_config
    from .train.model import backbone_from_checkpoint

    path = C.resolve_checkpoint(str(run_dir))
    ck = C.load(path)
    cfg = ck.get("cfg")
    if not isinstance(cfg, dict):
        raise InputError(f"{path}: the checkpoint's configuration is not a mapping")
    import copy

    cfg = deep_update(copy.deepcopy(DEFAULTS), cfg)
    data = load_dataset(cfg.get("dataset"), cfg.get("data_dir"), cfg["data"])
    backbone = backbone_from_checkpoint(ck, path).to(device)
    vcfg = view_config(cfg, data, 2)
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
    plt = _pyplot()
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
        f"{cfg.get('method')} on {data.name}, step {ck.get('step')}: PCA of backbone features\n"
        f"{len(xy)} test images (d = {feats.shape[1]}), coloured by class",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


# ------------------------------------------------------------------------------------------------ check report
def _report_body(report: Any, where: str) -> dict:
    """The CheckReport dict inside ``report`` (itself, or one nested level down, e.g. ``{"report": {...}}``)."""
    if isinstance(report, dict) and isinstance(report.get("conditions"), dict):
        return report
    if isinstance(report, dict):
        for v in report.values():
            if isinstance(v, dict) and isinstance(v.get("conditions"), dict):
                return v
    raise InputError(f"{where}: not a check report (no 'conditions'; write one with idealssl check --json)")


def _spectrum(rep: dict) -> tuple[str | None, list[float]]:
    for name, c in rep["conditions"].items():
        sv = (c.get("detail") or {}).get("singular_values_relative")
        if isinstance(sv, list) and sv:
            return name, [float(v) for v in sv]
    return None, []


def check_figure(report: Any, out: Path, where: str = "report") -> Path:
    """Spectrum vs tolerance and per-orbit deviations vs tolerance, from a check report dict."""
    rep = _report_body(report, where)
    tol = float(rep.get("tol") or 1e-4)
    C = int(rep.get("n_orbits") or 0)
    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    name, sv = _spectrum(rep)
    floor = tol / 100
    if sv:
        need = C - 1  # affine (linear) and linear (linear-nobias) rank: at least C - 1
        n_given = len(sv)
        if need > n_given:  # fewer dimensions than the rank needs: the missing values are 0
            sv = sv + [0.0] * (need - n_given)
        ks = list(range(1, len(sv) + 1))
        shown = [max(v, floor) for v in sv]
        # red: a required value (k <= C - 1) at or below the tolerance; grey: beyond the required rank
        colours = ["lightgrey" if k > need else ("C0" if v > tol else "C3") for k, v in zip(ks, sv)]
        a1.plot(ks, shown, lw=0.8, color="C0", alpha=0.5)
        a1.scatter(ks, shown, c=colours, s=18, zorder=3, edgecolors="k", linewidths=0.3)
        a1.axhline(tol, ls="--", color="grey", label=f"tolerance {tol:g}")
        if 1 <= need <= len(sv):
            a1.axvline(need, ls=":", color="C2", label=f"k = C − 1 = {need} (needed rank)")
        a1.set_yscale("log")
        a1.set_ylim(floor / 2, 2)
        a1.set_xlabel("k")
        a1.xaxis.get_major_locator().set_params(integer=True)
        a1.set_ylabel("σ_k / σ_1")
        missing = f"; k > {n_given}: 0 (only {n_given} values)" if len(sv) > n_given else ""
        a1.set_title(f"singular values of the codes ({name}{missing})", fontsize=10)
        a1.legend(fontsize=8)
    else:
        a1.text(
            0.5,
            0.5,
            f"no spectrum in this report (probe {rep.get('probe')})",
            ha="center",
            va="center",
            transform=a1.transAxes,
        )
        a1.set_title("singular values of the codes", fontsize=10)
    a1.grid(alpha=0.3, which="both")
    inv = rep["conditions"].get("invariance") or {}
    devs = (inv.get("detail") or {}).get("max_deviation_relative_per_orbit")
    if isinstance(devs, list) and devs:
        ks = list(range(len(devs)))
        shown = [max(float(v), floor) for v in devs]
        a2.bar(ks, shown, color=["C0" if float(v) <= tol else "C3" for v in devs], width=0.8)
        a2.set_xlabel("orbit m" + (" (first 1000)" if C > len(devs) else ""))
        a2.set_ylim(floor / 2, max(max(shown), tol) * 5)
    elif inv:
        worst = (inv.get("detail") or {}).get("worst_orbit", 0)
        a2.bar([worst], [max(float(inv.get("value") or 0.0), floor)], color="C3" if not inv.get("holds") else "C0")
        a2.set_xlabel("orbit m (this report holds the worst orbit only)")
    a2.axhline(tol, ls="--", color="grey", label=f"tolerance {tol:g}")
    a2.set_yscale("log")
    a2.set_ylabel("max ‖z_x − z_first‖ / spread")
    a2.set_title("invariance: largest deviation within each orbit", fontsize=10)
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3, which="both")
    verdict = "IDEAL" if rep.get("ideal") else "NOT IDEAL"
    fig.suptitle(
        f"idealssl check, probe {rep.get('probe')}: {verdict} — N = {rep.get('n_points')}, C = {C}, "
        f"d = {rep.get('dim')}\n(red: fails the tolerance; grey: beyond the required rank; "
        "values below tol/100 drawn at tol/100)",
        fontsize=11,
    )
    fig.tight_layout()
    return _save(fig, out)


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

    out_dir = Path(out_dir) if out_dir is not None else run_dir / "plots"
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
