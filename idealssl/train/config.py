"""Run configuration: defaults < dataset preset < preset's per-method section < --config file <
command-line flags < dotted overrides (``optim.lr=1e-3 views.strength=2``).

Presets live in ``idealssl/configs/<dataset>.yaml`` (package data). The resolved configuration is a
plain mapping (written to the run directory as ``config.yaml`` and stored in checkpoints); its typed,
validated form is :class:`RunConfig` (one dataclass per section), built and checked in one place by
:func:`validate`; what needs the registries of objectives and backbones is :func:`check_components`. Each source
is checked on its own before it is merged (:func:`check_file`: a --config file, a preset, a resumed run's
configuration), so that an error names it; a setting the command gives that the run would not use is refused
(:func:`_check_used`). Bad input is one :class:`~idealssl.errors.InputError` naming the key, the value and what is
allowed.

Batch size is global (summed over processes); the learning rate is scaled with the global batch by
``optim.lr_scaling``: ``linear`` (lr * B / ref_batch, Goyal et al. 2017), ``sqrt``
(lr * sqrt(B / ref_batch)) or ``none``. Because it depends on the global batch only, the same
command gives the same learning rate on 1 or N processes.
"""

from __future__ import annotations

import copy
import math
import re
import sys
import types
from dataclasses import asdict, dataclass, fields, is_dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from ..checker.report import MIN_TOL
from ..errors import InputError
from ..probes import PROBES
from .loggers import LOGGERS

#: the theory's prescriptions (:mod:`idealssl.train.theory_config`): probe family, derived or original settings
THEORY_DEFAULTS: dict[str, Any] = {"probe": "linear", "source": "derived", "enforce": True}
SOURCES = ("derived", "original")
#: the end-of-run check (:mod:`idealssl.train.orbit_sets`): M held-out images x V views, tolerance, probe family
CHECK_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "images": 50,
    "views": 4,
    "seed": 0,
    "tol": 1e-2,
    "probe": None,
    "orbits": "image",
}

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

DEFAULTS["theory"] = dict(THEORY_DEFAULTS)
DEFAULTS["check"] = dict(CHECK_DEFAULTS)

OPTIMIZERS = ("adamw", "adam", "sgd", "lars")
PRECISIONS = ("auto", "32", "bf16", "bf16-mixed", "16-mixed")  # bf16 = bf16-mixed
EVALS = ("linear", "knn", "fewshot", "anomaly")
PROGRESS = ("auto", "bar", "plain", "off")  # YAML's off/false is off, on/true is auto
ORBITS = ("image", "class")
#: every seed of a run (``seed``, ``data.fake_seed``, ``check.seed``): NumPy's legacy ``RandomState`` and
#: scikit-learn's ``random_state`` take 0 .. 2^32 - 1, torch 0 .. 2^64 - 1; the smaller range holds for all
SEED_MAX = 2**32 - 1
#: the largest side, in pixels, of a decoded image or a view (``data.image_size``, ``data.fake_size``,
#: ``views.size``, ``views.local_size``), and the largest convnet width (``model.width``)
MAX_SIDE = 4096
MAX_WIDTH = 4096
#: the largest +dim block (``model.expand_dim``), number of local crops (``views.n_local``), decoding workers per
#: process (``data.num_workers``) and views per image of the end-of-run check (``check.views``)
MAX_EXPAND_DIM = 65536
MAX_LOCAL_VIEWS = 64
MAX_WORKERS = 256
MAX_CHECK_VIEWS = 1024
#: the learning-rate and EMA schedules hold one value per step, computed before step 1
MAX_EPOCHS = 100_000
#: ``data.*`` settings that only some datasets read: a value other than the default on another dataset would be
#: recorded in config.yaml but not used, so it is refused (key: (the datasets that read it, a hint))
DATASET_ONLY: dict[str, tuple[tuple[str, ...], str]] = {
    "image_size": (("tinyimagenet", "imagenet", "folder"), "image files are resized to it; views.size sizes the views"),
    "max_images": (("imagenet", "folder"), "a cap on the image files held in memory"),
    "stl10_unlabeled": (("stl10",), ""),
    "unlabeled_dir": (("folder", "imagenet"), "stl10: data.stl10_unlabeled"),
    **{k: (("fake",), "") for k in ("fake_size", "fake_classes", "fake_images", "fake_channels", "fake_seed")},
}


