"""Run configuration: defaults < dataset preset < preset's per-method section < --config file <
command-line flags < dotted overrides (``optim.lr=1e-3 views.strength=2``).

Presets live in ``idealssl/configs/<dataset>.yaml`` (package data). The resolved configuration is a
plain mapping (written to the run directory as ``config.yaml`` and stored in checkpoints); its typed,
validated form is :class:`RunConfig` (one dataclass per section), built and checked in one place by
:func:`validate`.

Batch size is global (summed over processes); the learning rate is scaled with the global batch by
``optim.lr_scaling``: ``linear`` (lr * B / ref_batch, Goyal et al. 2017), ``sqrt``
(lr * sqrt(B / ref_batch)) or ``none``. Because it depends on the global batch only, the same
command gives the same learning rate on 1 or N processes.
"""

from __future__ import annotations

import copy
import math
import sys
import types
from dataclasses import asdict, dataclass, fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from ..errors import InputError
from .orbit_sets import CHECK_DEFAULTS
from .theory_config import THEORY_DEFAULTS

DEFAULTS: dict[str, Any] = {
    "method": "dissl",
    "dataset": "digits",
    "data_dir": None,
    "seed": 0,
    "out": None,  # run directory; default runs/<dataset>-<method>/<timestamp>-s<seed>
    "device": "auto",
    "data": {
        "image_size": None,
        "stl10_unlabeled": True,
        "unlabeled_dir": None,  # folder/imagenet: a directory of unlabelled images added to pretraining
        "max_images": 0,
        "on_device": True,
        "val_fraction": 0.1,
        "fraction": 1.0,
        "only_class": None,
        "fake_size": 32,
        "fake_classes": 10,
        "fake_images": 1000,
        "fake_channels": 3,
        "fake_seed": 0,
        "num_workers": 0,  # threads decoding image files once, or DataLoader workers when streaming; 0: up to 8
        "stream": "auto",  # image files (folder, imagenet, tinyimagenet): decode per batch (true), once (false)
        "memory_budget_gb": 8.0,  # data.stream=auto streams when the decoded train + test set exceeds this
    },
    "model": {
        "arch": "resnet18",
        "expand_dim": None,
        "small_stem": None,
        "width": 64,
        "sync_bn": False,
        "channels_last": "auto",
        "compile": False,
    },
    "views": {
        "size": None,
        "n_global": 2,
        "scale": [0.2, 1.0],
        "ratio": [0.75, 1.3333333],
        "flip_p": 0.5,
        "rotate": 0.0,
        "jitter": [0.4, 0.4, 0.4, 0.1],
        "jitter_p": 0.8,
        "gray_p": 0.2,
        "blur_p": 0.0,
        "blur_sigma": [0.1, 2.0],
        "solarize_p": 0.0,
        "strength": 1.0,
        "n_local": 0,
        "local_size": None,
        "local_scale": [0.05, 0.2],
    },
    "objective": {},
    "optim": {
        "name": "adamw",
        "lr": 2e-3,
        "weight_decay": 1e-6,
        "momentum": 0.9,
        "batch_size": 256,
        "epochs": 100,
        "warmup_epochs": 10,
        "lr_scaling": "none",
        "ref_batch": 256,
        "grad_clip": 2.0,
    },
    "probe": {"online": True, "lr": 1e-3},
    "eval": {
        "at_end": ["linear", "knn", "fewshot", "anomaly"],
        "knn_k": 20,
        "knn_t": 0.07,
        "linear_wd": [0.0, 1e-5, 1e-4, 1e-3, 1e-2],
        "linear_steps": 300,
        "fewshot_k": 10,
        "fewshot_trials": 5,
        "anomaly_k": 5,
        "anomaly_max_train": 5000,
        "anomaly_fit_steps": 100,
        "anomaly_fit_lr": 1e-3,
        "batch_size": 512,
        "max_images": 0,
        "online_knn_every": 1,
        "online_knn_bank": 2000,
        "online_knn_queries": 500,
    },  # max_images: evaluate on at most this many train and test images each (0: all); online_knn_*: the k-NN
    # monitor every N epochs (0: off) with a fixed seeded bank of train images and queries from test
    "train": {
        "precision": "auto",
        "log_every": 10,
        "ckpt_every_epochs": 1,
        "progress": "auto",
        "limit_steps": 0,
        "keep_epoch_ckpts": False,
        "limit_batches": 0,  # at most this many steps per epoch (0: all)
        "loggers": ["jsonl"],  # jsonl (always), csv, tb, wandb (idealssl.train.loggers)
        "deterministic": False,  # torch.use_deterministic_algorithms, cuDNN benchmark off
    },
}

