"""Models and data sets by name for ``neuromorph train``: a :class:`TrainConfig` names them and :func:`train`
runs them through the one training loop, :func:`neuromorph.training.fit` (DDP, AMP, per-epoch checkpoints,
exact resume; AdamW, cosine schedule).

Models: ``"spikformer"`` (:class:`neuromorph.models.spikformer.Spikformer`, patches for images, tokens for text),
``"transformer"`` (:class:`neuromorph.models.transformer.TransformerClassifier`, its non-spiking twin), ``"mlp"``
(``neuromorph.models.SpikingMLP`` from the models package, fed the flattened image or the text bag-of-words as a
static input for ``T`` steps) and ``"linear"`` (a non-spiking ``nn.Linear`` baseline on
the same features, useful to test the plumbing). Data sets: ``"digits"``, ``"mnist"`` (``neuromorph.data``),
``"text"`` (:func:`neuromorph.data.text.load_text_task`, 2-class mini 20-newsgroups, fixed 150 / 50 split) and the
text tasks with train / validation / test folds, ``"newsgroups"`` and ``"polarity"`` (fold ``cfg.fold`` of 5; the
transformers read frozen GloVe vectors, :func:`neuromorph.data.text.glove_vocabulary`; mlp / linear read the
bag of words). With a validation split the per-epoch evaluation is on validation (``val_acc``, ``val_loss`` in the
history) and the test split is evaluated once, after the last epoch (:attr:`TrainResult.test_metrics`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from neuromorph.training import ddp
from neuromorph.training.loop import fit
from neuromorph.training.strategies import STRATEGIES
from neuromorph.utils import check_positive_int, seed_everything

MODELS = ("spikformer", "transformer", "mlp", "linear")
DATASETS = ("digits", "mnist", "text", "newsgroups", "polarity")
TEXT_DATASETS = ("text", "newsgroups", "polarity")
_DEFAULT_PATCH = {"digits": 2, "mnist": 4}
_DEFAULT_MAX_LEN = {"text": 128, "newsgroups": 128, "polarity": 40}


@dataclass
class TrainConfig:
    """Everything that defines a run (also stored in each checkpoint's ``extra``).

    >>> cfg = TrainConfig(model="mlp", epochs=1).validate()
    >>> cfg.dataset, cfg.strategy
    ('digits', 'bptt')
    >>> try:
    ...     TrainConfig(model="cnn").validate()
    ... except ValueError as err:
    ...     print(err)
    model must be one of ('spikformer', 'transformer', 'mlp', 'linear'), got 'cnn'
    """

    model: str = "spikformer"
    dataset: str = "digits"
    epochs: int = 10
    batch_size: int = 64  # per process
    lr: float = 1e-3
    weight_decay: float = 0.01
    seed: int = 0
    T: int = 4
    dim: int = 64  # spikformer width
    depth: int = 2  # spikformer blocks
    heads: int = 4
    mlp_ratio: float = 4.0
    time_shifts: tuple[int, ...] | None = None
    hidden: int = 128  # mlp hidden width
    patch_size: int | None = None  # digits: 2, mnist: 4
    text_max_len: int | None = None  # None: 128 (text, newsgroups), 40 (polarity)
    norm: str = "batch"  # transformers: "batch" | "layer" | "none"
    dropout: float = 0.0  # transformers: on the embedding and the pooled features
    fold: int = 0  # newsgroups / polarity: which of the 5 folds is the test fold
    input_noise: float = 0.0  # std of Gaussian noise added to float inputs during training (augmentation)
    limit_train: int | None = None
    limit_test: int | None = None
    checkpoint_dir: str | None = None
    resume: bool = False
    amp: bool = False
    device: str = "auto"
    stop_after: int | None = None  # stop this invocation after that many epochs (simulated pre-emption)
    strategy: str = "bptt"  # "bptt" | "online" | "three_factor" (see neuromorph.training.strategies)
    show_progress: bool | None = None

    def validate(self) -> "TrainConfig":
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        for name in ("epochs", "batch_size", "T", "dim", "depth", "heads", "hidden"):
            value = getattr(self, name)
            check_positive_int(name, value)
        for name in ("limit_train", "limit_test", "stop_after", "patch_size", "text_max_len"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be None or a positive int, got {value!r}")
        if not (self.input_noise >= 0 and math.isfinite(self.input_noise)):
            raise ValueError(f"input_noise must be a finite float >= 0, got {self.input_noise!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite positive float, got {self.lr!r}")
        from neuromorph.models.spikformer import NORMS

        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, (int, float))
            or not 0.0 <= self.dropout < 1.0
        ):
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if isinstance(self.fold, bool) or not isinstance(self.fold, int) or not 0 <= self.fold < 5:
            raise ValueError(f"fold must be an int in [0, 5), got {self.fold!r}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {self.strategy!r}")
        if self.resume and not self.checkpoint_dir:
            raise ValueError("resume=True needs checkpoint_dir")
        return self


@dataclass
class DataBundle:
    """Training and test tensors (and validation, for the fold-split text tasks), a description of the data
    (``info``, stored in checkpoints) and the frozen word vectors the text transformers read (or None).

    >>> data = build_data(TrainConfig(model="mlp", limit_train=10, limit_test=5))
    >>> len(data.train), len(data.test), data.info["num_features"], data.info["num_classes"]
    (10, 5, 64, 10)
    """

    train: TensorDataset
    test: TensorDataset
    info: dict[str, Any] = field(default_factory=dict)
    val: TensorDataset | None = None
    embeddings: Tensor | None = None


@dataclass
class TrainResult:
    """What :func:`train` returns: the model, one record per epoch and the config of the run.

    >>> cfg = TrainConfig(model="linear", epochs=1, limit_train=64, limit_test=32, show_progress=False)
    >>> result = train(cfg, log=None)
    >>> len(result.history), 0.0 <= result.final_test_accuracy <= 1.0
    (1, True)
    """

    model: nn.Module
    history: list[dict[str, float]]
    config: TrainConfig
    rank: int = 0
    world_size: int = 1
    test_metrics: dict[str, float] | None = None  # with a validation split: test loss/accuracy after training

    @property
    def final_test_accuracy(self) -> float:
        if self.test_metrics is not None:
            return self.test_metrics["accuracy"]
        return self.history[-1]["test_acc"] if self.history and "test_acc" in self.history[-1] else float("nan")


# ------------------------------------------------------------------------------------------------ data
def _text_bundle(cfg: TrainConfig) -> DataBundle:
    from neuromorph.data.text import glove_vocabulary, load_text_task

    max_len = cfg.text_max_len or _DEFAULT_MAX_LEN[cfg.dataset]
    transformer = cfg.model in ("spikformer", "transformer")
    embeddings = None
    if cfg.dataset == "text":
        task = load_text_task("newsgroups", max_len=max_len)
    else:
        vocab = None
        if transformer:
            vocab, embeddings = glove_vocabulary()
        task = load_text_task(cfg.dataset, max_len=max_len, num_folds=5, fold=cfg.fold, vocab=vocab)
    parts = {}
    for split in task.splits:
        x, _, y = task.split(split)
        limit = cfg.limit_train if split == "train" else cfg.limit_test
        x = x if transformer else task.bag_of_words(split)
        if cfg.dataset != "text":  # classes interleaved, so that a --limit-* prefix holds every class
            rank = torch.zeros_like(y)
            for cls in y.unique():
                rank[y == cls] = torch.arange(int((y == cls).sum()))
            order = torch.sort(rank, stable=True).indices
            x, y = x[order], y[order]
        parts[split] = TensorDataset(x[:limit], y[:limit])
    info = {
        "kind": "text",
        "num_classes": task.num_classes,
        "vocab_size": task.vocab_size,
        "max_len": task.max_len,
        "num_features": task.vocab_size,
        "pretrained_embeddings": embeddings is not None,
    }
    return DataBundle(parts["train"], parts["test"], info, parts.get("val"), embeddings)


def build_data(cfg: TrainConfig) -> DataBundle:
    """Tensors for ``cfg.dataset`` shaped for ``cfg.model`` (patches/tokens for the transformers, flat features
    else).

    >>> data = build_data(TrainConfig(model="spikformer", limit_train=10, limit_test=5))
    >>> data.train.tensors[0].shape, data.info["patch_size"]
    (torch.Size([10, 16, 4]), 2)
    """
    if cfg.dataset in TEXT_DATASETS:
        return _text_bundle(cfg)
    from neuromorph.data import load_dataset

    transformer = cfg.model in ("spikformer", "transformer")
    data = load_dataset(cfg.dataset, flatten=not transformer)
    x_tr, y_tr, x_te, y_te = data.x_train, data.y_train, data.x_test, data.y_test
    info = {"kind": "image", "num_classes": data.num_classes, "num_features": data.num_features}
    if transformer:
        from neuromorph.models.spikformer import image_to_patches

        p = cfg.patch_size or _DEFAULT_PATCH[cfg.dataset]
        x_tr, x_te = image_to_patches(x_tr, p), image_to_patches(x_te, p)
        info.update(num_patches=int(x_tr.shape[1]), patch_features=int(x_tr.shape[2]), patch_size=p)
    x_tr, y_tr = x_tr[: cfg.limit_train], y_tr[: cfg.limit_train]
    x_te, y_te = x_te[: cfg.limit_test], y_te[: cfg.limit_test]
    return DataBundle(TensorDataset(x_tr, y_tr), TensorDataset(x_te, y_te), info)


# ------------------------------------------------------------------------------------------------ models
def _transformer_inputs(cfg: TrainConfig, info: dict[str, Any], embeddings: Tensor | None) -> dict[str, Any]:
    common: dict[str, Any] = dict(
        dim=cfg.dim, depth=cfg.depth, num_heads=cfg.heads, mlp_ratio=cfg.mlp_ratio, norm=cfg.norm, dropout=cfg.dropout
    )
    if info["kind"] == "text":
        return dict(vocab_size=info["vocab_size"], max_len=info["max_len"], embeddings=embeddings, **common)
    return dict(in_features=info["patch_features"], num_patches=info["num_patches"], **common)


def _build_spikformer(cfg: TrainConfig, info: dict[str, Any], embeddings: Tensor | None = None) -> nn.Module:
    from neuromorph.models.spikformer import Spikformer

    return Spikformer(
        info["num_classes"], T=cfg.T, time_shifts=cfg.time_shifts, **_transformer_inputs(cfg, info, embeddings)
    )


def _build_transformer(cfg: TrainConfig, info: dict[str, Any], embeddings: Tensor | None = None) -> nn.Module:
    from neuromorph.models.transformer import TransformerClassifier

    return TransformerClassifier(info["num_classes"], **_transformer_inputs(cfg, info, embeddings))


def _build_mlp(cfg: TrainConfig, info: dict[str, Any], embeddings: Tensor | None = None) -> nn.Module:
    from neuromorph.models import SpikingMLP

    # online strategies learn from per-step outputs of a time-resolved input (see train())
    output = "mean" if cfg.strategy == "bptt" else "sequence"
    return SpikingMLP([info["num_features"], cfg.hidden, info["num_classes"]], num_steps=cfg.T, output=output)


def _build_linear(cfg: TrainConfig, info: dict[str, Any], embeddings: Tensor | None = None) -> nn.Module:
    return nn.Linear(info["num_features"], info["num_classes"])


MODEL_FACTORIES: dict[str, Callable[..., nn.Module]] = {
    "spikformer": _build_spikformer,
    "transformer": _build_transformer,
    "mlp": _build_mlp,
    "linear": _build_linear,
}


def build_model(cfg: TrainConfig, info: dict[str, Any], embeddings: Tensor | None = None) -> nn.Module:
    """Model ``cfg.model`` for the data described by ``info`` (from :func:`build_data`); ``embeddings``: the
    bundle's frozen word vectors for the text transformers.

    >>> cfg = TrainConfig(model="mlp", hidden=16)
    >>> model = build_model(cfg, build_data(cfg).info)
    >>> type(model).__name__
    'SpikingMLP'
    """
    if cfg.model not in MODEL_FACTORIES:
        raise ValueError(f"model must be one of {tuple(MODEL_FACTORIES)}, got {cfg.model!r}")
    return MODEL_FACTORIES[cfg.model](cfg, info, embeddings)


# ------------------------------------------------------------------------------------------------ run
def _config_fingerprint(cfg: TrainConfig) -> dict[str, Any]:
    skip = {"checkpoint_dir", "resume", "stop_after", "show_progress", "device"}
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip}


def train(cfg: TrainConfig, log: Callable[[str], None] | None = print) -> TrainResult:
    """Build the data and model that ``cfg`` names and train them with :func:`neuromorph.training.fit`
    (alone or under torchrun).

    >>> cfg = TrainConfig(model="linear", epochs=2, limit_train=64, limit_test=32, show_progress=False)
    >>> result = train(cfg, log=None)
    >>> [record["epoch"] for record in result.history], result.config.model
    ([1, 2], 'linear')
    """
    cfg.validate()
    env = ddp.init_distributed(cfg.device)
    seed_everything(cfg.seed)  # identical initial weights on every rank
    data = build_data(cfg)
    model = build_model(cfg, data.info, data.embeddings)
    encode = None
    if cfg.strategy != "bptt" and cfg.model == "mlp":  # static features -> constant input current for T steps
        from neuromorph.encoding import direct_encode

        def encode(x: Tensor) -> Tensor:
            return direct_encode(x, cfg.T)

    monitored = data.val if data.val is not None else data.test
    if data.val is not None and log is not None:
        print_log = log

        def log(message: str) -> None:  # fit reports the monitored split as "test"; here it is validation
            print_log(message.replace("test_acc", "val_acc"))

    result = fit(
        model,
        data.train,
        strategy=cfg.strategy,
        test=monitored,
        epochs=cfg.epochs,
        encode=encode,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        optimizer="adamw",
        input_noise=cfg.input_noise,
        seed=cfg.seed,
        env=env,
        amp=cfg.amp,
        checkpoint_dir=cfg.checkpoint_dir,
        resume=cfg.resume,
        stop_after=cfg.stop_after,
        checkpoint_extra={"config": _config_fingerprint(cfg), "info": data.info},
        eval_batch_size=max(cfg.batch_size, 256),
        show_progress=cfg.show_progress,
        desc="epoch",
        log=log,
    )
    if data.val is None:
        return TrainResult(result.model, result.history, cfg, result.rank, result.world_size)
    from neuromorph.metrics import evaluate

    history = [{k.replace("test_", "val_"): v for k, v in h.items()} for h in result.history]
    test = evaluate(
        result.model,
        *data.test.tensors,
        batch_size=max(cfg.batch_size, 256),
        encode=encode,
        env=env,
        show_progress=False,
    )
    return TrainResult(result.model, history, cfg, result.rank, result.world_size, test_metrics=test)


def save_training_curve(history: list[dict[str, float]], path: str, title: str = "") -> str:
    """Write a PNG with train and test (or validation, when the history has ``val_acc``) accuracy and train loss
    per epoch.

    Uses :func:`neuromorph.viz.plot_curves` when the viz package is present, plain matplotlib (Agg) otherwise.

    >>> import os, tempfile
    >>> history = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "test_acc": 0.4},
    ...            {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "test_acc": 0.7}]
    >>> os.path.isfile(save_training_curve(history, os.path.join(tempfile.mkdtemp(), "curve.png")))
    True
    """
    if not history:
        raise ValueError("history must contain at least one epoch")
    held_out = "val" if "val_acc" in history[0] else "test"
    series = {
        "train acc": [h["train_acc"] for h in history],
        f"{held_out} acc": [h[f"{held_out}_acc"] for h in history],
        "train loss": [h["train_loss"] for h in history],
    }
    first = int(history[0]["epoch"])
    try:
        from neuromorph.viz import plot_curves
    except ImportError:
        plot_curves = None  # type: ignore[assignment]  # matplotlib missing: no figure
    if plot_curves is not None:
        plot_curves(series, path, xlabel="epoch", ylabel="accuracy / loss", title=title or "training", x_start=first)
        return str(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, values in series.items():
        ax.plot(range(first, first + len(values)), values, marker="o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy / loss")
    ax.set_title(title or "training")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return str(path)
