"""Evaluation protocols. Every function returns a dict whose ``protocol`` string says exactly what
was measured (features, split, hyperparameters and how they were chosen), because numbers quoted
across SSL projects differ mostly by hidden protocol details (compare solo-learn's and DINO's k-NN and
linear protocols).

* :func:`extract`: backbone features with the backbone in ``eval()`` mode (BatchNorm frozen),
  un-augmented images, no gradient.
* :func:`linear_probe`: multinomial logistic regression on standardised features, full-batch
  L-BFGS; the weight decay is chosen on a stratified validation split carved from train (never
  test), then the probe is refit on all of train and evaluated once on test.
* :func:`knn`: weighted k-NN (Wu et al. 2018; DINO's protocol): cosine similarity on L2-normalised
  features, the k nearest training samples vote with weight exp(sim / T).
* :func:`fewshot`: k labelled images per class, logistic regression (scikit-learn, C=1, standardised
  inputs) on the features and, with the same labels, on raw pixels.
* :func:`anomaly`: one-class detection: for each class c, the training images of c are "normal"; every
  test image is scored; AUROC of the score for "not c" over the whole test split, per class and mean.
  Score: mean cosine distance to the k nearest normal training features, or the objective's own
  likelihood score when it provides one (VJE).
* :func:`evaluate_model`: every end-of-training evaluation of a run (``eval.at_end``), including
  :func:`likelihood_anomaly` for objectives with a ``score``.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import metrics as monitors
from ..data.datasets import ImageSet, take
from ..data.views import ViewGenerator
from .defaults import RunConfig


@torch.no_grad()
def extract(
    backbone: torch.nn.Module, prep: Callable, x_uint8, device, batch_size: int = 512, autocast: bool = False
) -> torch.Tensor:
    """Features (N, d) of uint8 images (numpy, tensor, or :class:`~idealssl.data.datasets.FileImages`: decoded
    batch by batch, never all at once), backbone in eval mode; float32 on CPU."""
    was = backbone.training
    backbone.eval()
    out = []
    for i in range(0, len(x_uint8), batch_size):
        xb = prep(torch.as_tensor(x_uint8[i : i + batch_size]).to(device, non_blocking=True))
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=autocast):
            out.append(backbone(xb).float().cpu())
    backbone.train(was)
    return torch.cat(out) if out else torch.zeros(0)


def _standardise(fit: torch.Tensor, *others: torch.Tensor):
    mu, sd = fit.mean(0, keepdim=True), fit.std(0, keepdim=True).clamp_min(1e-6)
    return [(t - mu) / sd for t in (fit,) + others]


def _split_val(y: np.ndarray, fraction: float, seed: int):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    counts = np.bincount(y)
    strat = y if counts[counts > 0].min() >= 2 and int(round(fraction * len(y))) >= len(counts[counts > 0]) else None
    return train_test_split(idx, test_size=fraction, stratify=strat, random_state=seed)


def _fit_logreg(x: torch.Tensor, y: torch.Tensor, n_classes: int, wd: float, steps: int) -> torch.nn.Linear:
    """Minimise mean CE(Wx + b, y) + wd/2 ||W||^2 with full-batch L-BFGS (strong Wolfe)."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(x.shape[1], n_classes).double()
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    x, y = x.double(), y.long()
    opt = torch.optim.LBFGS(
        lin.parameters(),
        lr=1.0,
        max_iter=steps,
        history_size=20,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-7,
        tolerance_change=1e-10,
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(lin(x), y) + 0.5 * wd * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return lin


def _acc(lin, x, y, topk=1) -> float:
    with torch.no_grad():
        logits = lin(x.double())
        k = min(topk, logits.shape[1])
        return float((logits.topk(k, 1).indices == y.view(-1, 1)).any(1).double().mean())


def linear_probe(
    ftr: torch.Tensor,
    ytr,
    fte: torch.Tensor,
    yte,
    n_classes: int,
    wds: Sequence[float] = (0.0, 1e-5, 1e-4, 1e-3, 1e-2),
    steps: int = 300,
    val_fraction: float = 0.1,
    seed: int = 0,
    features: str = "backbone",
) -> dict:
    """Offline linear probe; weight decay chosen on a validation split carved from train."""
    ytr_np = np.asarray(ytr)
    ytr_t, yte_t = torch.as_tensor(ytr_np).long(), torch.as_tensor(np.asarray(yte)).long()
    fit_idx, val_idx = _split_val(ytr_np, val_fraction, seed)
    xf, xv = _standardise(ftr[fit_idx], ftr[val_idx])
    val_acc = {}
    for wd in wds:
        lin = _fit_logreg(xf, ytr_t[fit_idx], n_classes, float(wd), steps)
        val_acc[float(wd)] = _acc(lin, xv, ytr_t[val_idx])
    best = max(val_acc, key=lambda w: (val_acc[w], w))  # ties -> stronger regularisation
    xa, xt = _standardise(ftr, fte)
    lin = _fit_logreg(xa, ytr_t, n_classes, best, steps)
    res = {
        "top1": _acc(lin, xt, yte_t, 1),
        "train_top1": _acc(lin, xa, ytr_t, 1),
        "val_top1_by_wd": {str(k): v for k, v in val_acc.items()},
        "chosen_wd": best,
        "protocol": (
            f"offline linear probe: multinomial logistic regression on standardised {features} features "
            f"(backbone in eval mode, un-augmented images), full-batch L-BFGS ({steps} iterations); "
            f"weight decay chosen from {list(map(float, wds))} on a stratified {val_fraction:.0%} "
            f"validation split of train (seed {seed}), refit on all of train, evaluated once on test"
        ),
    }
    if n_classes > 5:
        res["top5"] = _acc(lin, xt, yte_t, 5)
    return res


@torch.no_grad()
def knn_predict(
    ftr: torch.Tensor, ytr: torch.Tensor, fte: torch.Tensor, n_classes: int, k: int, t: float, chunk: int = 1024
) -> torch.Tensor:
    """Class scores of a temperature-weighted cosine k-NN: sum over the k neighbours of exp(sim/T)."""
    a, b = F.normalize(ftr.float(), dim=1), F.normalize(fte.float(), dim=1)
    k = min(k, len(a))
    out = []
    for i in range(0, len(b), chunk):
        sim = b[i : i + chunk] @ a.T
        s, j = sim.topk(k, dim=1)
        w = torch.exp(s / t)
        scores = torch.zeros(len(s), n_classes).scatter_add_(1, ytr[j], w)
        out.append(scores)
    return torch.cat(out)


def knn(ftr, ytr, fte, yte, n_classes: int, k: int = 20, t: float = 0.07, features: str = "backbone") -> dict:
    """Top-1 of :func:`knn_predict` with its protocol. A ``k`` above the memory bank's size uses the whole bank:
    ``k`` records the number used, ``k_requested`` the one asked."""
    ytr_t, yte_t = torch.as_tensor(np.asarray(ytr)).long(), torch.as_tensor(np.asarray(yte)).long()
    used = min(int(k), len(ftr))
    scores = knn_predict(ftr, ytr_t, fte, n_classes, used, t)
    res = {
        "top1": float((scores.argmax(1) == yte_t).float().mean()),
        "k": used,
        "temperature": float(t),
        "distance": "cosine",
        "protocol": (
            f"k-NN: k={used}{' (every train image: k asked ' + str(k) + ')' if used < int(k) else ''}, T={t}, cosine "
            f"similarity on L2-normalised {features} features (eval mode, un-augmented), votes weighted by "
            f"exp(sim/T), memory bank = all of train, evaluated on test; k and T fixed in advance (not tuned)"
        ),
    }
    if used < int(k):
        res["k_requested"] = int(k)
    return res


def knn_axes(ks, ts) -> tuple[list[int], list[float]]:
    """``eval.knn_k`` and ``eval.knn_t`` (each a value or a list) as lists; the first of each is the setting
    reported as ``knn`` (and used by the online k-NN monitor)."""
    return (
        [int(k) for k in (ks if isinstance(ks, (list, tuple)) else [ks])],
        [float(t) for t in (ts if isinstance(ts, (list, tuple)) else [ts])],
    )


def knn_grid(ftr, ytr, fte, yte, n_classes: int, ks, ts) -> dict:
    """``{"knn": first setting}``, plus ``"knn_grid"`` (every (k, T) pair, each with its top-1) when ``eval.knn_k`` or
    ``eval.knn_t`` is a list. The grid is reported, not used to pick a number: ``knn`` stays the first setting."""
    ks, ts = knn_axes(ks, ts)
    runs = [knn(ftr, ytr, fte, yte, n_classes, k, t) for k in ks for t in ts]
    out: dict = {"knn": runs[0]}
    if len(runs) > 1:
        out["knn_grid"] = {
            "settings": [{"k": r["k"], "temperature": r["temperature"], "top1": r["top1"]} for r in runs],
            "protocol": f"k-NN as in 'knn' for every k in {ks} and T in {ts}, each on test; reported side by side, "
            "none chosen on test ('knn' is the first setting, fixed in advance)",
        }
    return out


def fewshot(
    ftr, ytr, fte, yte, raw_tr: np.ndarray, raw_te: np.ndarray, k: int = 10, trials: int = 5, seed: int = 0
) -> dict:
    """k labels per class: logistic regression on features vs on raw pixels, same labels, mean over trials."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ytr, yte = np.asarray(ytr), np.asarray(yte)
    ftr_np, fte_np = np.asarray(ftr, dtype=np.float64), np.asarray(fte, dtype=np.float64)
    rng = np.random.default_rng(seed)
    classes = np.unique(ytr[ytr >= 0])
    acc_f, acc_r = [], []
    for _ in range(trials):
        idx = np.concatenate(
            [rng.choice(np.flatnonzero(ytr == c), size=min(k, int((ytr == c).sum())), replace=False) for c in classes]
        )
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        clf.fit(ftr_np[idx], ytr[idx])
        acc_f.append(float((clf.predict(fte_np) == yte).mean()))
        # raw pixels: the k-per-class train images, then test in chunks (streamed images are decoded on access)
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        clf.fit(_pixels(raw_tr[idx]), ytr[idx])
        pred = np.concatenate([clf.predict(_pixels(raw_te[i : i + 2048])) for i in range(0, len(raw_te), 2048)])
        acc_r.append(float((pred == yte).mean()))
    return {
        "k_per_class": int(k),
        "trials": int(trials),
        "top1": float(np.mean(acc_f)),
        "top1_std": float(np.std(acc_f)),
        "raw_pixels_top1": float(np.mean(acc_r)),
        "raw_pixels_top1_std": float(np.std(acc_r)),
        "protocol": (
            f"few-shot: {k} labelled train images per class drawn at random ({trials} draws, seed {seed}); "
            f"logistic regression (scikit-learn, C=1, standardised inputs) on backbone features vs on raw "
            f"pixels with the same labels; accuracy on all of test, mean and std over draws"
        ),
    }


def _pixels(x) -> np.ndarray:
    """uint8 images (n, C, H, W) as rows of float64 pixels in [0, 1]."""
    x = np.asarray(x)
    return x.reshape(len(x), -1).astype(np.float64) / 255.0


@torch.no_grad()
def knn_distance_score(normal: torch.Tensor, test: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Mean cosine distance of each test feature to its k nearest normal training features."""
    a, b = F.normalize(normal.float(), dim=1), F.normalize(test.float(), dim=1)
    s = (b @ a.T).topk(min(k, len(a)), dim=1).values
    return (1 - s).mean(1)


def anomaly(
    ftr,
    ytr,
    fte,
    yte,
    k: int = 5,
    max_train: int = 5000,
    class_score_fn: Callable | None = None,
    score_name: str | None = None,
    seed: int = 0,
    classes: Sequence[int] | None = None,
) -> dict:
    """One-class anomaly detection per class (all classes, or ``classes``); AUROC (anomaly = positive) per class
    and mean.

    ``class_score_fn(normal_train_indices) -> test scores`` replaces the default k-NN distance score
    (used for likelihood scores that must be fitted on the normal class, e.g. VJE).
    """
    from sklearn.metrics import roc_auc_score

    ytr, yte = np.asarray(ytr), np.asarray(yte)
    rng = np.random.default_rng(seed)
    per = {}
    for c in np.unique(ytr[ytr >= 0]) if classes is None else classes:
        idx = np.flatnonzero(ytr == c)
        if len(idx) > max_train:
            idx = np.sort(rng.choice(idx, max_train, replace=False))
        if class_score_fn is not None:
            s = class_score_fn(idx)
        else:
            s = knn_distance_score(ftr[torch.as_tensor(idx)], fte, k)
        lab = (yte != c).astype(int)
        if 0 < lab.sum() < len(lab):
            per[str(int(c))] = float(roc_auc_score(lab, np.asarray(s, dtype=np.float64)))
    name = score_name or f"mean cosine distance to the {k} nearest normal training features"
    return {
        "auroc_mean": float(np.mean(list(per.values()))) if per else float("nan"),
        "auroc_per_class": per,
        "score": name,
        "protocol": (
            f"one-class anomaly detection: for each class c, the train images of c (at most {max_train}) "
            f"are normal; every test image is scored by {name}; AUROC for 'not c' over the whole test "
            f"split; mean over classes"
        ),
    }


# ------------------------------------------------------------------------------------------------ run level
def has_likelihood_score(objective) -> bool:
    """Objectives with a per-sample likelihood anomaly score (VJE's ``score(views)``)."""
    return callable(getattr(objective, "score", None))


def likelihood_anomaly(
    backbone,
    objective,
    data: ImageSet,
    views_fn: ViewGenerator,
    device,
    cfg: RunConfig,
    autocast: bool = False,
    classes=None,
) -> dict:
    """One-class anomaly detection with the objective's own likelihood score (VJE).

    For each class c, a copy of the pretrained objective (its heads: posterior and likelihood) is
    fitted on class c alone (``eval.anomaly_fit_steps`` Adam steps, lr ``eval.anomaly_fit_lr``, on
    the frozen backbone's features of two augmented views of c's train images), then every test
    image is scored by ``objective.score`` (negative ELBO, higher = more anomalous) on two
    augmented views; AUROC for "not c" over the whole test split. Views come from a generator
    seeded with the run's seed, so the evaluation is reproducible.
    """
    steps, lr = int(cfg.eval.anomaly_fit_steps), float(cfg.eval.anomaly_fit_lr)
    g = torch.Generator(device=device).manual_seed(int(cfg.seed) + 12345)
    aug = ViewGenerator(views_fn.cfg, views_fn.mean.flatten().tolist(), views_fn.std.flatten().tolist(), g)
    was = backbone.training
    backbone.eval()

    @torch.no_grad()
    def two_views(x):
        outs: list[list[torch.Tensor]] = [[], []]
        for i in range(0, len(x), 512):
            vs = aug(torch.as_tensor(x[i : i + 512]).to(device))[:2]
            for j in range(2):
                with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=autocast):
                    outs[j].append(backbone(vs[j]).float())
        return [torch.cat(o) for o in outs]

    tr, te = two_views(data.train_x), two_views(data.test_x)
    backbone.train(was)

    def fit_and_score(normal_idx: np.ndarray) -> torch.Tensor:
        obj = copy.deepcopy(objective).to(device).train()
        params = [p for p in obj.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=lr) if params else None
        gi = torch.Generator().manual_seed(int(cfg.seed))
        idx_all = torch.as_tensor(normal_idx)
        for _ in range(steps if opt is not None else 0):
            assert opt is not None
            idx = idx_all[torch.randperm(len(idx_all), generator=gi)[:256]].to(device)
            loss = obj([tr[0][idx], tr[1][idx]]).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        obj.eval()
        with torch.no_grad():
            return obj.score([te[0], te[1]], generator=torch.Generator(device=device).manual_seed(0)).float().cpu()

    res = anomaly(
        None,
        data.train_y,
        None,
        data.test_y,
        max_train=int(cfg.eval.anomaly_max_train),
        class_score_fn=fit_and_score,
        score_name=f"{cfg.method} negative ELBO (objective.score)",
        seed=int(cfg.seed),
        classes=classes,
    )
    res["protocol"] += (
        f"; the objective's heads are fitted on class c alone ({steps} Adam steps, lr {lr}) on the "
        f"frozen backbone's features of two augmented views, and test images are scored on two "
        f"augmented views"
    )
    return res