# the theory's prescriptions (train/theory_config.py) and the end-of-run check (train/orbit_sets.py)
DEFAULTS["theory"] = dict(THEORY_DEFAULTS)
DEFAULTS["check"] = dict(CHECK_DEFAULTS)

OPTIMIZERS = ("adamw", "adam", "sgd", "lars")
PRECISIONS = ("auto", "32", "bf16", "bf16-mixed", "16-mixed")  # bf16 = bf16-mixed
EVALS = ("linear", "knn", "fewshot", "anomaly")


def deep_update(base: dict, new: dict) -> dict:
    for k, v in (new or {}).items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def _parse_value(text: str):
    """A YAML value; a number YAML 1.1 reads as a string (``1e-3``, ``inf``) is a number."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def apply_override(cfg: dict, item: str) -> None:
    """Apply one ``a.b.c=value`` override (value parsed as YAML: numbers, lists, null, true)."""
    if "=" not in item:
        raise InputError(f"override {item!r} must look like section.key=value (e.g. optim.lr=1e-3)")
    key, val = item.split("=", 1)
    parts = key.strip().split(".")
    node = cfg
    for p in parts[:-1]:
        if p not in node or not isinstance(node[p], dict):
            if p == "objective" or node is cfg.get("objective"):
                node = node.setdefault(p, {})
                continue
            sections = ", ".join(k for k, v in cfg.items() if isinstance(v, dict))
            raise InputError(f"override {key!r}: unknown section {p!r}; sections: {sections}")
        node = node[p]
    leaf = parts[-1]
    if node is not cfg.get("objective") and leaf not in node:
        raise InputError(f"override {key!r}: unknown key {leaf!r}; known: {', '.join(sorted(node))}")
    node[leaf] = _parse_value(val)


def load_yaml(path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"config file {p} does not exist")
    try:
        d = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(d, dict):
        raise InputError(f"{p}: a config must be a mapping at top level")
    return d


def preset(dataset: str) -> dict:
    """The shipped preset for a dataset (empty when none)."""
    name = f"{dataset.lower()}.yaml"
    try:
        text = resources.files("idealssl.configs").joinpath(name).read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        return {}
    return yaml.safe_load(text) or {}


def list_presets() -> list[str]:
    try:
        return sorted(p.name[:-5] for p in resources.files("idealssl.configs").iterdir() if p.name.endswith(".yaml"))
    except ModuleNotFoundError:
        return []


def _check_keys(d: dict, ref: dict, where: str) -> None:
    for k, v in d.items():
        if k in ("objective", "methods"):
            continue
        if k not in ref:
            raise InputError(f"{where}: unknown key {k!r}; known: {', '.join(sorted(ref))}")
        if isinstance(v, dict) and isinstance(ref[k], dict):
            _check_keys(v, ref[k], f"{where}.{k}")


def resolve(
    method: str | None = None,
    dataset: str | None = None,
    config_file=None,
    flags: dict | None = None,
    overrides: list[str] | None = None,
    base: dict | None = None,
) -> dict:
    """Resolve the full configuration (see module docstring for the order). With ``base`` (a resumed run's
    configuration), ``base`` takes the place of the defaults and the preset."""
    cfg = copy.deepcopy(DEFAULTS)
    user = load_yaml(config_file) if config_file else {}
    if base is not None:
        deep_update(cfg, base)
        # per-session settings never carry over from the checkpoint: the machine, the stopping point, the display
        cfg["device"] = DEFAULTS["device"]
        cfg["train"].update(limit_steps=DEFAULTS["train"]["limit_steps"], progress=DEFAULTS["train"]["progress"])
    dataset = dataset or user.get("dataset") or cfg["dataset"]
    method = method or user.get("method") or cfg["method"]
    if base is None:
        pre = preset(dataset)
        methods = pre.pop("methods", {}) or {}
        pre.pop("timing", None)  # a recorded measurement, not a setting (idealssl.train.timing)
        _check_keys(pre, cfg, f"preset {dataset}")
        deep_update(cfg, pre)
        deep_update(cfg, methods.get(str(method).lower(), {}))
    umethods = user.pop("methods", {}) or {}
    _check_keys(user, cfg, str(config_file))
    deep_update(cfg, user)
    deep_update(cfg, umethods.get(str(method).lower(), {}))
    cfg["method"], cfg["dataset"] = str(method).lower(), str(dataset).lower()
    epochs_before = cfg["optim"]["epochs"]
    for k, v in (flags or {}).items():
        if v is None:
            continue
        node = cfg
        parts = k.split(".")
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = v
    for o in overrides or []:
        apply_override(cfg, o)
    _fit_warmup(cfg, epochs_before, user, flags, overrides)
    validate(cfg)
    return cfg


def _fit_warmup(cfg: dict, epochs_before: int, user: dict, flags: dict | None, overrides: list[str] | None) -> None:
    """A run shortened below the preset's warmup (``--epochs 2`` on a 60-epoch preset with 5 warmup epochs) keeps
    the schedule's shape: the warmup is scaled by the same factor, and the command says so. A warmup the user set
    (config file, ``optim.warmup_epochs=...``) is never changed: a warmup longer than the run is refused by
    :func:`validate`."""
    o = cfg["optim"]
    set_by_user = (
        "warmup_epochs" in (user.get("optim") or {})
        or any(str(x).split("=", 1)[0].strip() == "optim.warmup_epochs" for x in overrides or [])
        or (flags or {}).get("optim.warmup_epochs") is not None
    )
    epochs, warmup = o["epochs"], o["warmup_epochs"]
    if set_by_user or not isinstance(epochs, int) or not isinstance(warmup, (int, float)) or warmup <= epochs:
        return
    scaled = warmup * epochs / max(epochs_before, epochs, warmup) if epochs_before > epochs else float(epochs) / 2
    o["warmup_epochs"] = round(float(scaled), 4)
    print(
        f"note: optim.warmup_epochs={warmup:g} (preset) is longer than optim.epochs={epochs}; scaled with the run to "
        f"{o['warmup_epochs']:g} (set optim.warmup_epochs to choose)",
        file=sys.stderr,
    )


# ------------------------------------------------------------------------------------------------ typed config
Num = Union[int, float]  # noqa: UP007 - _type_ok and _describe read typing.Union aliases
Probs = Union[Num, list[Num]]  # noqa: UP007


@dataclass
class DataConfig:
    image_size: int | None
    stl10_unlabeled: bool
    max_images: int
    on_device: bool
    val_fraction: Num
    fraction: Num
    only_class: int | None
    fake_size: int
    fake_classes: int
    fake_images: int
    fake_channels: int
    fake_seed: int
    num_workers: int
    stream: bool | str
    memory_budget_gb: Num
    unlabeled_dir: str | None = None  # folder/imagenet: unlabelled images added to pretraining


@dataclass
class ModelConfig:
    arch: str
    expand_dim: int | None
    small_stem: bool | None
    width: int
    sync_bn: bool
    channels_last: bool | str
    compile: bool


@dataclass
class ViewsConfig:
    size: int | None
    n_global: int
    scale: list[Num]
    ratio: list[Num]
    flip_p: Num
    rotate: Num
    jitter: list[Num]
    jitter_p: Num
    gray_p: Num
    blur_p: Probs
    blur_sigma: list[Num]
    solarize_p: Probs
    strength: Num
    n_local: int
    local_size: int | None
    local_scale: list[Num]


@dataclass
class OptimConfig:
    name: str
    lr: Num
    weight_decay: Num
    momentum: Num
    batch_size: int
    epochs: int
    warmup_epochs: Num
    lr_scaling: str
    ref_batch: Num
    grad_clip: Num | None


@dataclass
class ProbeConfig:
    online: bool
    lr: Num


@dataclass
class EvalConfig:
    at_end: list[str]
    knn_k: int | list[int]  # a list: a grid, each setting reported (eval.knn_k=[10,20,200])
    knn_t: Num | list[Num]
    linear_wd: list[Num]
    linear_steps: int
    fewshot_k: int
    fewshot_trials: int
    anomaly_k: int
    anomaly_max_train: int
    anomaly_fit_steps: int
    anomaly_fit_lr: Num
    batch_size: int
    max_images: int
    online_knn_every: int = 1  # epochs between online k-NN monitors (0: off)
    online_knn_bank: int = 2000  # train images in its memory bank (a fixed seeded subset)
    online_knn_queries: int = 500  # test images it classifies (a fixed seeded subset)


@dataclass
class TrainOptions:
    precision: str | int
    log_every: int
    ckpt_every_epochs: int
    progress: str | bool  # YAML reads a bare off as false
    limit_steps: int | None
    keep_epoch_ckpts: bool
    limit_batches: int
    loggers: list[str]
    deterministic: bool


@dataclass
class RunConfig:
    """The resolved configuration, typed and validated (:meth:`from_dict`); :meth:`to_dict` gives back the
    plain mapping written to ``config.yaml`` and stored in checkpoints (same keys, same order, same values)."""

    method: str
    dataset: str
    data_dir: str | None
    seed: int
    out: str | None
    device: str
    data: DataConfig
    model: ModelConfig
    views: ViewsConfig
    objective: dict[str, Any]
    optim: OptimConfig
    probe: ProbeConfig
    eval: EvalConfig
    train: TrainOptions

    @classmethod
    def from_dict(cls, cfg: dict) -> RunConfig:
        """Type-check every entry against the dataclasses, then :func:`validate` the values; one
        :class:`InputError` naming the key otherwise."""
        rc = _build(cls, cfg, "")
        validate(rc)
        return rc

    def to_dict(self) -> dict:
        return asdict(self)


#: typing.Union[...] and the X | Y form (types.UnionType) of the annotations
_UNIONS = (Union, types.UnionType)


def _type_ok(value: Any, tp: Any) -> bool:
    origin = get_origin(tp)
    if tp is Any:
        return True
    if origin in _UNIONS:
        return any(_type_ok(value, t) for t in get_args(tp))
    if origin is list:
        (inner,) = get_args(tp) or (Any,)
        return isinstance(value, (list, tuple)) and all(_type_ok(v, inner) for v in value)
    if origin in (dict, dict):
        return isinstance(value, dict)
    if tp is type(None):
        return value is None
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, float)
    return isinstance(value, tp)


def _describe(tp: Any) -> str:
    if get_origin(tp) in _UNIONS and {int, float} <= set(get_args(tp)):
        rest = [t for t in get_args(tp) if t not in (int, float)]
        return " or ".join(["a number"] + [_describe(t) for t in rest])
    if get_origin(tp) in _UNIONS:
        return " or ".join(_describe(t) for t in get_args(tp))
    if get_origin(tp) is list:
        return f"a list of {_describe((get_args(tp) or (Any,))[0])}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false", type(None): "null"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _build(cls: Any, d: dict, where: str):
    hints = get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        key = f"{where}{f.name}"
        if f.name not in d:
            raise InputError(f"configuration: missing key {key!r}")
        v, tp = d[f.name], hints[f.name]
        if is_dataclass(tp):
            if not isinstance(v, dict):
                raise InputError(f"configuration: {key} must be a mapping, got {v!r}")
            kwargs[f.name] = _build(tp, v, key + ".")
            continue
        if not _type_ok(v, tp):
            raise InputError(f"{key} must be {_describe(tp)}, got {v!r}")
        kwargs[f.name] = v
    return cls(**kwargs)


def _need(ok: bool, key: str, what: str, value: Any) -> None:
    if not ok:
        raise InputError(f"{key} must be {what}, got {value!r}")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_range(
    key: str, x: Any, lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False
) -> None:
    ok = (
        _finite(x)
        and (lo is None or (x > lo if lo_open else x >= lo))
        and (hi is None or (x < hi if hi_open else x <= hi))
    )
    if not ok:
        lb = "" if lo is None else f"{'(' if lo_open else '['}{lo:g}"
        ub = "" if hi is None else f"{hi:g}{')' if hi_open else ']'}"
        what = (
            f"a finite number in {lb}, {ub}"
            if lo is not None and hi is not None
            else (f"a finite number {'>' if lo_open else '>='} {lo:g}" if lo is not None else "a finite number")
        )
        raise InputError(f"{key} must be {what}, got {x!r}")


def _check_pair(key: str, v: list[Num], n: int, lo: float, hi: float | None) -> None:
    _need(len(v) == n, key, f"a list of {n} numbers", v)
    for x in v:
        _check_range(key, x, lo, hi, lo_open=lo == 0 and n == 2)
    if n == 2:
        _need(v[0] <= v[1], key, "an increasing pair [low, high]", v)


def _validate_views(v: ViewsConfig) -> None:
    _check_pair("views.scale", v.scale, 2, 0, 1)
    _check_pair("views.local_scale", v.local_scale, 2, 0, 1)
    _check_pair("views.ratio", v.ratio, 2, 0, None)
    _check_pair("views.blur_sigma", v.blur_sigma, 2, 0, None)
    _need(
        len(v.jitter) == 4 and all(_finite(x) and x >= 0 for x in v.jitter),
        "views.jitter",
        "four numbers >= 0 (brightness, contrast, saturation, hue)",
        v.jitter,
    )
    for name in ("flip_p", "jitter_p", "gray_p"):
        _check_range(f"views.{name}", getattr(v, name), 0, 1)
    for name in ("blur_p", "solarize_p"):
        val = getattr(v, name)
        for x in val if isinstance(val, list) else [val]:
            _check_range(f"views.{name}", x, 0, 1)
    _check_range("views.rotate", v.rotate, 0, 180)
    _check_range("views.strength", v.strength, 0, lo_open=True)
    for name, lo in (("size", 1), ("local_size", 1), ("n_global", 1), ("n_local", 0)):
        val = getattr(v, name)
        _need(val is None or val >= lo, f"views.{name}", f"an integer >= {lo}", val)


def _validate_optim(o: OptimConfig) -> None:
    if str(o.name).lower() not in OPTIMIZERS:
        raise InputError(f"optim.name={o.name!r}; choose one of {', '.join(OPTIMIZERS)}")
    for key, lo in (("batch_size", 2), ("epochs", 1)):
        if getattr(o, key) < lo:
            raise InputError(f"optim.{key} must be an integer >= {lo}, got {getattr(o, key)!r}")
    if not (_finite(o.lr) and o.lr > 0):
        raise InputError(f"optim.lr must be a positive number, got {o.lr!r}")
    _check_range("optim.weight_decay", o.weight_decay, 0)
    _check_range("optim.momentum", o.momentum, 0, 1, hi_open=True)
    _check_range("optim.warmup_epochs", o.warmup_epochs, 0)
    if o.warmup_epochs > o.epochs:
        raise InputError(
            f"optim.epochs={o.epochs} is fewer than optim.warmup_epochs={o.warmup_epochs:g}: the learning "
            f"rate would never finish its warmup; lower optim.warmup_epochs or raise the epochs"
        )
    _check_range("optim.ref_batch", o.ref_batch, 0, lo_open=True)
    if o.grad_clip is not None:
        _check_range("optim.grad_clip", o.grad_clip, 0)
    if o.lr_scaling not in ("none", "linear", "sqrt"):
        raise InputError(f"optim.lr_scaling must be none, linear or sqrt, got {o.lr_scaling!r}")


def _validate_eval(e: EvalConfig) -> None:
    bad = [x for x in e.at_end if x not in EVALS]
    _need(not bad, "eval.at_end", f"a list drawn from {', '.join(EVALS)}", e.at_end)
    for k in e.knn_k if isinstance(e.knn_k, list) else [e.knn_k]:
        _need(k >= 1, "eval.knn_k", "an integer >= 1 or a non-empty list of them", e.knn_k)
    _need(e.knn_k != [] and e.knn_t != [], "eval.knn_k/knn_t", "a value or a non-empty list", [e.knn_k, e.knn_t])
    for t in e.knn_t if isinstance(e.knn_t, list) else [e.knn_t]:
        _check_range("eval.knn_t", t, 0, lo_open=True)
    for name in ("linear_steps", "fewshot_k", "fewshot_trials", "anomaly_k", "anomaly_max_train", "batch_size"):
        _need(getattr(e, name) >= 1, f"eval.{name}", "an integer >= 1", getattr(e, name))
    _need(e.max_images >= 0, "eval.max_images", "an integer >= 0 (0: all)", e.max_images)
    _need(e.online_knn_every >= 0, "eval.online_knn_every", "an integer >= 0 (0: off)", e.online_knn_every)
    for name in ("online_knn_bank", "online_knn_queries"):
        _need(getattr(e, name) >= 1, f"eval.{name}", "an integer >= 1", getattr(e, name))
    _need(e.anomaly_fit_steps >= 0, "eval.anomaly_fit_steps", "an integer >= 0", e.anomaly_fit_steps)
    _check_range("eval.anomaly_fit_lr", e.anomaly_fit_lr, 0, lo_open=True)
    _need(
        len(e.linear_wd) > 0 and all(_finite(x) and x >= 0 for x in e.linear_wd),
        "eval.linear_wd",
        "a non-empty list of numbers >= 0",
        e.linear_wd,
    )


def validate(cfg: dict | RunConfig) -> RunConfig:
    """All value checks of a resolved configuration, in one place; returns the typed configuration."""
    if isinstance(cfg, dict):
        return RunConfig.from_dict(cfg)
    t, d, m = cfg.train, cfg.data, cfg.model
    _validate_optim(cfg.optim)
    _validate_views(cfg.views)
    _validate_eval(cfg.eval)
    if str(t.precision) not in PRECISIONS:
        raise InputError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {t.precision!r}")
    for name in ("log_every", "ckpt_every_epochs"):
        _need(getattr(t, name) >= 1, f"train.{name}", "an integer >= 1", getattr(t, name))
    _need(t.limit_steps is None or t.limit_steps >= 0, "train.limit_steps", "an integer >= 0", t.limit_steps)
    _need(t.limit_batches >= 0, "train.limit_batches", "an integer >= 0 (0: every batch)", t.limit_batches)
    from .loggers import LOGGERS

    _need(all(x in LOGGERS for x in t.loggers), "train.loggers", f"a list drawn from {', '.join(LOGGERS)}", t.loggers)
    if cfg.device not in ("auto", "cpu", "cuda") and not str(cfg.device).startswith("cuda:"):
        raise InputError(f"--device must be auto, cpu or cuda[:i], got {cfg.device!r}")
    f = d.fraction
    if not (_finite(f) and 0 < f <= 1):
        raise InputError(f"data.fraction must be in (0, 1], got {f!r}")
    _check_range("data.val_fraction", d.val_fraction, 0, 1, hi_open=True)
    _need(d.num_workers >= 0, "data.num_workers", "an integer >= 0 (0: up to 8, one per core)", d.num_workers)
    _need(d.stream in (True, False, "auto"), "data.stream", "auto, true or false", d.stream)
    _check_range("data.memory_budget_gb", d.memory_budget_gb, 0, lo_open=True)
    _need(d.max_images >= 0, "data.max_images", "an integer >= 0 (0: all)", d.max_images)
    _need(d.image_size is None or d.image_size >= 1, "data.image_size", "an integer >= 1", d.image_size)
    _need(d.only_class is None or d.only_class >= 0, "data.only_class", "a class index >= 0", d.only_class)
    if d.unlabeled_dir:
        _need(
            cfg.dataset in ("folder", "imagenet"),
            "data.unlabeled_dir",
            "used with --dataset folder or imagenet only (stl10: data.stl10_unlabeled)",
            d.unlabeled_dir,
        )
    _need(m.width >= 1, "model.width", "an integer >= 1", m.width)
    _need(m.expand_dim is None or m.expand_dim >= 1, "model.expand_dim", "an integer >= 1", m.expand_dim)
    _check_range("probe.lr", cfg.probe.lr, 0, lo_open=True)
    _check_range("seed", cfg.seed, 0)
    return cfg


def lr_for(cfg: dict) -> float:
    """Learning rate after the scaling rule (global batch vs ``optim.ref_batch``)."""
    o = cfg["optim"]
    r = o["batch_size"] / float(o["ref_batch"])
    return float(o["lr"]) * {"none": 1.0, "linear": r, "sqrt": r**0.5}[o["lr_scaling"]]