def deep_update(base: dict, new: dict) -> dict:
    for k, v in (new or {}).items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}`` (every mapping descended, ``objective`` included)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def set_dotted(cfg: dict, key: str, value: Any) -> None:
    """``cfg[a][b][c] = value`` for ``key`` ``a.b.c`` (missing mappings made)."""
    *parts, leaf = key.split(".")
    node = cfg
    for p in parts:
        node = node.setdefault(p, {})
    node[leaf] = copy.deepcopy(value)


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
    value = _parse_value(val)
    if isinstance(node.get(leaf), dict):  # a whole section: merged key by key, as a config file's
        name = key.strip()
        if not isinstance(value, dict):
            raise InputError(f"{name} must be a mapping, got {value!r} (or set one key: {name}.KEY=VALUE)")
        if name != "objective":  # the objective's keys are its constructor's (check_components)
            check_mapping(value, f"override {name}", node[leaf], f"{name}.")
        deep_update(node[leaf], value)
        return
    node[leaf] = value


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


def check_mapping(d: dict, source: str, ref: dict | None = None, prefix: str = "") -> None:
    """The shape of a configuration mapping read from ``source`` (a file, a preset, an override): every key known
    (in ``ref``, default :data:`DEFAULTS`), a mapping wherever the configuration has a section, and a top-level
    ``methods`` of per-method mappings of the same shape. One :class:`InputError` naming ``source`` and the key."""
    top, ref = ref is None, DEFAULTS if ref is None else ref
    for k, v in d.items():
        key = f"{prefix}{k}"
        if k == "methods" and top:
            if not isinstance(v, dict):
                raise InputError(f"{source}: methods must be a mapping of method names to settings, got {v!r}")
            for m, sub in v.items():
                if not isinstance(sub, dict):
                    raise InputError(f"{source}: methods.{m} must be a mapping, got {sub!r}")
                check_mapping(sub, source, DEFAULTS, f"methods.{m}.")
            continue
        if k not in ref:
            raise InputError(f"{source}: unknown key {key!r}; known: {', '.join(sorted(ref))}")
        if isinstance(ref[k], dict):
            if not isinstance(v, dict):
                raise InputError(f"{source}: {key} must be a mapping, got {v!r}")
            if key != "objective":  # the objective's keys are its constructor's (check_components)
                check_mapping(v, source, ref[k], key + ".")


def check_file(d: dict, source: str, whole: bool = False) -> None:
    """A configuration read from ``source``, checked on its own so that an error names it: its shape
    (:func:`check_mapping`) and the type of every value (its own and each ``methods`` section's). With ``whole``
    (a run's ``config.yaml``, a checkpoint's configuration) every value's range as well (:func:`validate`)."""
    check_mapping(d, source)
    own = {k: v for k, v in d.items() if k != "methods"}
    for part in [own, *(d.get("methods") or {}).values()]:
        try:
            rc = _build(RunConfig, deep_update(copy.deepcopy(DEFAULTS), part), "")
            if whole:
                validate(rc)
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None


def resolve(
    method: str | None = None,
    dataset: str | None = None,
    config_file=None,
    flags: dict | None = None,
    overrides: list[str] | None = None,
    base: dict | None = None,
    base_source: str = "the resumed configuration",
) -> dict:
    """Resolve the full configuration (see module docstring for the order). With ``base`` (a resumed run's
    configuration, read from ``base_source``), ``base`` takes the place of the defaults and the preset. Every
    source is checked before it is merged (:func:`check_file`), the result once more (:func:`validate`)."""
    cfg = copy.deepcopy(DEFAULTS)
    user = load_yaml(config_file) if config_file else {}
    check_file(user, str(config_file))
    if base is not None:
        check_file(base, base_source, whole=True)
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
        check_mapping(pre, f"preset {dataset}")
        deep_update(cfg, pre)
        deep_update(cfg, methods.get(str(method).lower(), {}))
    umethods = (user.pop("methods", {}) or {}).get(str(method).lower(), {})
    deep_update(cfg, user)
    deep_update(cfg, umethods)
    cfg["method"], cfg["dataset"] = str(method).lower(), str(dataset).lower()
    epochs_before = cfg["optim"]["epochs"]
    for k, v in (flags or {}).items():
        if v is not None:
            set_dotted(cfg, k, v)
    for o in overrides or []:
        apply_override(cfg, o)
    given = _given(user, umethods, flags, overrides)
    _fit_warmup(cfg, epochs_before, given)
    progress = cfg["train"].get("progress")
    if isinstance(progress, bool):  # YAML reads a bare off / on as false / true
        cfg["train"]["progress"] = "auto" if progress else "off"
    validate(cfg)
    _check_used(cfg, given)
    return cfg


