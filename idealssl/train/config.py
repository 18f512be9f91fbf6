"""Building the run configuration: defaults < dataset preset < preset's per-method section < --config file <
command-line flags < dotted overrides (``optim.lr=1e-3 views.strength=2``).

The defaults and the typed sections are :mod:`idealssl.train.defaults`; presets live in
``idealssl/configs/<dataset>.yaml`` (package data). :func:`build` merges the sources, each checked on its own before
it is merged (:func:`check_file`: a --config file, a preset, a resumed run's configuration) so that an error names
it, types the result once (:class:`~idealssl.train.defaults.RunConfig`) and validates it once (:func:`validate`,
ranges included); a setting the command gives that the run would not use is refused (:func:`_check_used`). What
needs the registries of objectives and backbones is :func:`check_components`. Bad input is one
:class:`~idealssl.errors.InputError` naming the key, the value and what is allowed.

Dotted keys (``optim.lr``) name a setting wherever one is read or changed: :func:`get_dotted`, :func:`set_dotted`
(a mapping being merged), :func:`with_values` (a typed configuration), :func:`flatten`.

Batch size is global (summed over processes); the learning rate is scaled with the global batch by
``optim.lr_scaling`` (:attr:`~idealssl.train.defaults.OptimConfig.scaled_lr`): ``linear`` (lr * B / ref_batch,
Goyal et al. 2017), ``sqrt`` (lr * sqrt(B / ref_batch)) or ``none``. Because it depends on the global batch only, the
same command gives the same learning rate on 1 or N processes.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from ..checker.report import MIN_TOL
from ..data.datasets import MAX_SIDE, check_fake
from ..errors import InputError
from ..probes import PROBES
from .defaults import (
    CheckConfig,
    DataConfig,
    EvalConfig,
    ModelConfig,
    Num,
    OptimConfig,
    RunConfig,
    TrainOptions,
    ViewsConfig,
)
from .features import FEATURES, projector_of
from .loggers import LOGGERS
from .presets import preset

#: the built-in defaults as a mapping: the keys every source may set (:func:`check_mapping`)
DEFAULTS: dict[str, Any] = RunConfig().to_dict()
SOURCES = ("derived", "original")
OPTIMIZERS = ("adamw", "adam", "sgd", "lars")
PRECISIONS = ("auto", "32", "bf16", "bf16-mixed", "16-mixed")  # bf16 = bf16-mixed
EVALS = ("linear", "knn", "fewshot", "anomaly")
PROGRESS = ("auto", "bar", "plain", "off")  # YAML's off/false is off, on/true is auto
ORBITS = ("image", "class")
#: every seed of a run (``seed``, ``data.fake_seed``, ``check.seed``): NumPy's legacy ``RandomState`` and
#: scikit-learn's ``random_state`` take 0 .. 2^32 - 1, torch 0 .. 2^64 - 1; the smaller range holds for all
SEED_MAX = 2**32 - 1
#: the largest convnet width (``model.width``); the largest image or view side is data's ``MAX_SIDE``
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
    "test_fraction": (("folder",), "the test split held out of a plain ImageFolder root"),
    "split_seed": (("folder",), "the seed of a plain ImageFolder root's split"),
    "stl10_unlabeled": (("stl10",), ""),
    "unlabeled_dir": (("folder", "imagenet"), "stl10: data.stl10_unlabeled"),
    **{k: (("fake",), "") for k in ("fake_size", "fake_classes", "fake_images", "fake_channels", "fake_seed")},
}
#: the flags of ``idealssl train`` that set one key each (the flag's name, dashes as underscores -> dotted key);
#: also the short keywords of :func:`idealssl.train`
FLAG_KEYS: dict[str, str] = {
    "data_dir": "data_dir",
    "out": "out",
    "seed": "seed",
    "epochs": "optim.epochs",
    "batch_size": "optim.batch_size",
    "lr": "optim.lr",
    "arch": "model.arch",
    "strength": "views.strength",
    "device": "device",
    "precision": "train.precision",
    "compile": "model.compile",
    "limit_batches": "train.limit_batches",
    "data_fraction": "data.fraction",
    "deterministic": "train.deterministic",
    "num_workers": "data.num_workers",
    "probe": "theory.probe",
    "config_source": "theory.source",
}
#: per-session settings: a resumed run's value never carries over (the machine, the run directory, the stopping
#: point, the display); the command's, or the default
SESSION_KEYS = ("device", "out", "train.limit_steps", "train.progress")
#: what --fast-dev-run sets (after every other setting): a seconds-long run through every stage
FAST_DEV_RUN: dict[str, Any] = {
    "optim.epochs": 1,
    "optim.warmup_epochs": 0,
    "train.limit_batches": 3,
    "train.limit_steps": 0,
    "train.log_every": 1,
    "train.ckpt_every_epochs": 1,
    "eval.max_images": 200,
    "eval.linear_steps": 20,
    "eval.fewshot_trials": 1,
    "eval.anomaly_max_train": 100,
    "eval.anomaly_fit_steps": 2,
    "eval.online_knn_bank": 128,
    "eval.online_knn_queries": 64,
    "check.images": 16,
    "check.views": 2,
    "train.threads": 1,
}

T = TypeVar("T")


# ------------------------------------------------------------------------------------------------ dotted keys
def deep_update(base: dict, new: Mapping | None) -> dict:
    """Merge ``new`` into ``base`` key by key (mappings recursively, every value copied); returns ``base``."""
    for k, v in (new or {}).items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_update(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


def flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}`` (every mapping descended, ``objective`` included)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


_MISSING = object()


def get_dotted(node: Any, key: str, default: Any = None) -> Any:
    """The setting ``key`` (``a.b.c``) of a typed configuration or of a mapping; ``default`` when there is none."""
    for part in key.split("."):
        if is_dataclass(node) and not isinstance(node, type):
            node = getattr(node, part, _MISSING)
        elif isinstance(node, Mapping):
            node = node.get(part, _MISSING)
        else:
            return default
        if node is _MISSING:
            return default
    return node


def set_dotted(tree: dict, key: str, value: Any) -> None:
    """``tree[a][b][c] = value`` for ``key`` ``a.b.c`` in a mapping being merged (missing mappings made)."""
    *parts, leaf = key.split(".")
    node = tree
    for p in parts:
        node = node.setdefault(p, {})
    node[leaf] = copy.deepcopy(value)


def with_values(config: T, values: Mapping[str, Any]) -> T:
    """A copy of a typed configuration with the settings ``values`` (dotted key -> value) replaced; not validated
    (the caller validates what it did not take from a validated configuration)."""
    for key, value in values.items():
        config = _replaced(config, key.split("."), value)
    return config


def _replaced(node: Any, parts: list[str], value: Any) -> Any:
    head, rest = parts[0], parts[1:]
    if is_dataclass(node) and not isinstance(node, type):
        if head not in {f.name for f in fields(node)}:
            raise KeyError(head)
        new = _replaced(getattr(node, head), rest, value) if rest else copy.deepcopy(value)
        return dataclasses.replace(node, **{head: new})
    if isinstance(node, Mapping):  # the objective's hyperparameters
        sub = _replaced(node.get(head, {}), rest, value) if rest else copy.deepcopy(value)
        return {**node, head: sub}
    raise KeyError(head)


# ------------------------------------------------------------------------------------------------ sources
def _parse_value(text: str) -> Any:
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


def apply_override(tree: dict, item: str) -> None:
    """Apply one ``a.b.c=value`` override to a mapping being merged (value parsed as YAML: numbers, lists, null,
    true); an unknown section or key is refused, naming the known ones."""
    if "=" not in item:
        raise InputError(f"override {item!r} must look like section.key=value (e.g. optim.lr=1e-3)")
    key, val = item.split("=", 1)
    name = key.strip()
    node, leaf = _override_parent(tree, name)
    value = _parse_value(val)
    if isinstance(node.get(leaf), dict):  # a whole section: merged key by key, as a config file's
        if not isinstance(value, dict):
            raise InputError(f"{name} must be a mapping, got {value!r} (or set one key: {name}.KEY=VALUE)")
        if name != "objective":  # the objective's keys are its constructor's (check_components)
            check_mapping(value, f"override {name}", node[leaf], f"{name}.")
        deep_update(node[leaf], value)
        return
    node[leaf] = value


def _override_parent(tree: dict, key: str) -> tuple[dict, str]:
    """The mapping holding ``key``'s last part, and that part; ``objective.*`` keys are the objective's own."""
    parts = key.split(".")
    objective = tree.get("objective")
    node = tree
    for p in parts[:-1]:
        if p not in node or not isinstance(node[p], dict):
            if p == "objective" or node is objective:
                node = node.setdefault(p, {})
                continue
            sections = ", ".join(k for k, v in tree.items() if isinstance(v, dict))
            raise InputError(f"override {key!r}: unknown section {p!r}; sections: {sections}")
        node = node[p]
    leaf = parts[-1]
    if node is not objective and leaf not in node:
        raise InputError(f"override {key!r}: unknown key {leaf!r}; known: {', '.join(sorted(node))}")
    return node, leaf


def load_yaml(path: str | os.PathLike) -> dict:
    """A YAML configuration file, which must hold a mapping (one :class:`InputError` naming the file otherwise)."""
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


def check_mapping(d: Mapping, source: str, ref: Mapping | None = None, prefix: str = "") -> None:
    """The shape of a configuration mapping read from ``source`` (a file, a preset, an override): every key known
    (in ``ref``, default :data:`DEFAULTS`), a mapping wherever the configuration has a section, and a top-level
    ``methods`` of per-method mappings of the same shape. One :class:`InputError` naming ``source`` and the key."""
    root = ref is None
    known: Mapping = DEFAULTS if ref is None else ref
    for k, v in d.items():
        key = f"{prefix}{k}"
        if k == "methods" and root:
            _check_methods(v, source)
            continue
        if k not in known:
            raise InputError(f"{source}: unknown key {key!r}; known: {', '.join(sorted(known))}")
        if isinstance(known[k], dict):
            if not isinstance(v, dict):
                raise InputError(f"{source}: {key} must be a mapping, got {v!r}")
            if not (known is DEFAULTS and k == "objective"):  # the objective's keys are its constructor's
                check_mapping(v, source, known[k], key + ".")


def _check_methods(v: Any, source: str) -> None:
    if not isinstance(v, dict):
        raise InputError(f"{source}: methods must be a mapping of method names to settings, got {v!r}")
    for m, sub in v.items():
        if not isinstance(sub, dict):
            raise InputError(f"{source}: methods.{m} must be a mapping, got {sub!r}")
        check_mapping(sub, source, DEFAULTS, f"methods.{m}.")


def check_file(d: Mapping, source: str, whole: bool = False) -> RunConfig:
    """A configuration read from ``source``, checked on its own so that an error names it: its shape
    (:func:`check_mapping`) and the type of every value (its own and each ``methods`` section's). With ``whole``
    (a run's ``config.yaml``, a checkpoint's configuration) every value's range as well (:func:`validate`).
    Returns its own settings over the defaults, typed."""
    check_mapping(d, source)
    own = {k: v for k, v in d.items() if k != "methods"}
    typed_own = None
    for part in [own, *(d.get("methods") or {}).values()]:
        try:
            rc = _build(RunConfig, deep_update(copy.deepcopy(DEFAULTS), part), "")
            if whole:
                validate(rc)
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None
        if typed_own is None:
            typed_own = rc
    assert typed_own is not None
    return typed_own


def from_run(recorded: Any, source: str) -> RunConfig:
    """A run's recorded configuration (a checkpoint's, a run directory's ``config.yaml``), checked whole and named
    in any error (:func:`check_file`); keys added to the configuration since the run was written take their
    defaults."""
    if not isinstance(recorded, dict):
        raise InputError(f"{source}: the run's configuration is not a mapping")
    return check_file(recorded, source, whole=True)


# ------------------------------------------------------------------------------------------------ building
class Resolved(NamedTuple):
    """What :func:`build` returns: the configuration, and the dotted keys the command set itself (its --config
    file, flags and overrides, as opposed to the defaults', the preset's and a resumed run's)."""

    config: RunConfig
    given: tuple[str, ...]


def build(
    method: str | None = None,
    dataset: str | None = None,
    config_file: str | os.PathLike | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: Sequence[str] | None = None,
    base: RunConfig | None = None,
) -> Resolved:
    """The run configuration, built once from its sources (see the module docstring for the order), typed and
    validated once.

    Parameters
    ----------
    method, dataset : str, optional
        ``--method`` and ``--dataset`` (default: the --config file's, the base's, the defaults').
    config_file : path, optional
        A ``--config`` YAML file (its own settings and a ``methods:`` section per method).
    flags : mapping, optional
        Dotted key -> value of the command's flags (None: not given).
    overrides : list of str, optional
        ``section.key=value`` overrides (values parsed as YAML).
    base : RunConfig, optional
        A resumed run's configuration (:func:`from_run`): it takes the place of the defaults and the preset, but
        its per-session settings (:data:`SESSION_KEYS`) do not carry over.
    """
    tree, given, epochs_before = _merge(method, dataset, config_file, flags, overrides, base)
    rc = _build(RunConfig, tree, "")
    rc = _fit_warmup(rc, epochs_before, given)
    progress = rc.train.progress
    if isinstance(progress, bool):  # YAML reads a bare off / on as false / true
        rc = with_values(rc, {"train.progress": "auto" if progress else "off"})
    validate(rc)
    return Resolved(_check_used(rc, given), given)


@dataclasses.dataclass
class Command:
    """What the command line of ``idealssl train`` gives the configuration (:func:`for_command`).

    Attributes
    ----------
    method, dataset, config_file : str or None
        ``--method``, ``--dataset``, ``--config``.
    flags : dict
        The flags' settings by dotted key (None: not given).
    overrides : list of str
        ``section.key=value`` overrides.
    out : str or None
        ``--out``: per session, never read from a --config file or a resumed run.
    fast_dev_run : bool
    devices : int or None
        ``--devices``.
    """

    method: str | None = None
    dataset: str | None = None
    config_file: str | None = None
    flags: dict[str, Any] = dataclasses.field(default_factory=dict)
    overrides: list[str] = dataclasses.field(default_factory=list)
    out: str | None = None
    fast_dev_run: bool = False
    devices: int | None = None


def for_command(
    cmd: Command, base: RunConfig | None = None, edits: Mapping[str, Any] | None = None
) -> tuple[RunConfig, dict[str, Any]]:
    """The configuration of one ``idealssl train`` command, built once (:func:`build`), with ``--out``,
    ``--fast-dev-run`` and the components checked (:func:`check_components`); and the settings the command gave
    explicitly (dotted key -> the run's value), with a resumed run's ``edits`` of its config.yaml among them.

    ``base``: the configuration of the run a ``--resume`` continues (:func:`idealssl.train.resume.resumed_config`):
    method and dataset default to its own.
    """
    method = cmd.method or (base.method if base is not None else None)
    dataset = cmd.dataset or (base.dataset if base is not None else None)
    built = build(method, dataset, cmd.config_file, cmd.flags, cmd.overrides, base=base)
    cfg = with_values(built.config, {"out": cmd.out})  # per session: this command's --out only
    explicit = {k: get_dotted(cfg, k) for k in [*built.given, *(edits or {})]}
    if cmd.devices is not None and cmd.devices < 1:
        raise InputError(f"--devices must be >= 1, got {cmd.devices}")
    if cmd.fast_dev_run:
        cfg = fast_dev_run(cfg, cmd.devices)
    check_components(cfg)
    return cfg, explicit


def resolve(
    method: str | None = None,
    dataset: str | None = None,
    config_file: str | os.PathLike | None = None,
    flags: Mapping[str, Any] | None = None,
    overrides: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The configuration :func:`build` gives, as the mapping ``config.yaml`` holds (for scripts that read it)."""
    return build(method, dataset, config_file, flags, overrides).config.to_dict()


def _merge(
    method: str | None,
    dataset: str | None,
    config_file: str | os.PathLike | None,
    flags: Mapping[str, Any] | None,
    overrides: Sequence[str] | None,
    base: RunConfig | None,
) -> tuple[dict[str, Any], tuple[str, ...], Any]:
    """The sources merged into one mapping, the keys the command gave, and ``optim.epochs`` before the flags and
    overrides (:func:`_fit_warmup`)."""
    user = load_yaml(config_file) if config_file else {}
    check_file(user, str(config_file))
    if base is None:
        tree = copy.deepcopy(DEFAULTS)
    else:  # per-session settings never carry over from the resumed run
        tree = with_values(base, {k: get_dotted(DEFAULTS, k) for k in SESSION_KEYS}).to_dict()
    dataset = str(dataset or user.get("dataset") or get_dotted(tree, "dataset"))
    method = str(method or user.get("method") or get_dotted(tree, "method"))
    if base is None:
        pre = preset(dataset)
        methods = pre.pop("methods", {}) or {}
        pre.pop("timing", None)  # a recorded measurement, not a setting (idealssl.train.timing)
        check_mapping(pre, f"preset {dataset}")
        deep_update(tree, pre)
        deep_update(tree, methods.get(method.lower(), {}))
    umethods = (user.pop("methods", {}) or {}).get(method.lower(), {})
    deep_update(tree, user)
    deep_update(tree, umethods)
    tree.update(method=method.lower(), dataset=dataset.lower())
    epochs_before = get_dotted(tree, "optim.epochs")
    for k, v in (flags or {}).items():
        if v is not None:
            set_dotted(tree, k, v)
    for o in overrides or []:
        apply_override(tree, o)
    return tree, _given(user, umethods, flags, overrides), epochs_before


def _given(
    user: dict, umethods: dict, flags: Mapping[str, Any] | None, overrides: Sequence[str] | None
) -> tuple[str, ...]:
    """The dotted keys this command sets itself (flags, overrides, config file), as opposed to the defaults', the
    preset's and a resumed run's; in that order, each once."""
    keys = [k for k, v in (flags or {}).items() if v is not None]
    for o in overrides or []:
        key, _, text = str(o).partition("=")
        value = _parse_value(text)
        keys += list(flatten(value, key.strip() + ".")) if isinstance(value, dict) else [key.strip()]
    keys += list(flatten(user)) + list(flatten(umethods))
    return tuple(dict.fromkeys(keys))


def _check_used(rc: RunConfig, given: tuple[str, ...]) -> RunConfig:
    """Refuse a setting this command gives that the run would record in config.yaml but not use: a dataset's own
    ``data.*`` key on another dataset (:data:`DATASET_ONLY`), ``model.width`` on a backbone other than the convnet,
    ``model.small_stem`` on the convnet. A preset's ``model.width`` (digits: the convnet's 32) goes back to the
    default when ``--arch`` picks another backbone, so that config.yaml holds no width that was not used."""
    dataset, m, default = rc.dataset.lower(), rc.model, RunConfig()
    for key, (users, hint) in DATASET_ONLY.items():
        value = getattr(rc.data, key)
        if f"data.{key}" in given and dataset not in users and value != getattr(default.data, key):
            raise InputError(
                f"data.{key}={value!r} is not used by --dataset {dataset}: only {', '.join(users)} read it"
                + (f" ({hint})" if hint else "")
            )
    arch = str(m.arch).lower()
    fixed = arch in ("resnet18", "resnet50") or arch.startswith("timm:")  # an unknown name: check_components
    if fixed and m.width != default.model.width:
        if "model.width" in given:
            raise InputError(
                f"model.width={m.width!r} is not used by model.arch={m.arch}: it sets the convnet's "
                f"width (a ResNet's and a timm model's widths are their own)"
            )
        rc = with_values(rc, {"model.width": default.model.width})
    if arch == "convnet" and m.small_stem is not None and "model.small_stem" in given:
        raise InputError(
            f"model.small_stem={m.small_stem!r} is not used by model.arch=convnet (it has no stem to choose; "
            f"the ResNets read it)"
        )
    return rc


def _fit_warmup(rc: RunConfig, epochs_before: Any, given: tuple[str, ...]) -> RunConfig:
    """A run shortened below the preset's warmup (``--epochs 2`` on a 60-epoch preset with 5 warmup epochs) keeps
    the schedule's shape: the warmup is scaled by the same factor, and the command says so. A warmup the user set
    (config file, ``optim.warmup_epochs=...``) is never changed: a warmup longer than the run is refused by
    :func:`validate`."""
    epochs, warmup = rc.optim.epochs, rc.optim.warmup_epochs
    if "optim.warmup_epochs" in given or warmup <= epochs:
        return rc
    scaled = warmup * epochs / max(epochs_before, epochs, warmup) if epochs_before > epochs else float(epochs) / 2
    rc = with_values(rc, {"optim.warmup_epochs": round(float(scaled), 4)})
    print(
        f"note: optim.warmup_epochs={warmup:g} (preset) is longer than optim.epochs={epochs}; scaled with the run to "
        f"{rc.optim.warmup_epochs:g} (set optim.warmup_epochs to choose)",
        file=sys.stderr,
    )
    return rc


def typed(tree: Mapping[str, Any]) -> RunConfig:
    """A complete configuration mapping as a :class:`RunConfig`: every entry type-checked against the sections,
    then every value :func:`validate`-d; one :class:`InputError` naming the key otherwise."""
    return validate(_build(RunConfig, tree, ""))


def fast_dev_run(rc: RunConfig, devices: int | None = None) -> RunConfig:
    """--fast-dev-run: a global batch of 16 (a multiple of the processes), one epoch of 3 steps, end-of-epoch
    monitors (the online k-NN on 128 bank and 64 query images), a checkpoint, every configured evaluation on at most
    200 train and 200 test images (one extraction batch each), the check on 16 images of 2 views, and one torch
    thread per process (always: :data:`FAST_DEV_RUN`)."""
    world = max(1, devices or int(os.environ.get("WORLD_SIZE", "1") or 1))
    batch = min(int(rc.optim.batch_size), world * -(-16 // world))
    return with_values(rc, {"optim.batch_size": batch, **FAST_DEV_RUN, "eval.linear_wd": list(rc.eval.linear_wd)[:2]})


# ------------------------------------------------------------------------------------------------ typing
#: typing.Union[...] and the X | Y form (types.UnionType) of the annotations
_UNIONS = (Union, types.UnionType)


def _type_ok(value: Any, tp: Any) -> bool:
    """Whether ``value`` is of the annotation ``tp`` (an int is not a bool; a number is an int or a float)."""
    origin = get_origin(tp)
    if tp is Any:
        return True
    if origin in _UNIONS:
        return any(_type_ok(value, t) for t in get_args(tp))
    if origin is list:
        (inner,) = get_args(tp) or (Any,)
        return isinstance(value, (list, tuple)) and all(_type_ok(v, inner) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if tp is type(None):
        return value is None
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, float)
    return isinstance(value, tp)


def _describe(tp: Any) -> str:
    """``tp`` in words, for an error message ("a number", "a list of strings", ...)."""
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


def _build(cls: type[T], d: Mapping[str, Any], where: str) -> T:
    """``cls`` (a section, or :class:`RunConfig`) from the mapping ``d``: every field present and of its annotated
    type (sections recursively), values copied; one :class:`InputError` naming the key otherwise."""
    hints = get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):  # type: ignore[arg-type]
        key = f"{where}{f.name}"
        if f.name not in d:
            raise InputError(f"configuration: missing key {key!r}")
        v, tp = d[f.name], hints[f.name]
        if isinstance(tp, type) and is_dataclass(tp):
            if not isinstance(v, dict):
                raise InputError(f"configuration: {key} must be a mapping, got {v!r}")
            kwargs[f.name] = _build(tp, v, key + ".")
            continue
        if not _type_ok(v, tp):
            raise InputError(f"{key} must be {_describe(tp)}, got {v!r}")
        kwargs[f.name] = copy.deepcopy(v)
    return cls(**kwargs)


# ------------------------------------------------------------------------------------------------ values
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
    _need(0 <= t.threads <= MAX_WORKERS, "train.threads", f"an integer in [0, {MAX_WORKERS}] (0: torch's)", t.threads)
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
    _check_range("data.test_fraction", d.test_fraction, 0, 1, lo_open=True, hi_open=True)
    _check_seed("data.split_seed", d.split_seed)
    workers = f"an integer in [0, {MAX_WORKERS}] (0: up to 8, one per core)"
    _need(0 <= d.num_workers <= MAX_WORKERS, "data.num_workers", workers, d.num_workers)
    _need(d.stream in (True, False, "auto"), "data.stream", "auto, true or false", d.stream)
    _check_range("data.memory_budget_gb", d.memory_budget_gb, 0, lo_open=True)
    _need(d.max_images >= 0, "data.max_images", "an integer >= 0 (0: all)", d.max_images)
    _check_side("data.image_size", d.image_size)
    _need(d.only_class is None or d.only_class >= 0, "data.only_class", "a class index >= 0", d.only_class)
    check_fake(d.fake_size, d.fake_classes, d.fake_images, d.fake_channels)
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
    _need(c.features in FEATURES, "check.features", f"one of {', '.join(FEATURES)}", c.features)


def validate(rc: RunConfig) -> RunConfig:
    """All value checks of a typed configuration, in one place (ranges, choices, the relations between values);
    returns it. What needs the objectives and backbones (torch) is :func:`check_components`."""
    _validate_optim(rc.optim)
    _validate_views(rc.views)
    _validate_eval(rc.eval)
    _validate_train(rc.train)
    _validate_data(rc.data)
    _validate_model(rc.model)
    _validate_check(rc.check)
    th = rc.theory
    _need(th.probe in PROBES, "theory.probe", f"one of {', '.join(PROBES)}", th.probe)
    _need(th.source in SOURCES, "theory.source", f"one of {', '.join(SOURCES)}", th.source)
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", rc.device):
        raise InputError(f"--device must be auto, cpu or cuda[:i], got {rc.device!r}")
    _check_range("probe.lr", rc.probe.lr, 0, lo_open=True)
    _check_seed("seed", rc.seed)
    return rc


# ------------------------------------------------------------------------------------------------ components
def check_components(rc: RunConfig) -> None:
    """What :func:`validate` cannot see without the registries (imports torch): the method is registered; every
    ``objective.*`` key is a hyperparameter of it, of the type its constructor declares (a finite number where a
    number); ``views.n_global`` is the number of global views the objective takes; the objective's own range
    checks pass (it is built on the meta device: nothing is allocated); a projector check
    (``check.features`` projector or both) has a projector to embed (:func:`idealssl.train.features.projector_of`);
    ``model.arch`` names a backbone that can be built (a timm model known to timm)."""
    import torch

    from ..models.encoders import check_arch
    from ..objectives import available, build
    from ..objectives.base import _REGISTRY

    method = rc.method
    if method not in available():
        raise InputError(f"unknown method {method!r}; available: {', '.join(available())}")
    cls = _REGISTRY[method]
    _check_hyperparameters(cls, rc.objective)
    n_global = int(getattr(cls, "n_global", 2))
    if rc.views.n_global != n_global:
        raise InputError(
            f"views.n_global={rc.views.n_global}: {method} takes {n_global} global views (its loss is "
            f"defined on them); more views: views.n_local (multi-crop)"
        )
    with torch.device("meta"):
        objective = build(method, dim=8, **rc.objective)
    if rc.check.enabled and rc.check.features != "backbone":
        projector_of(objective)
    m = rc.model
    check_arch(m.arch, m.small_stem, m.expand_dim)


def _check_hyperparameters(cls: Any, objective: Mapping[str, Any]) -> None:
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
