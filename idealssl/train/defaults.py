"""The run configuration of ``idealssl train``: one typed section per concern, every default in one place.

:class:`RunConfig` is the configuration a run holds from the command line to the training step; each section is a
dataclass whose field defaults are the built-in defaults (the lowest source of the configuration; presets, a
``--config`` file, flags and ``section.key=value`` overrides are merged over them by
:func:`idealssl.train.config.build`). :meth:`RunConfig.to_dict` gives the plain mapping written to ``config.yaml`` and
stored in checkpoints, with the keys in the order of the fields; :func:`idealssl.train.config.typed` reads one back.

This module holds what a configuration is and its defaults; the ranges of the values and how the sources are
merged are :mod:`idealssl.train.config`'s. It imports nothing of the package.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Union

Num = Union[int, float]  # noqa: UP007 - config._type_ok and config._describe read typing.Union aliases
#: a probability per global view, or one for all of them
Probs = Union[Num, list[Num]]  # noqa: UP007


@dataclass
class DataConfig:
    """How the images are read (``data.*``; :mod:`idealssl.data.datasets`).

    Attributes
    ----------
    image_size : int or None
        Side the image files are resized to (tinyimagenet, imagenet, folder; null: the dataset's default).
    stl10_unlabeled : bool
        STL-10: pretrain on the unlabelled split and train.
    unlabeled_dir : str or None
        folder / imagenet: a directory of unlabelled images added to pretraining.
    max_images : int
        imagenet / folder: a cap on the image files held in memory (0: none).
    test_fraction : float
        folder, a plain ImageFolder root (``ROOT/<class>/*``): the fraction of each class held out as the test split.
    split_seed : int
        folder, a plain ImageFolder root: the seed of that stratified split (fixed apart from the run's seed, so runs
        of several seeds share one test split).
    on_device : bool
        Hold the pretraining images on the training device.
    val_fraction : float
        The validation split carved from train by the linear probe (never test).
    fraction : float
        Pretrain on a seeded random fraction of the images, in (0, 1].
    only_class : int or None
        Pretrain on the train images of one class (the one-class protocol).
    fake_size, fake_classes, fake_images, fake_channels, fake_seed : int
        ``--dataset fake``: side, classes, train images, channels and seed of the generated images.
    num_workers : int
        Threads decoding image files once, or DataLoader workers when they stream (0: up to 8).
    stream : bool or "auto"
        Image files: decode per batch (true) or once (false); auto streams above ``memory_budget_gb``.
    memory_budget_gb : float
        ``stream=auto`` streams when the decoded train and test sets exceed it.
    """

    image_size: int | None = None
    stl10_unlabeled: bool = True
    unlabeled_dir: str | None = None
    max_images: int = 0
    test_fraction: Num = 0.2
    split_seed: int = 0
    on_device: bool = True
    val_fraction: Num = 0.1
    fraction: Num = 1.0
    only_class: int | None = None
    fake_size: int = 32
    fake_classes: int = 10
    fake_images: int = 1000
    fake_channels: int = 3
    fake_seed: int = 0
    num_workers: int = 0
    stream: bool | str = "auto"
    memory_budget_gb: Num = 8.0


@dataclass
class ModelConfig:
    """The encoder (``model.*``; :func:`idealssl.models.build_encoder`).

    Attributes
    ----------
    arch : str
        resnet18, resnet50, convnet or ``timm:<name>``.
    expand_dim : int or None
        The ISSL paper's dimension expansion (+dim block) to this many features (null: none).
    small_stem : bool or None
        ResNets: the CIFAR-style 3x3 stem (null: chosen from the image size).
    width : int
        The convnet's width.
    sync_bn : bool
        SyncBatchNorm across processes (CUDA).
    channels_last : bool or "auto"
        The channels-last memory format (auto: on CUDA, and on a CPU for the built-in convolutional encoders,
        measured faster there: ``idealssl.train.loop.uses_channels_last``).
    compile : bool
        ``torch.compile`` the model.
    """

    arch: str = "resnet18"
    expand_dim: int | None = None
    small_stem: bool | None = None
    width: int = 64
    sync_bn: bool = False
    channels_last: bool | str = "auto"
    compile: bool = False


@dataclass
class ViewsConfig:
    """The augmentations (``views.*``; :class:`idealssl.data.views.ViewConfig` documents each).

    Attributes
    ----------
    size, local_size : int or None
        Sides of the global and local views (null: the image's side, half of it).
    n_global, n_local : int
        Numbers of global and local (multi-crop) views.
    scale, ratio, local_scale : list of float
        Random resized crop ranges.
    flip_p, rotate, jitter, jitter_p, gray_p, blur_p, blur_sigma, solarize_p : float or list of float
        Flip, rotation (degrees), colour jitter, grayscale, blur and solarisation.
    strength : float
        The augmentation strength s of Dubois et al. 2022.
    """

    size: int | None = None
    n_global: int = 2
    scale: list[Num] = field(default_factory=lambda: [0.2, 1.0])
    ratio: list[Num] = field(default_factory=lambda: [0.75, 1.3333333])
    flip_p: Num = 0.5
    rotate: Num = 0.0
    jitter: list[Num] = field(default_factory=lambda: [0.4, 0.4, 0.4, 0.1])
    jitter_p: Num = 0.8
    gray_p: Num = 0.2
    blur_p: Probs = 0.0
    blur_sigma: list[Num] = field(default_factory=lambda: [0.1, 2.0])
    solarize_p: Probs = 0.0
    strength: Num = 1.0
    n_local: int = 0
    local_size: int | None = None
    local_scale: list[Num] = field(default_factory=lambda: [0.05, 0.2])


@dataclass
class OptimConfig:
    """The optimiser and its schedule (``optim.*``).

    Attributes
    ----------
    name : str
        adamw, adam, sgd or lars.
    lr : float
        Base learning rate, scaled with the global batch by ``lr_scaling`` (:attr:`scaled_lr`).
    weight_decay, momentum : float
    batch_size : int
        The global batch (summed over processes).
    epochs : int
    warmup_epochs : float
        Linear warmup, then cosine decay to 0.
    lr_scaling : str
        none, linear (lr * B / ref_batch, Goyal et al. 2017) or sqrt (lr * sqrt(B / ref_batch)).
    ref_batch : float
    grad_clip : float or None
        The gradient norm clip of the encoder and heads (null: none).
    """

    name: str = "adamw"
    lr: Num = 2e-3
    weight_decay: Num = 1e-6
    momentum: Num = 0.9
    batch_size: int = 256
    epochs: int = 100
    warmup_epochs: Num = 10
    lr_scaling: str = "none"
    ref_batch: Num = 256
    grad_clip: Num | None = 2.0

    @property
    def scaled_lr(self) -> float:
        """The learning rate after the scaling rule: it depends on the global batch only, so the same command gives
        the same learning rate on 1 or N processes."""
        r = self.batch_size / float(self.ref_batch)
        return float(self.lr) * {"none": 1.0, "linear": r, "sqrt": r**0.5}[self.lr_scaling]


@dataclass
class ProbeConfig:
    """The online linear probe (``probe.*``): trained on detached features, constant learning rate ``lr``."""

    online: bool = True
    lr: Num = 1e-3


@dataclass
class EvalConfig:
    """The evaluations (``eval.*``; :mod:`idealssl.train.evaluate`).

    Attributes
    ----------
    at_end : list of str
        The end-of-training evaluations: linear, knn, fewshot, anomaly.
    knn_k, knn_t : int or list of int, float or list of float
        k-NN neighbours and temperature; a list is a grid, each setting reported (the first is ``knn``).
    linear_wd, linear_steps : list of float, int
        The linear probe's weight decays (chosen on val) and L-BFGS iterations.
    fewshot_k, fewshot_trials : int
    anomaly_k, anomaly_max_train, anomaly_fit_steps, anomaly_fit_lr : int, int, int, float
    batch_size : int
        Feature extraction batch.
    max_images : int
        Evaluate on at most this many train and test images each (0: all).
    online_knn_every, online_knn_bank, online_knn_queries : int
        The online k-NN monitor every N epochs (0: off), with a fixed seeded bank of train images and queries
        from test.
    """

    at_end: list[str] = field(default_factory=lambda: ["linear", "knn", "fewshot", "anomaly"])
    knn_k: int | list[int] = 20
    knn_t: Num | list[Num] = 0.07
    linear_wd: list[Num] = field(default_factory=lambda: [0.0, 1e-5, 1e-4, 1e-3, 1e-2])
    linear_steps: int = 300
    fewshot_k: int = 10
    fewshot_trials: int = 5
    anomaly_k: int = 5
    anomaly_max_train: int = 5000
    anomaly_fit_steps: int = 100
    anomaly_fit_lr: Num = 1e-3
    batch_size: int = 512
    max_images: int = 0
    online_knn_every: int = 1
    online_knn_bank: int = 2000
    online_knn_queries: int = 500


@dataclass
class TrainOptions:
    """The loop's own settings (``train.*``).

    Attributes
    ----------
    precision : str
        auto, 32, bf16 (= bf16-mixed), bf16-mixed, 16-mixed.
    log_every, ckpt_every_epochs : int
    progress : str or bool
        auto, bar, plain or off (YAML reads a bare off as false; the merged configuration holds a string).
    limit_steps : int or None
        Stop after this many steps (a checkpoint is written; 0: run to the end).
    keep_epoch_ckpts : bool
    limit_batches : int
        At most this many steps per epoch (0: all).
    loggers : list of str
        jsonl (always), csv, tb, wandb (:mod:`idealssl.train.loggers`).
    deterministic : bool
        ``torch.use_deterministic_algorithms``, cuDNN benchmark off.
    threads : int
        Torch's intra-op threads in each process for the run (``torch.set_num_threads``; 0: torch's default, or
        cores / processes under ``--devices``). ``--fast-dev-run`` sets 1: on a shared CPU, threads that wait for
        busy cores cost more than they give a small model.
    """

    precision: str | int = "auto"
    log_every: int = 10
    ckpt_every_epochs: int = 1
    progress: str | bool = "auto"
    limit_steps: int | None = 0
    keep_epoch_ckpts: bool = False
    limit_batches: int = 0
    loggers: list[str] = field(default_factory=lambda: ["jsonl"])
    deterministic: bool = False
    threads: int = 0


@dataclass
class TheoryConfig:
    """The theory's prescriptions (``theory.*``; :mod:`idealssl.train.theory_config`).

    Attributes
    ----------
    probe : str
        The probe family the run is configured for (:data:`idealssl.probes.PROBES`).
    source : str
        derived (apply the prescriptions) or original (the presets' settings; measured only).
    enforce : bool
        Refuse an explicit objective setting that contradicts a prescription.
    """

    probe: str = "linear"
    source: str = "derived"
    enforce: bool = True


@dataclass
class CheckConfig:
    """The end-of-run check (``check.*``; :mod:`idealssl.train.orbit_sets`).

    Attributes
    ----------
    enabled : bool
    images, views : int
        M held-out test images, V augmented views of each.
    seed : int
    tol : float
        The checker's tolerance, in [MIN_TOL, 1) as ``idealssl check --tol``.
    probe : str or None
        The probe family checked (null: ``theory.probe``; :meth:`RunConfig.check_probe`).
    orbits : str
        image (each image's views form an orbit) or class (all views of a class).
    features : str
        Which features are embedded: ``backbone`` (the backbone's output, the features the evaluation's probes read;
        ``RUN/check/``), ``projector`` (the objective's head applied to them, the representation its loss sees;
        ``RUN/check-projector/``) or ``both`` (:mod:`idealssl.train.features`).
    """

    enabled: bool = True
    images: int = 50
    views: int = 4
    seed: int = 0
    tol: Num = 1e-2
    probe: str | None = None
    orbits: str = "image"
    features: str = "backbone"


@dataclass
class RunConfig:
    """The configuration of one run, typed: what ``idealssl train`` builds once and passes down to the step.

    Attributes
    ----------
    method, dataset : str
        The objective (:func:`idealssl.objectives.available`) and the dataset.
    data_dir : str or None
        Where the dataset's files are (default ``$IDEALSSL_DATA`` or ``./data``).
    seed : int
    out : str or None
        The run directory (default ``runs/<dataset>-<method>/<timestamp>-s<seed>``).
    device : str
        auto, cpu, cuda or cuda:i.
    data, model, views, optim, probe, eval, train, theory, check : sections
        One dataclass each (above).
    objective : dict
        The objective's hyperparameters (its constructor's keywords; typed by
        :func:`idealssl.train.config.check_components` against the constructor).
    """

    method: str = "dissl"
    dataset: str = "digits"
    data_dir: str | None = None
    seed: int = 0
    out: str | None = None
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    views: ViewsConfig = field(default_factory=ViewsConfig)
    objective: dict[str, Any] = field(default_factory=dict)
    optim: OptimConfig = field(default_factory=OptimConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    train: TrainOptions = field(default_factory=TrainOptions)
    theory: TheoryConfig = field(default_factory=TheoryConfig)
    check: CheckConfig = field(default_factory=CheckConfig)

    def to_dict(self) -> dict[str, Any]:
        """The plain mapping (``config.yaml``, checkpoints): the fields in order, values as they are."""
        return asdict(self)

    @property
    def check_probe(self) -> str:
        """The probe family of the end-of-run check: ``check.probe``, or ``theory.probe`` when it is null."""
        return self.check.probe or self.theory.probe