def _given(user: dict, umethods: dict, flags: dict | None, overrides: list[str] | None) -> set[str]:
    """The dotted keys this command sets itself (config file, flags, overrides), as opposed to the defaults', the
    preset's and a resumed run's."""
    keys = set(flatten({k: v for k, v in user.items() if k != "objective"})) | set(flatten(umethods))
    keys |= {k for k, v in (flags or {}).items() if v is not None}
    for o in overrides or []:
        key, _, text = str(o).partition("=")
        value = _parse_value(text)
        keys |= set(flatten(value, key.strip() + ".")) if isinstance(value, dict) else {key.strip()}
    return keys


def _check_used(cfg: dict, given: set[str]) -> None:
    """Refuse a setting this command gives that the run would record in config.yaml but not use: a dataset's own
    ``data.*`` key on another dataset (:data:`DATASET_ONLY`), ``model.width`` on a backbone other than the convnet,
    ``model.small_stem`` on the convnet. A preset's ``model.width`` (digits: the convnet's 32) goes back to the
    default when ``--arch`` picks another backbone, so that config.yaml holds no width that was not used."""
    dataset, m = str(cfg["dataset"]).lower(), cfg["model"]
    for key, (users, hint) in DATASET_ONLY.items():
        value = cfg["data"].get(key)
        if f"data.{key}" in given and dataset not in users and value != DEFAULTS["data"][key]:
            raise InputError(
                f"data.{key}={value!r} is not used by --dataset {dataset}: only {', '.join(users)} read it"
                + (f" ({hint})" if hint else "")
            )
    arch = str(m.get("arch")).lower()
    fixed = arch in ("resnet18", "resnet50") or arch.startswith("timm:")  # an unknown name: check_components
    if fixed and m.get("width") != DEFAULTS["model"]["width"]:
        if "model.width" in given:
            raise InputError(
                f"model.width={m.get('width')!r} is not used by model.arch={m.get('arch')}: it sets the convnet's "
                f"width (a ResNet's and a timm model's widths are their own)"
            )
        m["width"] = DEFAULTS["model"]["width"]
    if arch == "convnet" and m.get("small_stem") is not None and "model.small_stem" in given:
        raise InputError(
            f"model.small_stem={m.get('small_stem')!r} is not used by model.arch=convnet (it has no stem to choose; "
            f"the ResNets read it)"
        )


def _fit_warmup(cfg: dict, epochs_before: int, given: set[str]) -> None:
    """A run shortened below the preset's warmup (``--epochs 2`` on a 60-epoch preset with 5 warmup epochs) keeps
    the schedule's shape: the warmup is scaled by the same factor, and the command says so. A warmup the user set
    (config file, ``optim.warmup_epochs=...``) is never changed: a warmup longer than the run is refused by
    :func:`validate`."""
    o = cfg["optim"]
    set_by_user = "optim.warmup_epochs" in given
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
class TheoryConfig:
    """The theory's prescriptions (:mod:`idealssl.train.theory_config`)."""

    probe: str  #: the probe family the run is configured for (:data:`idealssl.probes.PROBES`)
    source: str  #: derived (apply the prescriptions) or original (the presets' settings; measured only)
    enforce: bool  #: refuse an explicit objective setting that contradicts a prescription


@dataclass
class CheckConfig:
    """The end-of-run check (:mod:`idealssl.train.orbit_sets`)."""

    enabled: bool
    images: int  #: M held-out test images
    views: int  #: V augmented views of each
    seed: int
    tol: Num  #: the checker's tolerance, in [MIN_TOL, 1) as ``idealssl check --tol``
    probe: str | None  #: null: theory.probe
    orbits: str  #: image (each image's views) or class (all views of a class)


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
    theory: TheoryConfig
    check: CheckConfig

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
        inner = _describe((get_args(tp) or (Any,))[0])
        return "a list of " + _PLURALS.get(inner, f"values ({inner})")
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false", type(None): "null"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


_PLURALS = {"a number": "numbers", "an integer": "integers", "a string": "strings", "true/false": "true/false"}


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
    for name in ("blur_p", "solarize_p"):  # one per global view (a scalar or one entry: every view)
        val = getattr(v, name)
        n = max(1, v.n_global)
        _need(
            not isinstance(val, list) or 1 <= len(val) <= n,
            f"views.{name}",
            f"a number or a list of 1 to {n} numbers (one per global view, views.n_global={v.n_global})",
            val,
        )
        for x in val if isinstance(val, list) else [val]:
            _check_range(f"views.{name}", x, 0, 1)
    _check_range("views.rotate", v.rotate, 0, 180)
    _check_range("views.strength", v.strength, 0, lo_open=True)
    _need(v.n_global >= 1, "views.n_global", "an integer >= 1", v.n_global)
    _need(0 <= v.n_local <= MAX_LOCAL_VIEWS, "views.n_local", f"an integer in [0, {MAX_LOCAL_VIEWS}]", v.n_local)
    for name in ("size", "local_size"):
        _check_side(f"views.{name}", getattr(v, name))


