"""Supervised training loop for classifiers (spiking or not): mini-batch Adam/SGD on cross-entropy.

``model(encode(x)) -> scores [B, C]``; ``encode`` turns a batch of static inputs into what the model eats
(identity for direct current input or non-spiking nets, e.g. ``lambda x: rate_encode(x, T)`` for spikes).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from neuromorph.utils import check_tensor, progress

Encode = Callable[[Tensor], Tensor]


@dataclass
class FitHistory:
    """Per-epoch records of :func:`fit`; ``train_time`` is the summed wall time of the training epochs
    (evaluation excluded)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)

    @property
    def train_time(self) -> float:
        return float(sum(self.epoch_time))


def _identity(x: Tensor) -> Tensor:
    return x


def _check_xy(x: Tensor, y: Tensor, prefix: str) -> None:
    check_tensor(f"{prefix}x", x, floating=True)
    check_tensor(f"{prefix}y", y, ndim=1)
    if y.dtype != torch.int64:
        raise TypeError(f"{prefix}y must hold int64 class indices, got dtype {y.dtype}")
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"{prefix}x and {prefix}y must hold the same non-zero number of examples, "
                         f"got {x.shape[0]} and {y.shape[0]}")


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 1000, encode: Encode | None = None,
             show_progress: bool | None = None, desc: str = "eval") -> float:
    """Accuracy of ``argmax model(encode(x))`` against ``y`` (model in eval mode, restored afterwards)."""
    _check_xy(x, y, "")
    encode = encode or _identity
    was_training = model.training
    model.eval()
    correct = 0
    starts = range(0, x.shape[0], batch_size)
    for i in progress(starts, desc=desc, total=len(starts), enable=show_progress):
        scores = model(encode(x[i:i + batch_size]))
        correct += int((scores.argmax(dim=-1) == y[i:i + batch_size]).sum())
    model.train(was_training)
    return correct / x.shape[0]


def fit(model: nn.Module, x_train: Tensor, y_train: Tensor, epochs: int = 5, batch_size: int = 128,
        lr: float = 1e-3, weight_decay: float = 0.0, optimizer: str = "adam", schedule: str = "cosine",
        encode: Encode | None = None, x_test: Tensor | None = None, y_test: Tensor | None = None,
        seed: int = 0, show_progress: bool | None = None, desc: str = "train",
        on_epoch: Callable[[int, FitHistory], None] | None = None) -> FitHistory:
    """Train ``model`` with cross-entropy on ``scores = model(encode(x))``.

    Args:
        epochs, batch_size, lr, weight_decay: the usual; batches are reshuffled every epoch (``seed``).
        optimizer: ``"adam"`` or ``"sgd"`` (momentum 0.9).
        schedule: ``"cosine"`` (learning rate annealed to 0 over all steps) or ``"constant"``.
        x_test, y_test: if given, test accuracy is measured after every epoch.
        on_epoch: called as ``on_epoch(epoch_index, history)`` after each epoch.
    """
    _check_xy(x_train, y_train, "x_train/")
    if (x_test is None) != (y_test is None):
        raise ValueError("x_test and y_test must be given together")
    if x_test is not None:
        _check_xy(x_test, y_test, "x_test/")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    n = x_train.shape[0]
    steps_per_epoch = (n + batch_size - 1) // batch_size
    if schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    elif schedule == "constant":
        sched = None
    else:
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {schedule!r}")
    encode = encode or _identity
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    history = FitHistory()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        total_loss, correct, start = 0.0, 0, time.perf_counter()
        bar = progress(range(steps_per_epoch), desc=f"{desc} {epoch + 1}/{epochs}", total=steps_per_epoch,
                       enable=show_progress)
        for b in bar:
            idx = perm[b * batch_size:(b + 1) * batch_size]
            xb, yb = x_train[idx], y_train[idx]
            scores = model(encode(xb))
            loss = loss_fn(scores, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total_loss += float(loss.detach()) * idx.numel()
            correct += int((scores.detach().argmax(dim=-1) == yb).sum())
        history.epoch_time.append(time.perf_counter() - start)
        history.train_loss.append(total_loss / n)
        history.train_acc.append(correct / n)
        if x_test is not None:
            history.test_acc.append(evaluate(model, x_test, y_test, encode=encode, show_progress=show_progress,
                                             desc=f"{desc} eval"))
        if on_epoch is not None:
            on_epoch(epoch, history)
    return history


@torch.no_grad()
def measure_spike_rates(model: nn.Module, x: Tensor, batch_size: int = 1000,
                        encode: Encode | None = None) -> dict[str, float]:
    """Firing rate (spikes per neuron per step) of each LIF layer of a spiking model over all of ``x``,
    plus ``"all"``: the rate over every LIF neuron together. The model must expose ``recorder``
    (a :class:`~neuromorph.models._recording.SpikeRecorder`, as :class:`SpikingMLP`/:class:`SpikingCNN` do).
    """
    check_tensor("x", x, floating=True)
    recorder = getattr(model, "recorder", None)
    if recorder is None:
        raise TypeError(f"model must record spikes (have a .recorder), got {type(model).__name__}")
    encode = encode or _identity
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for i in range(0, x.shape[0], batch_size):
        model(encode(x[i:i + batch_size]))
        for k in recorder.totals:
            totals[k] = totals.get(k, 0.0) + recorder.totals[k]
            counts[k] = counts.get(k, 0) + recorder.counts[k]
    model.train(was_training)
    rates = {k: totals[k] / counts[k] for k in totals}
    rates["all"] = sum(totals.values()) / max(sum(counts.values()), 1)
    return rates
