"""The heavy experiments behind notebooks 3-7, recorded as JSON under ``notebooks/results/``.

Run one (or all) from the repository root::

    python -m notebooks.experiments coarseness heads dimension loss_vs_accuracy vje_digits --mode full

The notebooks call the same functions in full mode (``IDEALSSL_NB_MODE=full``) and read the
recorded JSON in quick mode. Everything is built from the public functions of
:mod:`idealssl.synthetic` (worlds, trainer, evaluation) and :mod:`idealssl.train` (the image
trainer on the embedded digits); nothing here changes their behaviour.

Worlds (fixed seeds):

* ``main_world``: C = 16 orbits of the cyclic-shift group on R^8 times 2 nuisance vectors (N = 256),
  4 classes; used by ``heads``, ``dimension``, ``loss_vs_accuracy``.
* ``coarse_world``: C = 32 orbits of the dihedral group of order 8 on R^6 (N = 256), 4 classes of 8
  orbits; its coarseness family merges orbits within a class: C = 32, 16, 8, 4 (``coarseness``).
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Dict, List, Optional, Sequence


try:  # as a package module (python -m notebooks.experiments) or from the notebooks folder
    from . import nbutil
except ImportError:  # pragma: no cover
    import nbutil  # type: ignore

SMALL_HEADS = dict(hidden_dim=256, teacher_hidden_dim=256, probe_hidden_dim=256, projector_hidden_dim=256,
                   predictor_hidden_dim=256, out_dim=64, bottleneck=None, bottleneck_dim=32)
METHOD_HPARAMS = {"dissl": dict(n_classes=64), "dino": dict(out_dim=64)}

CONFIGS = {
    "quick": dict(steps=300, seeds=(0,), n_tasks=8, digits_seeds=(0,), digits_epochs=10),
    "full": dict(steps=1000, seeds=(0, 1, 2), n_tasks=20, digits_seeds=(0, 1), digits_epochs=60),
}


def hparams(method: str, **extra) -> Dict:
    if method == "oracle":
        return {}
    return {**SMALL_HEADS, **METHOD_HPARAMS.get(method, {}), **extra}


def main_world(seed: int = 0):
    from idealssl.synthetic.worlds import vector_world

    return vector_world(n_orbits=16, dim=8, groups=("shift",), n_classes=4, nuisance_dim=2, n_nuisance=2, seed=seed)


def coarse_world(seed: int = 0):
    from idealssl.synthetic.worlds import vector_world

    return vector_world(n_orbits=32, dim=6, groups=("signflip:2", "rotation:4"), n_classes=4, seed=seed)


def fit(world, method: str, dim: int, seed: int, steps: int, hp: Optional[Dict] = None):
    """Train one encoder on a finite world; returns (Z, train result)."""
    from idealssl.synthetic.train import TrainConfig, embed, train

    res = train(world, TrainConfig(method=method, dim=dim, steps=steps, batch=128, seed=seed,
                                   hparams=hparams(method) if hp is None else hp))
    return embed(res["encoder"], world), res


def _few(pt, n, key="error"):
    return pt["fewshot"][str(n)][key]


# ------------------------------------------------------------------------------------------- coarseness
def coarseness(mode: str = "full", methods=("oracle", "dissl"), log=print) -> Dict:
    """Few-shot error vs augmentation coarseness (Prop. 2, Fig. 7a). Tasks label the 4 classes, so
    they are invariant at every level; one encoder per (method, level, seed), d = 31."""
    from idealssl.synthetic.evaluate import geometry, probe_tasks, worst_case_risk

    cfg = CONFIGS[mode]
    base = coarse_world()
    family = base.coarseness_family()
    shots = (1, 2, 4, 8, 16, 32, 64)
    rows = []
    for m in methods:
        for lvl in family:
            for s in cfg["seeds"]:
                t0 = time.perf_counter()
                Z, _ = fit(lvl, m, base.C - 1, s, cfg["steps"])
                pt = probe_tasks(Z, lvl.orbits, "linear", n_tasks=cfg["n_tasks"], shots=shots, task_groups=lvl.classes, seed=s)
                rows.append({"method": m, "C": lvl.C, "seed": s, "invariance_ratio": geometry(Z, lvl.orbits)["invariance_ratio"],
                             **{f"error_n{n}": _few(pt, n) for n in shots},
                             **{f"seen_error_n{n}": _few(pt, n, "seen_orbit_error") for n in shots},
                             **{f"unseen_mass_n{n}": _few(pt, n, "unseen_mass") for n in shots}})
                log(f"coarseness {m} C={lvl.C} seed {s}: {time.perf_counter() - t0:.1f} s")
    return {"experiment": "coarseness", "mode": mode, "rows": rows, "shots": list(shots), "levels": [lvl.C for lvl in family],
            "W_n": {str(lvl.C): {str(n): worst_case_risk(lvl.orbit_mass, n) for n in shots} for lvl in family},
            "protocol": {"world": base.describe(), "dim": base.C - 1, "steps": cfg["steps"], "batch": 128, "seeds": list(cfg["seeds"]),
                         "probe": "affine logistic regression (C=1e3) on standardised Z, trained on n i.i.d. inputs (one draw per task)",
                         "tasks": f"{cfg['n_tasks']} random labellings of the 4 classes with 2 labels and {cfg['n_tasks']} with 4 labels"}}


# ------------------------------------------------------------------------------------------- heads
HEAD_METHODS = ("simclr", "cissl", "dino", "dissl")


def heads(mode: str = "full", digits: bool = True, log=print) -> Dict:
    """SimCLR vs CISSL and DINO vs DISSL at equal budget (Table 1, Sec. 4.1): the main world (d = C-1)
    with the oracle as reference, and the embedded digits with the image trainer."""
    from idealssl.synthetic.evaluate import geometry, ideal_log_loss, probe_tasks, run_check

    cfg = CONFIGS[mode]
    w = main_world()
    shots = (4, 16, 64)
    rows = []
    for m in ("oracle",) + HEAD_METHODS:
        for s in cfg["seeds"]:
            t0 = time.perf_counter()
            Z, res = fit(w, m, w.C - 1, s, cfg["steps"])
            pt = probe_tasks(Z, w.orbits, "linear", n_tasks=cfg["n_tasks"], shots=shots, seed=s)
            chk = run_check(Z, w.orbits, "linear") or {}
            rows.append({"method": m, "seed": s, "steps": cfg["steps"], "acc_binary": pt["full"]["2"]["mean_acc"],
                         "acc_5class": pt["full"]["5"]["mean_acc"], "frac_perfect_binary": pt["full"]["2"]["frac_perfect"],
                         **{f"error_n{n}": _few(pt, n) for n in shots}, "ideal_log_loss": ideal_log_loss(Z, w.orbits)["ideal_log_loss"],
                         **{k: v for k, v in geometry(Z, w.orbits).items() if isinstance(v, (int, float))},
                         "check_ideal": chk.get("ideal")})
            log(f"heads {m} seed {s}: {time.perf_counter() - t0:.1f} s")
    out = {"experiment": "heads", "mode": mode, "rows": rows, "shots": list(shots),
           "protocol": {"world": w.describe(), "dim": w.C - 1, "steps": cfg["steps"], "batch": 128, "seeds": list(cfg["seeds"]),
                        "hparams": {m: hparams(m) for m in HEAD_METHODS}, "probe": "affine logistic regression (C=1e3) on standardised Z",
                        "tasks": f"{cfg['n_tasks']} random binary and {cfg['n_tasks']} random 5-label labellings of the 16 orbits"}}
    if digits:
        out["digits"] = digits_runs(HEAD_METHODS, cfg["digits_seeds"], cfg["digits_epochs"], at_end=["linear", "knn", "fewshot"], log=log)
    return out


def digits_runs(methods: Sequence[str], seeds: Sequence[int], epochs: int, at_end: List[str], log=print,
                keep_dir: bool = False) -> List[Dict]:
    """Train each method on the embedded digits with the project's trainer (digits preset) and keep
    its evaluation (linear probe, k-NN, few-shot, anomaly as requested)."""
    import tempfile

    from idealssl.train.config import resolve
    from idealssl.train.loop import train

    rows = []
    for m in methods:
        for s in seeds:
            t0 = time.perf_counter()
            tmp = tempfile.mkdtemp(prefix=f"nb-{m}-")
            cfg = resolve(method=m, dataset="digits", flags={"seed": s, "out": tmp, "device": "cpu", "optim.epochs": epochs})
            cfg["eval"]["at_end"] = list(at_end)
            res = train(cfg, verbose=False)
            ev = res.get("eval", {})
            row = {"method": m, "seed": s, "epochs": epochs, "train_seconds": res.get("train_seconds"),
                   "linear": ev.get("linear", {}).get("top1"), "knn": ev.get("knn", {}).get("top1"),
                   "fewshot": ev.get("fewshot", {}).get("top1"), "fewshot_raw_pixels": ev.get("fewshot", {}).get("raw_pixels_top1")}
            for k in ("anomaly", "anomaly_likelihood"):
                if k in ev:
                    row[k] = {"auroc_mean": ev[k]["auroc_mean"], "auroc_per_class": ev[k]["auroc_per_class"], "score": ev[k]["score"],
                              "protocol": ev[k]["protocol"]}
            row["protocols"] = {k: ev[k].get("protocol") for k in ("linear", "knn", "fewshot") if k in ev and isinstance(ev[k], dict)}
            if keep_dir:
                row["_run_dir"] = tmp
            rows.append(row)
            log(f"digits {m} seed {s}: {time.perf_counter() - t0:.1f} s, linear {row['linear']}")
    return rows


# ------------------------------------------------------------------------------------------- dimension
def dimension(mode: str = "full", log=print) -> Dict:
    """Linear vs MLP probes as d grows (Fig. 7c; Theorem 1 and Sec. 5): the oracle, CISSL (linear
    student) and CISSL-MLP (MLP student, like the MLP probe) on the main world."""
    from idealssl.synthetic.evaluate import geometry, probe_tasks

    cfg = CONFIGS[mode]
    w = main_world()
    dims = (1, 2, 4, 8, 15, 30) if mode == "full" else (2, 15)
    steps = min(cfg["steps"], 600)
    variants = (("oracle", "oracle", {}), ("cissl", "cissl", {}), ("cissl-mlp", "cissl", {"probe": "mlp", "probe_n_hidden": 1}))
    rows = []
    for d in dims:
        for label, m, extra in variants:
            for s in cfg["seeds"]:
                t0 = time.perf_counter()
                Z, _ = fit(w, m, d, s, steps, hp=hparams(m, **extra))
                row = {"method": label, "dim": d, "seed": s, "affine_rank": geometry(Z, w.orbits)["affine_rank"],
                       "invariance_ratio": geometry(Z, w.orbits)["invariance_ratio"]}
                for p in ("linear", "mlp"):
                    pt = probe_tasks(Z, w.orbits, p, n_tasks=cfg["n_tasks"], n_labels=(2,), seed=s)
                    row[f"{p}_acc"] = pt["full"]["2"]["mean_acc"]
                    row[f"{p}_frac_perfect"] = pt["full"]["2"]["frac_perfect"]
                rows.append(row)
                log(f"dimension {label} d={d} seed {s}: {time.perf_counter() - t0:.1f} s")
    return {"experiment": "dimension", "mode": mode, "rows": rows, "dims": list(dims), "C": w.C,
            "protocol": {"world": w.describe(), "steps": steps, "batch": 128, "seeds": list(cfg["seeds"]),
                         "probes": "full world as training and test set; affine logistic regression (C=1e3) and an MLP "
                                   "(64 ReLU units, L-BFGS) on standardised Z",
                         "tasks": f"{cfg['n_tasks']} random binary labellings of the 16 orbits",
                         "variants": {v[0]: {"objective": v[1], **hparams(v[1], **v[2])} for v in variants}}}


# ------------------------------------------------------------------------------------------- loss vs accuracy
def loss_vs_accuracy(mode: str = "full", log=print) -> Dict:
    """Ideal ISSL log loss L_I vs linear-probe performance across models (Fig. 7b): CISSL and DISSL
    stopped at several budgets (same augmentations, same d = C-1) on the main world."""
    from idealssl.synthetic.evaluate import ideal_log_loss, probe_tasks

    cfg = CONFIGS[mode]
    w = main_world()
    budgets = (10, 30, 100, 300, 1000) if mode == "full" else (30, 300)
    rows = []
    for m in ("cissl", "dissl"):
        for steps in budgets:
            for s in cfg["seeds"]:
                t0 = time.perf_counter()
                Z, _ = fit(w, m, w.C - 1, s, steps)
                pt = probe_tasks(Z, w.orbits, "linear", n_tasks=cfg["n_tasks"], shots=(16,), seed=s)
                L = ideal_log_loss(Z, w.orbits)
                rows.append({"method": m, "steps": steps, "seed": s, "ideal_log_loss": L["ideal_log_loss"], "optimum": L["optimum"],
                             "acc_binary": pt["full"]["2"]["mean_acc"], "acc_5class": pt["full"]["5"]["mean_acc"],
                             "error_n16": _few(pt, 16)})
                log(f"loss_vs_accuracy {m} {steps} steps seed {s}: {time.perf_counter() - t0:.1f} s")
    return {"experiment": "loss_vs_accuracy", "mode": mode, "rows": rows, "budgets": list(budgets),
            "protocol": {"world": w.describe(), "dim": w.C - 1, "batch": 128, "seeds": list(cfg["seeds"]),
                         "L_I": "ideal ISSL log loss (Eq. 6): unit-norm z and class weights, temperature 1, true orbits",
                         "probe": "affine logistic regression (C=1e3) on standardised Z; 16-shot error and full-data accuracy",
                         "tasks": f"{cfg['n_tasks']} random binary and 5-label labellings of the 16 orbits"}}


# ------------------------------------------------------------------------------------------- VJE on digits
def vje_digits(mode: str = "full", log=print) -> Dict:
    """VJE on the embedded digits: learned per-feature uncertainty and one-class anomaly detection,
    with SimCLR's k-NN anomaly score as the baseline (the trainer's evaluation)."""
    import shutil

    cfg = CONFIGS[mode]
    runs = digits_runs(("vje", "simclr"), cfg["digits_seeds"], cfg["digits_epochs"], at_end=["linear", "knn", "anomaly"],
                       log=log, keep_dir=True)
    for r in runs:
        if r["method"] == "vje":
            r["uncertainty"] = vje_uncertainty(r["_run_dir"], seed=r["seed"])
        shutil.rmtree(r.pop("_run_dir"), ignore_errors=True)
    return {"experiment": "vje_digits", "mode": mode, "rows": runs,
            "protocol": {"dataset": "sklearn digits 8x8 (1,437 train / 360 test), digits preset of idealssl train",
                         "epochs": cfg["digits_epochs"], "seeds": list(cfg["digits_seeds"]),
                         "uncertainty": "posterior variances s_j^2 = exp(logvar_j) of q(z|h) on test images (8 augmented "
                                        "views each), against the per-feature variance across those views of the target "
                                        "direction u = h/||h||",
                         "anomaly": "the trainer's one-class protocol (pretraining on all classes; per class c, normal = c)"}}


def vje_uncertainty(run_dir: str, seed: int = 0, n_views: int = 8) -> Dict:
    """Per-feature posterior variance of a trained VJE and the empirical view-to-view variance of the
    target direction, on the test images; and the per-image mean log-variance for in-distribution
    test digits vs transformed (out-of-distribution) ones."""
    import torch

    from idealssl.data.datasets import load_dataset
    from idealssl.data.views import ViewGenerator
    from idealssl.models import build_encoder
    from idealssl.train import checkpoint as C
    from idealssl.train.loop import build_objective, view_config

    ck = C.load(C.resolve_checkpoint(run_dir))
    cfg = ck["cfg"]
    data = load_dataset(cfg["dataset"], cfg.get("data_dir"), cfg["data"])
    m = cfg["model"]
    bb = build_encoder(m["arch"], int(ck["in_channels"]), int(ck["image_size"]), m["expand_dim"], m["small_stem"], int(m["width"]))
    bb.load_state_dict(ck["backbone"])
    bb.eval()
    obj = build_objective(cfg, bb.dim)
    obj.load_state_dict({k[len("objective."):]: v for k, v in ck["model"].items() if k.startswith("objective.")})
    obj.eval()
    vcfg = view_config(cfg, data, int(getattr(obj, "n_global", 2)))
    views = ViewGenerator(vcfg, ck["mean"], ck["std"], torch.Generator().manual_seed(seed))
    x = torch.as_tensor(data.test_x)
    with torch.no_grad():
        U, LV = [], []
        for _ in range(n_views // 2):
            for v in views(x)[:2]:
                h = bb(v).float()
                U.append(torch.nn.functional.normalize(h, dim=1))
                LV.append(obj.posterior(h)[1])
        U, LV = torch.stack(U), torch.stack(LV)  # views x N x D
        emp_var = U.var(0).mean(0)  # per feature: variance across views, averaged over images
        post_var = LV.exp().mean((0, 1))
        per_image_lv = LV.mean((0, 2))
        plain = views.plain(x)
        ood = {"in-distribution (test digits)": plain, "vertically flipped": plain.flip(-2), "inverted intensities": -plain,
               "Gaussian noise": torch.randn_like(plain)}
        ood_lv = {k: obj.posterior(bb(v).float())[1].mean(1).numpy().tolist() for k, v in ood.items()}
    from scipy.stats import spearmanr

    rho, p = spearmanr(emp_var.numpy(), post_var.numpy())
    return {"posterior_var": post_var.numpy().tolist(), "empirical_view_var": emp_var.numpy().tolist(),
            "spearman": {"rho": float(rho), "p": float(p)}, "per_image_mean_logvar": per_image_lv.numpy().tolist(),
            "test_labels": data.test_y.tolist(), "ood_mean_logvar": ood_lv, "n_views": n_views}


def vje_one_class(mode: str = "full", methods=("vje", "simclr"), log=print) -> Dict:
    """The standard one-class protocol (v1 of the VJE paper: one-class CIFAR-10; here digits): for each
    class c, pretrain on the train images of class c only (``data.only_class=c``, batch 64, 60 epochs
    in full mode) and score every test image; AUROC of "not c". Scores: the trainer's k-NN distance
    (every method) and, for VJE, its negative ELBO."""
    import shutil
    import tempfile

    from idealssl.train.config import resolve
    from idealssl.train.loop import train

    seeds = (0, 1, 2) if mode == "full" else (0,)
    epochs = 60 if mode == "full" else 5
    classes = range(10) if mode == "full" else range(2)
    rows = []
    for m in methods:
        for s in seeds:
            for c in classes:
                t0 = time.perf_counter()
                tmp = tempfile.mkdtemp(prefix=f"nb-oc-{m}-")
                cfg = resolve(method=m, dataset="digits", flags={"seed": s, "out": tmp, "device": "cpu", "optim.epochs": epochs,
                                                                 "optim.batch_size": 64})
                cfg["data"]["only_class"] = c
                cfg["eval"]["at_end"] = ["anomaly"]
                ev = train(cfg, verbose=False).get("eval", {})
                row = {"method": m, "seed": s, "class": c}
                for k in ("anomaly", "anomaly_likelihood"):
                    if k in ev:
                        row[k] = ev[k]["auroc_per_class"][str(c)]
                        row[f"{k}_protocol"] = ev[k]["protocol"]
                rows.append(row)
                shutil.rmtree(tmp, ignore_errors=True)
                log(f"one-class {m} c={c} seed {s}: {time.perf_counter() - t0:.1f} s, " +
                    ", ".join(f"{k} {row[k]:.3f}" for k in ("anomaly", "anomaly_likelihood") if k in row))
    return {"experiment": "vje_one_class", "mode": mode, "rows": rows,
            "protocol": {"dataset": "sklearn digits 8x8; pretraining on the ~144 train images of class c only",
                         "epochs": epochs, "batch_size": 64, "seeds": list(seeds), "classes": list(classes),
                         "scores": "k-NN: mean cosine distance to the 5 nearest normal train features; VJE likelihood: negative ELBO "
                                   "(objective.score) with the heads fitted on class c"}}


EXPERIMENTS = {"coarseness": coarseness, "heads": heads, "dimension": dimension, "loss_vs_accuracy": loss_vs_accuracy,
               "vje_digits": vje_digits, "vje_one_class": vje_one_class}


def run(name: str, mode: str = "full", save: bool = True, log=print) -> Dict:
    """Run one experiment and (by default) record it as ``<results>/<name>.json``."""
    import torch

    torch.manual_seed(0)
    t0 = time.perf_counter()
    res = EXPERIMENTS[name](mode=mode, log=log)
    res["wall_seconds"] = round(time.perf_counter() - t0, 1)
    res["command"] = f"python -m notebooks.experiments {name} --mode {mode}"
    if save:
        p = nbutil.save_recorded(name, res)
        log(f"recorded {p}")
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m notebooks.experiments")
    ap.add_argument("names", nargs="+", choices=sorted(EXPERIMENTS))
    ap.add_argument("--mode", choices=("quick", "full"), default="full")
    args = ap.parse_args(argv)
    for n in args.names:
        run(n, args.mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