def _check_side(key: str, x: int | None) -> None:
    """An image or view side in pixels (null: the dataset's)."""
    _need(x is None or 1 <= x <= MAX_SIDE, key, f"an integer in [1, {MAX_SIDE}]", x)


def _check_seed(key: str, x: int) -> None:
    _need(0 <= x <= SEED_MAX, key, f"an integer in [0, {SEED_MAX}]", x)


def _validate_optim(o: OptimConfig) -> None:
    if str(o.name).lower() not in OPTIMIZERS:
        raise InputError(f"optim.name={o.name!r}; choose one of {', '.join(OPTIMIZERS)}")
    if o.batch_size < 2:
        raise InputError(f"optim.batch_size must be an integer >= 2, got {o.batch_size!r}")
    _need(1 <= o.epochs <= MAX_EPOCHS, "optim.epochs", f"an integer in [1, {MAX_EPOCHS}]", o.epochs)
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


def _validate_train(t: TrainOptions) -> None:
    if str(t.precision) not in PRECISIONS:
        raise InputError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {t.precision!r}")
    for name in ("log_every", "ckpt_every_epochs"):
        _need(getattr(t, name) >= 1, f"train.{name}", "an integer >= 1", getattr(t, name))
    _need(t.limit_steps is None or t.limit_steps >= 0, "train.limit_steps", "an integer >= 0", t.limit_steps)
    _need(t.limit_batches >= 0, "train.limit_batches", "an integer >= 0 (0: every batch)", t.limit_batches)
    _need(all(x in LOGGERS for x in t.loggers), "train.loggers", f"a list drawn from {', '.join(LOGGERS)}", t.loggers)
    _need(
        isinstance(t.progress, bool) or t.progress in PROGRESS,
        "train.progress",
        ", ".join(PROGRESS[:-1]) + f" or {PROGRESS[-1]}",
        t.progress,
    )


def _validate_data(d: DataConfig) -> None:
    f = d.fraction
    if not (_finite(f) and 0 < f <= 1):
        raise InputError(f"data.fraction must be in (0, 1], got {f!r}")
    _check_range("data.val_fraction", d.val_fraction, 0, 1, hi_open=True)
    workers = f"an integer in [0, {MAX_WORKERS}] (0: up to 8, one per core)"
    _need(0 <= d.num_workers <= MAX_WORKERS, "data.num_workers", workers, d.num_workers)
    _need(d.stream in (True, False, "auto"), "data.stream", "auto, true or false", d.stream)
    _check_range("data.memory_budget_gb", d.memory_budget_gb, 0, lo_open=True)
    _need(d.max_images >= 0, "data.max_images", "an integer >= 0 (0: all)", d.max_images)
    _check_side("data.image_size", d.image_size)
    _need(d.only_class is None or d.only_class >= 0, "data.only_class", "a class index >= 0", d.only_class)
    _check_side("data.fake_size", d.fake_size)
    _need(d.fake_classes >= 2, "data.fake_classes", "an integer >= 2 (the evaluations classify)", d.fake_classes)
    _need(d.fake_images >= 2, "data.fake_images", "an integer >= 2", d.fake_images)
    _need(
        d.fake_channels in (1, 3),
        "data.fake_channels",
        "1 or 3 (the views' colour jitter needs 1 or 3)",
        d.fake_channels,
    )
    _check_seed("data.fake_seed", d.fake_seed)


def _validate_model(m: ModelConfig) -> None:
    _need(1 <= m.width <= MAX_WIDTH, "model.width", f"an integer in [1, {MAX_WIDTH}]", m.width)
    _need(
        m.expand_dim is None or 1 <= m.expand_dim <= MAX_EXPAND_DIM,
        "model.expand_dim",
        f"null or an integer in [1, {MAX_EXPAND_DIM}]",
        m.expand_dim,
    )
    _need(m.channels_last in (True, False, "auto"), "model.channels_last", "auto, true or false", m.channels_last)