def eval_subset(data: ImageSet, max_images: int, seed: int) -> tuple[ImageSet, str]:
    """``data`` with at most ``max_images`` train and test images each (a seeded random subset; eval.max_images),
    and a line saying so ("" when nothing was dropped)."""
    if not max_images or (len(data.train_x) <= max_images and len(data.test_x) <= max_images):
        return data, ""
    rng = np.random.default_rng(seed + 7)
    itr = np.sort(rng.permutation(len(data.train_x))[:max_images])
    ite = np.sort(rng.permutation(len(data.test_x))[:max_images])
    small = dataclasses.replace(
        data,
        train_x=take(data.train_x, itr),
        train_y=data.train_y[itr],
        test_x=take(data.test_x, ite),
        test_y=data.test_y[ite],
        pretrain_x=None,
    )
    return small, (
        f"reduced evaluation (eval.max_images={max_images}): {len(itr)} of {len(data.train_x)} train and "
        f"{len(ite)} of {len(data.test_x)} test images, a seeded random subset; not a reportable number"
    )


def _anomalies(backbone, objective, data: ImageSet, views_fn, device, cfg: RunConfig, autocast: bool, ftr, fte) -> dict:
    """``anomaly`` (k-NN scores on features) and, for objectives with a likelihood, ``anomaly_likelihood``; each
    protocol says whether the encoder saw one class only (``data.only_class``) or every class."""
    ev = cfg.eval
    only = cfg.data.only_class
    classes = None if only is None else [int(only)]
    out = {
        "anomaly": anomaly(
            ftr,
            data.train_y,
            fte,
            data.test_y,
            int(ev.anomaly_k),
            int(ev.anomaly_max_train),
            seed=int(cfg.seed),
            classes=classes,
        )
    }
    if has_likelihood_score(objective):
        out["anomaly_likelihood"] = likelihood_anomaly(
            backbone, objective, data, views_fn, device, cfg, autocast, classes=classes
        )
    for key in out:
        out[key]["protocol"] += (
            f"; the encoder was pretrained on the train images of class {only} only (data.only_class={only}, "
            f"the standard one-class protocol)"
            if only is not None
            else "; the encoder was pretrained on all pretraining images (every class, no labels): only the "
            "detector is one-class (data.only_class=c gives the standard protocol)"
        )
    return out


