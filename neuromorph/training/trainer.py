"""Generic supervised training loop: models and data sets by name, DDP, AMP, per-epoch checkpoints, exact resume.

One epoch (on each of the ``W`` processes, each holding the shard ``rank::W`` of a seeded permutation)::

    sampler.set_epoch(e); for each batch: x += input_noise * N(0, 1) (float inputs only, optional);
    reset spiking state; logits = model(x); loss = CE(logits, y)
    backward (DDP averages gradients over ranks); AdamW step
    scheduler.step()  (cosine over the configured number of epochs)
    average BatchNorm running statistics over ranks; evaluate on the test split (sharded, counts all-reduced)
    rank 0 writes checkpoint_dir/epoch_{e+1:04d}.pt (see neuromorph.training.checkpoint)

Models: ``"spikformer"`` (:class:`neuromorph.models.spikformer.Spikformer`, patches for images, tokens for text),
``"mlp"`` (``neuromorph.models.SpikingMLP`` from the models package, fed the flattened image or the text
bag-of-words as a static input for ``T`` steps) and ``"linear"`` (a non-spiking ``nn.Linear`` baseline on
the same features, useful to test the plumbing). Data sets: ``"digits"``, ``"mnist"`` (``neuromorph.data``) and
``"text"`` (:func:`neuromorph.data.text.load_text_task`, 2-class mini 20-newsgroups).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import TensorDataset

from neuromorph.neurons.base import reset as reset_states
from neuromorph.training import ddp
from neuromorph.training.amp import Amp
from neuromorph.training.checkpoint import (capture_rng_state, latest_checkpoint, load_checkpoint,
                                            save_checkpoint)
from neuromorph.utils import progress, seed_everything

MODELS = ("spikformer", "mlp", "linear")
DATASETS = ("digits", "mnist", "text")
_DEFAULT_PATCH = {"digits": 2, "mnist": 4}


@dataclass
class TrainConfig:
    """Everything that defines a run (also stored in each checkpoint's ``extra``)."""

    model: str = "spikformer"
    dataset: str = "digits"
    epochs: int = 10
    batch_size: int = 64          # per process
    lr: float = 1e-3
    weight_decay: float = 0.01
    seed: int = 0
    T: int = 4
    dim: int = 64                 # spikformer width
    depth: int = 2                # spikformer blocks
    heads: int = 4
    mlp_ratio: float = 4.0
    time_shifts: tuple[int, ...] | None = None
    hidden: int = 128             # mlp hidden width
    patch_size: int | None = None  # digits: 2, mnist: 4
    text_max_len: int = 128
    input_noise: float = 0.0      # std of Gaussian noise added to float inputs during training (augmentation)
    limit_train: int | None = None
    limit_test: int | None = None
    checkpoint_dir: str | None = None
    resume: bool = False
    amp: bool = False
    device: str = "auto"
    stop_after: int | None = None  # stop this invocation after that many epochs (simulated pre-emption)
    show_progress: bool | None = None

    def validate(self) -> "TrainConfig":
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        for name in ("epochs", "batch_size", "T", "dim", "depth", "heads", "hidden", "text_max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("limit_train", "limit_test", "stop_after", "patch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be None or a positive int, got {value!r}")
        if not (self.input_noise >= 0 and math.isfinite(self.input_noise)):
            raise ValueError(f"input_noise must be a finite float >= 0, got {self.input_noise!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a finite positive float, got {self.lr!r}")
        if self.resume and not self.checkpoint_dir:
            raise ValueError("resume=True needs checkpoint_dir")
        return self


@dataclass
class DataBundle:
    train: TensorDataset
    test: TensorDataset
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    model: nn.Module
    history: list[dict[str, float]]
    config: TrainConfig
    rank: int = 0
    world_size: int = 1

    @property
    def final_test_accuracy(self) -> float:
        return self.history[-1]["test_acc"] if self.history else float("nan")


# ------------------------------------------------------------------------------------------------ data
def build_data(cfg: TrainConfig) -> DataBundle:
    """Tensors for ``cfg.dataset`` shaped for ``cfg.model`` (patches/tokens for spikformer, flat features else)."""
    if cfg.dataset == "text":
        from neuromorph.data.text import load_text_task

        task = load_text_task("newsgroups", max_len=cfg.text_max_len)
        if cfg.model == "spikformer":
            x_tr, x_te = task.x_train, task.x_test
        else:
            x_tr, x_te = task.bag_of_words("train"), task.bag_of_words("test")
        y_tr, y_te = task.y_train, task.y_test
        info = {"kind": "text", "num_classes": task.num_classes, "vocab_size": task.vocab_size,
                "max_len": task.max_len, "num_features": task.vocab_size}
    else:
        from neuromorph.data import load_dataset

        data = load_dataset(cfg.dataset, flatten=cfg.model != "spikformer")
        x_tr, y_tr, x_te, y_te = data.x_train, data.y_train, data.x_test, data.y_test
        info = {"kind": "image", "num_classes": data.num_classes, "num_features": data.num_features}
        if cfg.model == "spikformer":
            from neuromorph.models.spikformer import image_to_patches

            p = cfg.patch_size or _DEFAULT_PATCH[cfg.dataset]
            x_tr, x_te = image_to_patches(x_tr, p), image_to_patches(x_te, p)
            info.update(num_patches=int(x_tr.shape[1]), patch_features=int(x_tr.shape[2]), patch_size=p)
    x_tr, y_tr = x_tr[: cfg.limit_train], y_tr[: cfg.limit_train]
    x_te, y_te = x_te[: cfg.limit_test], y_te[: cfg.limit_test]
    return DataBundle(TensorDataset(x_tr, y_tr), TensorDataset(x_te, y_te), info)


# ------------------------------------------------------------------------------------------------ models
def _build_spikformer(cfg: TrainConfig, info: dict[str, Any]) -> nn.Module:
    from neuromorph.models.spikformer import Spikformer

    common = dict(dim=cfg.dim, depth=cfg.depth, num_heads=cfg.heads, mlp_ratio=cfg.mlp_ratio, T=cfg.T,
                  time_shifts=cfg.time_shifts)
    if info["kind"] == "text":
        return Spikformer(info["num_classes"], vocab_size=info["vocab_size"], max_len=info["max_len"], **common)
    return Spikformer(info["num_classes"], in_features=info["patch_features"], num_patches=info["num_patches"],
                      **common)


def _build_mlp(cfg: TrainConfig, info: dict[str, Any]) -> nn.Module:
    try:
        from neuromorph.models import SpikingMLP  # written by the models helper
    except ImportError as err:
        raise ValueError("model='mlp' needs neuromorph.models.SpikingMLP, which is not available in this build") \
            from err
    return SpikingMLP([info["num_features"], cfg.hidden, info["num_classes"]], num_steps=cfg.T)


def _build_linear(cfg: TrainConfig, info: dict[str, Any]) -> nn.Module:
    return nn.Linear(info["num_features"], info["num_classes"])


MODEL_FACTORIES: dict[str, Callable[[TrainConfig, dict[str, Any]], nn.Module]] = {
    "spikformer": _build_spikformer, "mlp": _build_mlp, "linear": _build_linear}


def build_model(cfg: TrainConfig, info: dict[str, Any]) -> nn.Module:
    """Model ``cfg.model`` for the data described by ``info`` (from :func:`build_data`)."""
    if cfg.model not in MODEL_FACTORIES:
        raise ValueError(f"model must be one of {tuple(MODEL_FACTORIES)}, got {cfg.model!r}")
    return MODEL_FACTORIES[cfg.model](cfg, info)


# ------------------------------------------------------------------------------------------------ loop
@torch.no_grad()
def evaluate(model: nn.Module, dataset: TensorDataset, env: ddp.DistEnv, batch_size: int, amp: Amp
             ) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over ``dataset``; each rank scores ``rank::world`` and counts are summed."""
    model.eval()
    x_all, y_all = dataset.tensors
    idx = torch.as_tensor(list(ddp.shard_indices(len(dataset), env)), dtype=torch.long)
    sums = torch.zeros(3, dtype=torch.float64, device=env.device)
    for start in range(0, len(idx), batch_size):
        sel = idx[start:start + batch_size]
        x, y = x_all[sel].to(env.device), y_all[sel].to(env.device)
        reset_states(model)
        with amp.autocast():
            logits = model(x)
        logits = logits.float()
        sums += torch.stack([nn.functional.cross_entropy(logits, y, reduction="sum").double(),
                             (logits.argmax(1) == y).sum().double(), torch.tensor(len(y), dtype=torch.float64,
                                                                                 device=env.device)])
    ddp.all_reduce_sum(sums, env)
    n = max(sums[2].item(), 1.0)
    return sums[0].item() / n, sums[1].item() / n


def _config_fingerprint(cfg: TrainConfig) -> dict[str, Any]:
    skip = {"checkpoint_dir", "resume", "stop_after", "show_progress", "device"}
    return {k: v for k, v in dataclasses.asdict(cfg).items() if k not in skip}


def train(cfg: TrainConfig, log: Callable[[str], None] | None = print) -> TrainResult:
    """Run (or resume) training as described in the module docstring; works alone or under torchrun."""
    cfg.validate()
    env = ddp.init_distributed(cfg.device)
    seed_everything(cfg.seed)                      # identical initial weights on every rank
    data = build_data(cfg)
    model = build_model(cfg, data.info).to(env.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    amp = Amp(env.device, cfg.amp)
    seed_everything(cfg.seed + 104729 * env.rank)  # distinct per-rank streams for anything random in training
    history: list[dict[str, float]] = []
    start_epoch = 0
    if cfg.resume:
        path = latest_checkpoint(cfg.checkpoint_dir)
        if path is not None:
            ckpt = load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler, scaler=amp.scaler,
                                   rank=env.rank, world_size=env.world_size, map_location=env.device)
            stored = ckpt["extra"].get("config", {})
            mismatch = {k: (stored.get(k), v) for k, v in _config_fingerprint(cfg).items() if stored.get(k) != v}
            if mismatch:
                raise ValueError(f"cannot resume from {path}: config differs (checkpoint, now): {mismatch}")
            start_epoch, history = int(ckpt["epoch"]), list(ckpt["history"])
            if log and env.is_main:
                log(f"resumed from {path} (epoch {start_epoch})")
    net = ddp.wrap_ddp(model, env)
    loader = ddp.make_loader(data.train, cfg.batch_size, env, shuffle=True, seed=cfg.seed)
    criterion = nn.CrossEntropyLoss()
    done_now = 0
    for epoch in range(start_epoch, cfg.epochs):
        if cfg.stop_after is not None and done_now >= cfg.stop_after:
            break
        loader.sampler.set_epoch(epoch)
        net.train()
        t0 = time.perf_counter()
        sums = torch.zeros(3, dtype=torch.float64, device=env.device)
        show = env.is_main and cfg.show_progress is not False
        bar = progress(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", enable=None if show else False)
        for x, y in bar:
            x, y = x.to(env.device), y.to(env.device)
            if cfg.input_noise > 0 and x.is_floating_point():
                x = x + cfg.input_noise * torch.randn_like(x)
            reset_states(model)
            with amp.autocast():
                logits = net(x)
            loss = criterion(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            amp.backward_step(loss, optimizer)
            sums += torch.stack([loss.detach().double() * len(y), (logits.argmax(1) == y).sum().double(),
                                 torch.tensor(len(y), dtype=torch.float64, device=env.device)])
        scheduler.step()
        ddp.all_reduce_sum(sums, env)
        ddp.average_buffers(model, env)
        test_loss, test_acc = evaluate(model, data.test, env, max(cfg.batch_size, 256), amp)
        record = {"epoch": epoch + 1, "train_loss": sums[0].item() / sums[2].item(),
                  "train_acc": sums[1].item() / sums[2].item(), "test_loss": test_loss, "test_acc": test_acc,
                  "seconds": time.perf_counter() - t0, "lr": optimizer.param_groups[0]["lr"]}
        history.append(record)
        if log and env.is_main:
            log(f"epoch {epoch + 1}/{cfg.epochs} train_loss {record['train_loss']:.4f} "
                f"train_acc {record['train_acc']:.4f} test_acc {test_acc:.4f} ({record['seconds']:.1f}s)")
        if cfg.checkpoint_dir:
            rng = ddp.all_gather_objects(capture_rng_state(), env)
            if env.is_main:
                save_checkpoint(cfg.checkpoint_dir, model=model, optimizer=optimizer, scheduler=scheduler,
                                scaler=amp.scaler, epoch=epoch + 1, rng_states=rng, history=history,
                                extra={"config": _config_fingerprint(cfg), "info": data.info})
            ddp.barrier(env)
        done_now += 1
    return TrainResult(model, history, cfg, env.rank, env.world_size)


def save_training_curve(history: list[dict[str, float]], path: str, title: str = "") -> str:
    """Write a PNG with train/test accuracy and train loss per epoch.

    Uses :func:`neuromorph.viz.plot_curves` when the viz package is present, plain matplotlib (Agg) otherwise.
    """
    if not history:
        raise ValueError("history must contain at least one epoch")
    series = {"train acc": [h["train_acc"] for h in history], "test acc": [h["test_acc"] for h in history],
              "train loss": [h["train_loss"] for h in history]}
    first = int(history[0]["epoch"])
    try:
        from neuromorph.viz import plot_curves
    except ImportError:
        plot_curves = None
    if plot_curves is not None:
        plot_curves(series, path, xlabel="epoch", ylabel="accuracy / loss", title=title or "training",
                    x_start=first)
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