def _validate_check(c: CheckConfig) -> None:
    _need(c.images >= 2, "check.images", "an integer >= 2", c.images)
    _need(1 <= c.views <= MAX_CHECK_VIEWS, "check.views", f"an integer in [1, {MAX_CHECK_VIEWS}]", c.views)
    _check_seed("check.seed", c.seed)
    _need(_finite(c.tol) and MIN_TOL <= c.tol < 1, "check.tol", f"a number in [{MIN_TOL:g}, 1)", c.tol)
    _need(c.probe is None or c.probe in PROBES, "check.probe", f"null or one of {', '.join(PROBES)}", c.probe)
    _need(c.orbits in ORBITS, "check.orbits", f"one of {', '.join(ORBITS)}", c.orbits)


def check_settings(section: dict) -> dict[str, Any]:
    """The ``check`` section with its defaults, typed and validated (one :class:`InputError` naming the key)."""
    s = {**CHECK_DEFAULTS, **section}
    _validate_check(_build(CheckConfig, s, "check."))
    return s


def validate(cfg: dict | RunConfig) -> RunConfig:
    """All value checks of a resolved configuration, in one place; returns the typed configuration. What needs the
    objectives and backbones (torch) is :func:`check_components`."""
    if isinstance(cfg, dict):
        return RunConfig.from_dict(cfg)
    _validate_optim(cfg.optim)
    _validate_views(cfg.views)
    _validate_eval(cfg.eval)
    _validate_train(cfg.train)
    _validate_data(cfg.data)
    _validate_model(cfg.model)
    _validate_check(cfg.check)
    th = cfg.theory
    _need(th.probe in PROBES, "theory.probe", f"one of {', '.join(PROBES)}", th.probe)
    _need(th.source in SOURCES, "theory.source", f"one of {', '.join(SOURCES)}", th.source)
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", cfg.device):
        raise InputError(f"--device must be auto, cpu or cuda[:i], got {cfg.device!r}")
    _check_range("probe.lr", cfg.probe.lr, 0, lo_open=True)
    _check_seed("seed", cfg.seed)
    return cfg


def check_components(cfg: dict) -> None:
    """What :func:`validate` cannot see without the registries (imports torch): the method is registered; every
    ``objective.*`` key is a hyperparameter of it, of the type its constructor declares (a finite number where a
    number); ``views.n_global`` is the number of global views the objective takes; the objective's own range
    checks pass (it is built on the meta device: nothing is allocated); ``model.arch`` names a backbone that can be
    built (a timm model known to timm)."""
    from ..models.encoders import check_arch
    from ..objectives import available, build
    from ..objectives.base import _REGISTRY

    method = cfg["method"]
    if method not in available():
        raise InputError(f"unknown method {method!r}; available: {', '.join(available())}")
    cls = _REGISTRY[method]
    objective = dict(cfg.get("objective") or {})
    _check_hyperparameters(cls, objective)
    n_global = int(getattr(cls, "n_global", 2))
    if cfg["views"]["n_global"] != n_global:
        raise InputError(
            f"views.n_global={cfg['views']['n_global']}: {method} takes {n_global} global views (its loss is "
            f"defined on them); more views: views.n_local (multi-crop)"
        )
    import torch

    with torch.device("meta"):
        build(method, dim=8, **objective)
    m = cfg["model"]
    check_arch(m["arch"], m["small_stem"], m["expand_dim"])


def _check_hyperparameters(cls: Any, objective: dict) -> None:
    """``objective.*`` values of the types ``cls``'s constructor annotates (an int where a float is declared is a
    number), every number finite; an unknown key is left to :func:`idealssl.objectives.build` (it lists the known)."""
    try:
        hints = get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: the constructor alone checks
        hints = {}
    for k, v in objective.items():
        tp = hints.get(k, Any)
        tp = Union[tp, int] if tp is float or (get_origin(tp) in _UNIONS and float in get_args(tp)) else tp  # noqa: UP007
        if not _type_ok(v, tp):
            raise InputError(f"objective.{k} must be {_describe(tp)}, got {v!r}")
        if not _all_finite(v):
            raise InputError(f"objective.{k} must be a finite number, got {v!r}")


def _all_finite(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, (list, tuple)):
        return all(_all_finite(x) for x in v)
    if isinstance(v, dict):
        return all(_all_finite(x) for x in v.values())
    return True


def lr_for(cfg: dict) -> float:
    """Learning rate after the scaling rule (global batch vs ``optim.ref_batch``)."""
    o = cfg["optim"]
    r = o["batch_size"] / float(o["ref_batch"])
    return float(o["lr"]) * {"none": 1.0, "linear": r, "sqrt": r**0.5}[o["lr_scaling"]]