class _Stages:
    """One line per evaluation stage on stderr, with the seconds since the evaluation began, so that a long
    evaluation (minutes for the linear probe on a shared CPU) is visibly working; silent unless ``verbose``."""

    def __init__(self, verbose: bool):
        self.verbose, self.t0 = verbose, time.time()

    def __call__(self, text: str) -> None:
        if self.verbose:
            print(f"{text} (+{time.time() - self.t0:.0f} s)", file=sys.stderr, flush=True)


def evaluate_model(
    backbone,
    objective,
    data: ImageSet,
    views_fn: ViewGenerator,
    device,
    cfg: RunConfig,
    probe: nn.Module | None = None,
    autocast: bool = False,
    verbose: bool = False,
    which: list[str] | None = None,
) -> dict:
    """All end-of-training evaluations (``eval.at_end`` or ``which``); each entry carries its protocol."""
    ev = cfg.eval
    which = list(which if which is not None else ev.at_end)
    bs = int(ev.batch_size)
    data, subset = eval_subset(data, int(ev.max_images or 0), int(cfg.seed))
    say = _Stages(verbose)
    stages = ", ".join(which) or "online probe only"
    say(f"evaluating ({stages}) on {len(data.train_x)} train / {len(data.test_x)} test images")
    ftr = extract(backbone, views_fn.plain, data.train_x, device, bs, autocast)
    fte = extract(backbone, views_fn.plain, data.test_x, device, bs, autocast)
    out: dict = {
        "features": f"backbone output (d={ftr.shape[1]}), eval mode, un-augmented images resized to "
        f"{views_fn.cfg.size}px, normalised with the dataset mean/std",
        "train_split": f"{len(ftr)} labelled train images",
        "test_split": f"{len(fte)} test images",
    }
    if subset:
        out["subset"] = subset
    yte = torch.as_tensor(data.test_y)
    if probe is not None:
        out["online_linear"] = _online_linear(probe, fte, yte, device, cfg.probe.lr)
    out.update(_feature_protocols(which, ftr, fte, data, cfg, say))
    if "anomaly" in which:
        say("eval: anomaly detection")
        out.update(_anomalies(backbone, objective, data, views_fn, device, cfg, autocast, ftr, fte))
    means = torch.stack([fte[yte == c].mean(0) for c in torch.unique(yte)])
    out["monitors"] = {
        "rankme_test": monitors.rankme(fte),
        "simplex_distance_class_means": monitors.simplex_distance(means),
        "protocol": "RankMe (Garrido et al. 2023) of test features; relative Frobenius distance of the "
        "test class means' normalised Gram matrix to a regular simplex's",
    }
    return out


