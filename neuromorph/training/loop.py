"""The training loop: one :func:`fit` for every model and strategy, alone or under torchrun (DDP), with mixed
precision, per-epoch checkpoints and exact resume.

One epoch on each of the ``W`` processes (each holds the shard ``rank::W`` of a seeded permutation)::

    sampler.set_epoch(e); for each batch:
        x += input_noise * N(0, 1) (float inputs, optional); x = encode(x) (optional)
        zero the gradients; strategy.gradients(batch)       (BPTT | online | three-factor; DDP averages them)
        optimizer step (through the AMP scaler)
    scheduler.step()  (cosine over the configured epochs, or constant)
    average BatchNorm statistics over ranks; evaluate on the test set (metrics.evaluate, sharded)
    rank 0 writes checkpoint_dir/epoch_{e+1:04d}.pt (neuromorph.training.checkpoint)

>>> import torch
>>> from neuromorph.models import SpikingMLP
>>> x, y = torch.rand(64, 8), torch.randint(0, 2, (64,))
>>> result = fit(SpikingMLP([8, 16, 2], num_steps=4), (x, y), epochs=2, batch_size=32, show_progress=False)
>>> len(result.history), sorted(result.history[0])[:3]
(2, ['epoch', 'lr', 'seconds'])
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DistributedSampler, TensorDataset

from neuromorph.metrics import evaluate
from neuromorph.training import ddp
from neuromorph.training.amp import Amp
from neuromorph.training.checkpoint import capture_rng_state, latest_checkpoint, load_checkpoint, save_checkpoint
from neuromorph.training.strategies import Online, Strategy, get_strategy
from neuromorph.utils import check_positive_int, check_tensor, progress

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "constant")
Data = tuple[Tensor, Tensor] | TensorDataset


@dataclass
class FitResult:
    """What :func:`fit` returns: the trained model and one record per epoch (``epoch``, ``train_loss``,
    ``train_acc``, ``test_loss``/``test_acc`` when a test set was given, ``seconds`` (training only) and ``lr``).

    >>> from neuromorph.models import SpikingMLP
    >>> x, y = torch.rand(16, 4), torch.randint(0, 2, (16,))
    >>> result = fit(SpikingMLP([4, 8, 2], num_steps=2), (x, y), test=(x, y), epochs=1, batch_size=8,
    ...              show_progress=False)
    >>> type(result.model).__name__, sorted(result.history[-1])
    ('SpikingMLP', ['epoch', 'lr', 'seconds', 'test_acc', 'test_loss', 'train_acc', 'train_loss'])
    """

    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    rank: int = 0
    world_size: int = 1

    def series(self, key: str) -> list[float]:
        return [h[key] for h in self.history if key in h]

    @property
    def train_time(self) -> float:
        """Summed wall time of the training epochs (evaluation, checkpoints and kernel builds excluded)."""
        return float(sum(self.series("seconds")))

    @property
    def final_test_accuracy(self) -> float:
        return self.history[-1]["test_acc"] if self.history and "test_acc" in self.history[-1] else float("nan")


def _tensors(name: str, data: Data) -> tuple[Tensor, Tensor]:
    x, y = data.tensors if isinstance(data, TensorDataset) else data
    check_tensor(f"{name} x", x, finite=True)
    check_tensor(f"{name} y", y, ndim=1)
    if y.is_floating_point():
        raise TypeError(f"{name} y must hold integer class indices, got dtype {y.dtype}")
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(
            f"{name} x and y must hold the same non-zero number of examples, got {x.shape[0]} and {y.shape[0]}"
        )
    return x, y


def _optimizer(name: str, params: Sequence[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def fit(
    model: nn.Module,
    train: Data,
    *,
    strategy: str | Strategy = "bptt",
    test: Optional[Data] = None,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    optimizer: str = "adam",
    schedule: str = "cosine",
    encode: Optional[Callable[[Tensor], Tensor]] = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
    input_noise: float = 0.0,
    seed: int = 0,
    env: Optional[ddp.DistEnv] = None,
    amp: bool = False,
    checkpoint_dir: Optional[str] = None,
    resume: bool = False,
    stop_after: Optional[int] = None,
    checkpoint_extra: Optional[dict[str, Any]] = None,
    eval_batch_size: int = 1000,
    skip_nonfinite: bool = False,
    show_progress: Optional[bool] = None,
    desc: str = "train",
    on_epoch: Optional[Callable[[int, FitResult], None]] = None,
    log: Optional[Callable[[str], None]] = None,
) -> FitResult:
    """Train ``model`` on ``train = (x, y)`` (class labels) with ``strategy`` (see the module docstring).

    Args:
        strategy: ``"bptt"``, ``"online"``, ``"three_factor"`` or a :class:`~neuromorph.training.strategies.Strategy`.
        test: evaluated after every epoch (``test_loss``, ``test_acc``).
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9); ``schedule``: ``"cosine"`` over the epochs
            or ``"constant"``.
        encode: turns a batch of inputs into what the model eats (e.g. rate coding); also used for evaluation.
        env: a :class:`~neuromorph.training.ddp.DistEnv` from ``init_distributed`` (default: one process on CPU
            or the model's device).
        checkpoint_dir / resume / stop_after / checkpoint_extra: per-epoch checkpoints (rank 0), continue from
            the newest one (``checkpoint_extra["config"]`` must then match the stored one), stop this call after
            that many epochs.
        skip_nonfinite: a batch whose loss is NaN/inf raises a ``ValueError`` naming the epoch and batch unless
            this is True (then the batch is skipped and counted in ``history[i]["skipped"]``).

    >>> from neuromorph.encoding import direct_encode
    >>> from neuromorph.models import SpikingMLP
    >>> x, y = torch.rand(32, 4), (torch.rand(32, 4).sum(1) > 2).long()
    >>> result = fit(SpikingMLP([4, 8, 2], output="sequence"), (x[:24], y[:24]), test=(x[24:], y[24:]), epochs=2,
    ...              batch_size=8, strategy="online", encode=lambda b: direct_encode(b, 3), show_progress=False)
    >>> [record["epoch"] for record in result.history], 0.0 <= result.history[-1]["test_acc"] <= 1.0
    ([1, 2], True)
    """
    x_train, y_train = _tensors("train", train)
    test_xy = _tensors("test", test) if test is not None else None
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    eval_batch_size = check_positive_int("eval_batch_size", eval_batch_size)
    if stop_after is not None:
        check_positive_int("stop_after", stop_after)
    for name, value, low in (("lr", lr, 0.0), ("weight_decay", weight_decay, None), ("input_noise", input_noise, None)):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
            or (low is not None and value <= low)
        ):
            raise ValueError(f"{name} must be a finite number {'> 0' if low is not None else '>= 0'}, got {value!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if resume and not checkpoint_dir:
        raise ValueError("resume=True needs checkpoint_dir")
    strat = get_strategy(strategy)
    if env is None:
        env = ddp.init_distributed("cpu")
    model.to(env.device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _optimizer(optimizer, params, lr, weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) if schedule == "cosine" else None
    scaler = Amp(env.device, amp)
    torch.manual_seed(seed + 104729 * env.rank)  # distinct per-rank streams for anything random in training
    history: list[dict[str, float]] = []
    start_epoch = 0
    if resume:
        assert checkpoint_dir is not None  # checked above
        path = latest_checkpoint(checkpoint_dir)
        if path is not None:
            ckpt = load_checkpoint(
                path,
                model=model,
                optimizer=opt,
                scheduler=scheduler,
                scaler=scaler.scaler,
                rank=env.rank,
                world_size=env.world_size,
                map_location=env.device,
            )
            stored = ckpt["extra"].get("config")
            wanted = (checkpoint_extra or {}).get("config")
            if wanted is not None and stored != wanted:
                diff = {
                    k: (stored.get(k) if stored else None, v)
                    for k, v in wanted.items()
                    if not stored or stored.get(k) != v
                }
                raise ValueError(f"cannot resume from {path}: config differs (checkpoint, now): {diff}")
            start_epoch, history = int(ckpt["epoch"]), list(ckpt["history"])
            if log and env.is_main:
                log(f"resumed from {path} (epoch {start_epoch})")
    net = ddp.wrap_ddp(model, env)
    loader = ddp.make_loader(TensorDataset(x_train, y_train), batch_size, env, shuffle=True, seed=seed)
    result = FitResult(model, history, env.rank, env.world_size)

    def apply_update() -> None:
        scaler.scaler.step(opt)
        scaler.scaler.update()

    def update_within_sequence() -> None:  # Online(step_every=k): weights move every k steps of a sequence
        apply_update()
        opt.zero_grad(set_to_none=True)

    within = isinstance(strat, Online) and strat.step_every is not None
    step_kwargs = {"optimizer_step": update_within_sequence} if within else {}
    done_now = 0
    for epoch in range(start_epoch, epochs):
        if stop_after is not None and done_now >= stop_after:
            break
        cast(DistributedSampler, loader.sampler).set_epoch(epoch)  # ddp.make_loader always uses one
        net.train()
        t0 = time.perf_counter()
        sums = torch.zeros(3, dtype=torch.float64, device=env.device)
        skipped = 0
        show = show_progress if env.is_main else False
        bar = progress(loader, desc=f"{desc} {epoch + 1}/{epochs}", enable=show)
        for batch, (xb, yb) in enumerate(bar):
            xb, yb = xb.to(env.device), yb.to(env.device)
            if input_noise > 0 and xb.is_floating_point():
                xb = xb + input_noise * torch.randn_like(xb)
            if encode is not None:
                xb = encode(xb)
            opt.zero_grad(set_to_none=True)
            loss, score = strat.gradients(net, xb, yb, loss_fn, scaler, model, **step_kwargs)
            if not bool(torch.isfinite(loss)):
                if not skip_nonfinite:
                    raise ValueError(
                        f"non-finite loss {float(loss)} at epoch {epoch + 1}, batch {batch}; check the "
                        "data and the learning rate, or pass skip_nonfinite=True to skip such batches"
                    )
                opt.zero_grad(set_to_none=True)
                skipped += 1
                continue
            apply_update()
            sums += torch.stack(
                [
                    loss.double() * len(yb),
                    (score.argmax(-1) == yb).sum().double(),
                    torch.tensor(float(len(yb)), dtype=torch.float64, device=env.device),
                ]
            )
        seconds = time.perf_counter() - t0
        if scheduler is not None and sums[2] > 0:  # not after an epoch whose every batch was skipped
            scheduler.step()
        ddp.all_reduce_sum(sums, env)
        ddp.average_buffers(model, env)
        count = max(float(sums[2]), 1.0)
        record: dict[str, float] = {
            "epoch": epoch + 1,
            "train_loss": float(sums[0]) / count,
            "train_acc": float(sums[1]) / count,
            "seconds": seconds,
            "lr": opt.param_groups[0]["lr"],
        }
        if skipped:
            record["skipped"] = skipped
        if test_xy is not None:
            metrics = evaluate(
                model,
                *test_xy,
                batch_size=eval_batch_size,
                encode=encode,
                loss_fn=loss_fn,
                env=env,
                autocast=scaler.autocast,
                show_progress=show,
                desc=f"{desc} eval",
            )
            record["test_loss"], record["test_acc"] = metrics["loss"], metrics["accuracy"]
        history.append(record)
        if log and env.is_main:
            test_part = f" test_acc {record['test_acc']:.4f}" if "test_acc" in record else ""
            log(
                f"epoch {epoch + 1}/{epochs} train_loss {record['train_loss']:.4f} train_acc "
                f"{record['train_acc']:.4f}{test_part} ({seconds:.1f}s)"
            )
        if checkpoint_dir:
            rng = ddp.all_gather_objects(capture_rng_state(), env)
            if env.is_main:
                save_checkpoint(
                    checkpoint_dir,
                    model=model,
                    optimizer=opt,
                    scheduler=scheduler,
                    scaler=scaler.scaler,
                    epoch=epoch + 1,
                    rng_states=rng,
                    history=history,
                    extra=dict(checkpoint_extra or {}),
                )
            ddp.barrier(env)
        if on_epoch is not None:
            on_epoch(epoch, result)
        done_now += 1
    return result
