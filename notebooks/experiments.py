"""The notebooks' own heavy experiments (image trainer on the digits, VJE), recorded under ``notebooks/results/``.

Run one (or all) from the repository root::

    python -m notebooks.experiments digits_heads vje_digits vje_one_class --mode full

The synthetic-world experiments the notebooks plot (coarseness, methods/heads, dimension, loss vs
accuracy) are NOT here: they are :mod:`idealssl.synthetic.experiments`, run by ``idealssl bench
synthetic`` and recorded in ``synthetic/results/<mode>/``; the notebooks read those files
(:func:`notebooks.nbutil.load_synthetic`). What stays here is what no other writer produces: the
digits runs of the image trainer (:mod:`idealssl.train`) for notebook 4 and VJE's uncertainty and
anomaly experiments for notebook 7, built from the library's public functions only.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

try:  # as a package module (python -m notebooks.experiments) or from the notebooks folder
    from . import nbutil
except ImportError:  # pragma: no cover
    import nbutil  # type: ignore

CONFIGS = {
    "quick": dict(digits_seeds=(0,), digits_epochs=10),
    "full": dict(digits_seeds=(0, 1), digits_epochs=60),
}

#: the head comparisons of the paper (Table 1), run on the digits in notebook 4
HEAD_METHODS = ("simclr", "cissl", "dino", "dissl")


# ------------------------------------------------------------------------------------------- heads on digits
def digits_heads(mode: str = "full", log=print) -> dict:
    """SimCLR vs CISSL and DINO vs DISSL on the embedded digits with the image trainer (Table 1, Sec. 4.1).
    The synthetic-world comparison is the ``methods`` experiment of ``idealssl bench synthetic``."""
    cfg = CONFIGS[mode]
    rows = digits_runs(
        HEAD_METHODS, cfg["digits_seeds"], cfg["digits_epochs"], at_end=["linear", "knn", "fewshot"], log=log
    )
    return {
        "experiment": "digits_heads",
        "mode": mode,
        "rows": rows,
        "protocol": {
            "dataset": "sklearn digits 8x8 (1,437 train / 360 test), digits preset of idealssl train",
            "methods": list(HEAD_METHODS),
            "epochs": cfg["digits_epochs"],
            "seeds": list(cfg["digits_seeds"]),
        },
    }


def digits_runs(
    methods: Sequence[str], seeds: Sequence[int], epochs: int, at_end: list[str], log=print, keep_dir: bool = False
) -> list[dict]:
    """Train each method on the embedded digits with the project's trainer (digits preset) and keep
    its evaluation (linear probe, k-NN, few-shot, anomaly as requested)."""
    import tempfile

    from idealssl.train.config import build
    from idealssl.train.loop import train

    rows = []
    for m in methods:
        for s in seeds:
            t0 = time.perf_counter()
            tmp = tempfile.mkdtemp(prefix=f"nb-{m}-")
            flags = {"seed": s, "out": tmp, "device": "cpu", "optim.epochs": epochs, "eval.at_end": list(at_end)}
            res = train(build(m, "digits", flags=flags).config, verbose=False)
            ev = res.get("eval", {})
            row = {
                "method": m,
                "seed": s,
                "epochs": epochs,
                "train_seconds": res.get("train_seconds"),
                "linear": ev.get("linear", {}).get("top1"),
                "knn": ev.get("knn", {}).get("top1"),
                "fewshot": ev.get("fewshot", {}).get("top1"),
                "fewshot_raw_pixels": ev.get("fewshot", {}).get("raw_pixels_top1"),
            }
            for k in ("anomaly", "anomaly_likelihood"):
                if k in ev:
                    row[k] = {
                        "auroc_mean": ev[k]["auroc_mean"],
                        "auroc_per_class": ev[k]["auroc_per_class"],
                        "score": ev[k]["score"],
                        "protocol": ev[k]["protocol"],
                    }
            row["protocols"] = {
                k: ev[k].get("protocol") for k in ("linear", "knn", "fewshot") if k in ev and isinstance(ev[k], dict)
            }
            if keep_dir:
                row["_run_dir"] = tmp
            rows.append(row)
            log(f"digits {m} seed {s}: {time.perf_counter() - t0:.1f} s, linear {row['linear']}")
    return rows


# ------------------------------------------------------------------------------------------- VJE on digits
def vje_digits(mode: str = "full", log=print) -> dict:
    """VJE on the embedded digits: learned per-feature uncertainty and one-class anomaly detection,
    with SimCLR's k-NN anomaly score as the baseline (the trainer's evaluation)."""
    import shutil

    cfg = CONFIGS[mode]
    runs = digits_runs(
        ("vje", "simclr"),
        cfg["digits_seeds"],
        cfg["digits_epochs"],
        at_end=["linear", "knn", "anomaly"],
        log=log,
        keep_dir=True,
    )
    for r in runs:
        if r["method"] == "vje":
            r["uncertainty"] = vje_uncertainty(r["_run_dir"], seed=r["seed"])
        shutil.rmtree(r.pop("_run_dir"), ignore_errors=True)
    return {
        "experiment": "vje_digits",
        "mode": mode,
        "rows": runs,
        "protocol": {
            "dataset": "sklearn digits 8x8 (1,437 train / 360 test), digits preset of idealssl train",
            "epochs": cfg["digits_epochs"],
            "seeds": list(cfg["digits_seeds"]),
            "uncertainty": "posterior variances s_j^2 = exp(logvar_j) of q(z|h) on test images (8 augmented "
            "views each), against the per-feature variance across those views of the target "
            "direction u = h/||h||",
            "anomaly": "the trainer's one-class protocol (pretraining on all classes; per class c, normal = c)",
        },
    }


def vje_uncertainty(run_dir: str, seed: int = 0, n_views: int = 8) -> dict:
    """Per-feature posterior variance of a trained VJE and the empirical view-to-view variance of the
    target direction, on the test images; and the per-image mean log-variance for in-distribution
    test digits vs transformed (out-of-distribution) ones."""
    import torch

    from idealssl.data.datasets import load_dataset
    from idealssl.data.views import ViewGenerator
    from idealssl.train import checkpoint as C
    from idealssl.train.config import from_run
    from idealssl.train.loop import build_objective, view_config
    from idealssl.train.model import backbone_from_checkpoint

    path = C.resolve_checkpoint(run_dir)
    ck = C.load(path)
    cfg = from_run(ck["cfg"], str(path))
    data = load_dataset(cfg.dataset, cfg.data_dir, cfg.data)
    bb = backbone_from_checkpoint(ck, path, cfg=cfg)
    bb.eval()
    obj = build_objective(cfg, bb.dim)
    obj.load_state_dict({k[len("objective.") :]: v for k, v in ck["model"].items() if k.startswith("objective.")})
    obj.eval()
    vcfg = view_config(cfg.views, data, int(getattr(obj, "n_global", 2)))
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
        ood = {
            "in-distribution (test digits)": plain,
            "vertically flipped": plain.flip(-2),
            "inverted intensities": -plain,
            "Gaussian noise": torch.randn_like(plain),
        }
        ood_lv = {k: obj.posterior(bb(v).float())[1].mean(1).numpy().tolist() for k, v in ood.items()}
    from scipy.stats import spearmanr

    rho, p = spearmanr(emp_var.numpy(), post_var.numpy())
    return {
        "posterior_var": post_var.numpy().tolist(),
        "empirical_view_var": emp_var.numpy().tolist(),
        "spearman": {"rho": float(rho), "p": float(p)},
        "per_image_mean_logvar": per_image_lv.numpy().tolist(),
        "test_labels": data.test_y.tolist(),
        "ood_mean_logvar": ood_lv,
        "n_views": n_views,
    }


def vje_one_class(mode: str = "full", methods=("vje", "simclr"), log=print) -> dict:
    """The standard one-class protocol (v1 of the VJE paper: one-class CIFAR-10; here digits): for each
    class c, pretrain on the train images of class c only (``data.only_class=c``, batch 64, 60 epochs
    in full mode) and score every test image; AUROC of "not c". Scores: the trainer's k-NN distance
    (every method) and, for VJE, its negative ELBO."""
    import shutil
    import tempfile

    from idealssl.train.config import build
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
                flags = {"seed": s, "out": tmp, "device": "cpu", "optim.epochs": epochs, "optim.batch_size": 64}
                flags.update({"data.only_class": c, "eval.at_end": ["anomaly"]})
                ev = train(build(m, "digits", flags=flags).config, verbose=False).get("eval", {})
                row = {"method": m, "seed": s, "class": c}
                for k in ("anomaly", "anomaly_likelihood"):
                    if k in ev:
                        row[k] = ev[k]["auroc_per_class"][str(c)]
                        row[f"{k}_protocol"] = ev[k]["protocol"]
                rows.append(row)
                shutil.rmtree(tmp, ignore_errors=True)
                log(
                    f"one-class {m} c={c} seed {s}: {time.perf_counter() - t0:.1f} s, "
                    + ", ".join(f"{k} {row[k]:.3f}" for k in ("anomaly", "anomaly_likelihood") if k in row)
                )
    return {
        "experiment": "vje_one_class",
        "mode": mode,
        "rows": rows,
        "protocol": {
            "dataset": "sklearn digits 8x8; pretraining on the ~144 train images of class c only",
            "epochs": epochs,
            "batch_size": 64,
            "seeds": list(seeds),
            "classes": list(classes),
            "scores": "k-NN: mean cosine distance to the 5 nearest normal train features; VJE likelihood: "
            "negative ELBO (objective.score) with the heads fitted on class c",
        },
    }


EXPERIMENTS = {"digits_heads": digits_heads, "vje_digits": vje_digits, "vje_one_class": vje_one_class}


def run(name: str, mode: str = "full", save: bool = True, log=print) -> dict:
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