def _online_linear(probe: nn.Module, fte: torch.Tensor, yte: torch.Tensor, device, lr: float) -> dict:
    """The online probe's top-1 on the test features."""
    with torch.no_grad():
        pred = probe(fte.to(device)).argmax(1).cpu()
    return {
        "top1": float((pred == yte).float().mean()),
        "protocol": "online linear probe: trained during pretraining on detached features of "
        "the first augmented global view (train-mode BatchNorm), same optimiser "
        f"(lr {lr}, constant), evaluated on test with eval-mode "
        "features of un-augmented images",
    }


def _feature_protocols(
    which: list[str], ftr: torch.Tensor, fte: torch.Tensor, data: ImageSet, cfg: RunConfig, say: _Stages
) -> dict:
    """The linear probe, k-NN and few-shot evaluations of ``which`` on the extracted features."""
    ev, out = cfg.eval, {}
    if "linear" in which:
        say(f"eval: linear probe ({len(ev.linear_wd)} weight decays x {ev.linear_steps} steps)")
        out["linear"] = linear_probe(
            ftr,
            data.train_y,
            fte,
            data.test_y,
            data.n_classes,
            ev.linear_wd,
            int(ev.linear_steps),
            float(cfg.data.val_fraction),
            int(cfg.seed),
        )
    if "knn" in which:
        say("eval: k-NN")
        out.update(knn_grid(ftr, data.train_y, fte, data.test_y, data.n_classes, ev.knn_k, ev.knn_t))
    if "fewshot" in which:
        say(f"eval: {ev.fewshot_k}-shot ({ev.fewshot_trials} trials)")
        out["fewshot"] = fewshot(
            ftr,
            data.train_y,
            fte,
            data.test_y,
            data.train_x,
            data.test_x,
            int(ev.fewshot_k),
            int(ev.fewshot_trials),
            int(cfg.seed),
        )
    return out
