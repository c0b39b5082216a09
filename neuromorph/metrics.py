"""The one place for classification metrics and spike statistics.

Model outputs follow one convention: ``[B, C]`` scores, or ``[T, B, C]`` per-step outputs whose time mean is
the score (:func:`scores`). :func:`evaluate` reports loss and accuracy over a data set (sharded across DDP ranks
when given a distributed environment); :func:`spike_rates` measures the firing rate of every spiking neuron
layer of any model through forward hooks.

>>> import torch
>>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
0.5
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuromorph.neurons.base import reset
from neuromorph.neurons.protocol import Neuron
from neuromorph.utils import check_positive_int, check_tensor, progress

Encode = Callable[[Tensor], Tensor]


def is_per_step(out: Tensor, target: Tensor) -> bool:
    """Whether ``out`` carries a leading time axis for ``target``: ``[T, B, C]`` for class labels ``[B]``,
    ``[T, *target.shape]`` for any other target.

    >>> labels = torch.tensor([0, 1])
    >>> is_per_step(torch.zeros(4, 2, 3), labels), is_per_step(torch.zeros(2, 3), labels)
    (True, False)
    """
    extra = 2 if not target.is_floating_point() else 1
    return out.dim() == target.dim() + extra


def scores(out: Tensor, labels: Tensor) -> Tensor:
    """``[B, C]`` scores from a model output for class labels ``[B]``: ``out`` itself, or its time mean for
    per-step outputs ``[T, B, C]``.

    >>> scores(torch.arange(12.0).reshape(2, 2, 3), torch.tensor([0, 1])).tolist()
    [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
    """
    if is_per_step(out, labels):
        return out.mean(0)
    if out.dim() != labels.dim() + 1:
        raise ValueError(f"model output must be [B, C] or [T, B, C] for labels of shape {tuple(labels.shape)}, "
                         f"got {tuple(out.shape)}")
    return out


def sequence_loss(loss_fn: Callable[[Tensor, Tensor], Tensor], out: Tensor, target: Tensor) -> Tensor:
    """``sum_t loss_fn(out[t], target)`` over the leading time axis of ``out [T, B, ...]`` (one batched call for
    cross-entropy with class labels).

    >>> round(sequence_loss(F.mse_loss, torch.ones(3, 2), torch.zeros(2)).item(), 4)
    3.0
    """
    steps = out.shape[0]
    if loss_fn is F.cross_entropy and target.dim() == 1:
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), target.repeat(steps)) * steps
    return sum((loss_fn(out[t], target) for t in range(steps)), out.new_zeros(()))


def loss_of(loss_fn: Callable[[Tensor, Tensor], Tensor], out: Tensor, labels: Tensor) -> Tensor:
    """Loss of an output: ``loss_fn(out, labels)`` for ``[B, C]``; ``(1/T) sum_t loss_fn(out_t, labels)`` for
    per-step outputs ``[T, B, C]`` (and likewise ``[T, *target.shape]`` for other targets).

    >>> out = torch.zeros(4, 2, 3)                       # T=4 steps, batch 2, 3 classes
    >>> round(loss_of(F.cross_entropy, out, torch.tensor([0, 2])).item(), 4)   # log(3)
    1.0986
    """
    if is_per_step(out, labels):
        return sequence_loss(loss_fn, out, labels) / out.shape[0]
    return loss_fn(out, labels)


def accuracy(score: Tensor, labels: Tensor) -> float:
    """Fraction of rows whose arg-max equals the label (``score`` may be ``[T, B, C]``, see :func:`scores`).

    >>> accuracy(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 1]))
    1.0
    """
    check_tensor("labels", labels)
    s = scores(score, labels)
    if s.shape[0] != labels.shape[0]:
        raise ValueError(f"score has {s.shape[0]} rows but labels has {labels.shape[0]}")
    return float((s.argmax(-1) == labels).float().mean()) if labels.numel() else float("nan")


@torch.no_grad()
def evaluate(model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = 1000, encode: Optional[Encode] = None,
             loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy, env: Any = None,
             autocast: Optional[Callable[[], Any]] = None, show_progress: Optional[bool] = None,
             desc: str = "eval") -> dict[str, float]:
    """``{"loss", "accuracy", "count"}`` of ``model`` on ``(x, y)``; neuron states are reset before every batch.

    ``x`` holds one example per row of its first dim; ``encode`` turns a batch of them into the model's input
    (e.g. a rate code ``[T, B, ...]``).

    With a distributed ``env`` (:class:`neuromorph.training.ddp.DistEnv`) every rank scores the rows
    ``rank::world`` and the sums are all-reduced, so every rank returns the metrics of the whole set.

    >>> model = torch.nn.Linear(2, 2)
    >>> result = evaluate(model, torch.rand(5, 2), torch.tensor([0, 1, 0, 1, 1]))
    >>> sorted(result), result["count"]
    (['accuracy', 'count', 'loss'], 5.0)
    """
    check_tensor("x", x)
    check_tensor("y", y, ndim=1)
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x and y must hold the same non-zero number of examples, got {x.shape[0]} and {y.shape[0]}")
    check_positive_int("batch_size", batch_size)
    was_training = model.training
    model.eval()
    if env is not None:
        from neuromorph.training import ddp

        rows = torch.as_tensor(list(ddp.shard_indices(x.shape[0], env)), dtype=torch.long)
        device = env.device
    else:
        rows, device = torch.arange(x.shape[0]), x.device
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    starts = range(0, len(rows), batch_size)
    for start in progress(starts, desc=desc, total=len(starts), enable=show_progress):
        sel = rows[start:start + batch_size]
        xb, yb = x[sel].to(device), y[sel].to(device)
        if encode is not None:
            xb = encode(xb)
        reset(model)
        if autocast is not None:
            with autocast():
                out = model(xb)
        else:
            out = model(xb)
        out = out.float()
        s = scores(out, yb)
        sums += torch.stack([loss_of(loss_fn, out, yb).double() * len(yb), (s.argmax(-1) == yb).sum().double(),
                             torch.tensor(float(len(yb)), dtype=torch.float64, device=device)])
    reset(model)
    model.train(was_training)
    if env is not None:
        from neuromorph.training import ddp

        ddp.all_reduce_sum(sums, env)
    count = max(float(sums[2]), 1.0)
    return {"loss": float(sums[0]) / count, "accuracy": float(sums[1]) / count, "count": float(sums[2])}


@torch.no_grad()
def spike_rates(model: nn.Module, x: Tensor, *, batch_size: int = 1000, encode: Optional[Encode] = None
                ) -> dict[str, float]:
    """Firing rate (spikes per neuron per step) of every spiking neuron layer of ``model`` over ``x``, keyed by
    module name, plus ``"all"`` over every spiking neuron together. Works for any model (forward hooks).
    ``x`` holds one example per row of its first dim; ``encode`` turns a batch into the model's input.

    >>> from neuromorph import LIF
    >>> model = torch.nn.Sequential(torch.nn.Linear(2, 4), LIF(threshold=1e-3))
    >>> with torch.no_grad():
    ...     _ = model[0].weight.fill_(1.0), model[0].bias.zero_()
    >>> spike_rates(model, torch.ones(3, 5, 2), encode=lambda x: x.transpose(0, 1))
    {'1': 1.0, 'all': 1.0}
    """
    check_tensor("x", x)
    totals: dict[str, list[float]] = {}
    layers = {name: m for name, m in model.named_modules() if isinstance(m, Neuron) and m.spiking}
    if not layers:
        raise ValueError(f"{type(model).__name__} has no spiking neuron layer")

    def hook_for(name: str):
        def hook(module: nn.Module, args: tuple, out: Tensor) -> None:
            acc = totals.setdefault(name, [0.0, 0.0])
            acc[0] += float(out.sum())
            acc[1] += out.numel()
        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in layers.items()]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size]
            reset(model)
            model(encode(xb) if encode is not None else xb)
    finally:
        for h in handles:
            h.remove()
        reset(model)
        model.train(was_training)
    rates = {name: s / n for name, (s, n) in totals.items()}
    rates["all"] = sum(s for s, _ in totals.values()) / max(sum(n for _, n in totals.values()), 1.0)
    return rates
