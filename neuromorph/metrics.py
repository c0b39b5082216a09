"""The one place for classification metrics and spike statistics.

Model outputs follow one convention: ``[B, C]`` scores, or ``[T, B, C]`` per-step outputs whose time mean is
the score (:func:`scores`). :func:`evaluate` reports loss and accuracy over a data set (sharded across DDP ranks
when given a distributed environment); :func:`spike_rates` measures the firing rate of every spiking neuron
layer of any model through forward hooks; :func:`synaptic_operations` counts the synaptic operations (accumulates for
spike inputs, multiply-accumulates otherwise) of every Linear and Conv layer.

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
        raise ValueError(
            f"model output must be [B, C] or [T, B, C] for labels of shape {tuple(labels.shape)}, "
            f"got {tuple(out.shape)}"
        )
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
def evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    batch_size: int = 1000,
    encode: Optional[Encode] = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
    env: Any = None,
    autocast: Optional[Callable[[], Any]] = None,
    show_progress: Optional[bool] = None,
    desc: str = "eval",
) -> dict[str, float]:
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
        sel = rows[start : start + batch_size]
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
        sums += torch.stack(
            [
                loss_of(loss_fn, out, yb).double() * len(yb),
                (s.argmax(-1) == yb).sum().double(),
                torch.tensor(float(len(yb)), dtype=torch.float64, device=device),
            ]
        )
    reset(model)
    model.train(was_training)
    if env is not None:
        from neuromorph.training import ddp

        ddp.all_reduce_sum(sums, env)
    count = max(float(sums[2]), 1.0)
    return {"loss": float(sums[0]) / count, "accuracy": float(sums[1]) / count, "count": float(sums[2])}


def _run_with_hooks(
    model: nn.Module, x: Tensor, hooks: dict[nn.Module, Callable[..., None]], batch_size: int, encode: Optional[Encode]
) -> None:
    """Run ``model`` in eval mode over ``x`` in batches (states reset before each) with forward ``hooks``
    installed; hooks, states and the training flag are restored afterwards."""
    check_tensor("x", x, finite=True)
    check_positive_int("batch_size", batch_size)
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one example")
    handles = [m.register_forward_hook(h) for m, h in hooks.items()]
    was_training = model.training
    model.eval()
    try:
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size]
            reset(model)
            model(encode(xb) if encode is not None else xb)
    finally:
        for handle in handles:
            handle.remove()
        reset(model)
        model.train(was_training)


@torch.no_grad()
def spike_rates(
    model: nn.Module, x: Tensor, *, batch_size: int = 1000, encode: Optional[Encode] = None
) -> dict[str, float]:
    """Firing rate (spikes per neuron per step) of every spiking neuron layer of ``model`` over ``x``, keyed by
    module name, plus ``"all"`` over every spiking neuron together. Works for any model (forward hooks).
    ``x`` holds one example per row of its first dim; ``encode`` turns a batch into the model's input.

    >>> import torch
    >>> from neuromorph import LIF
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), LIF(0.9))
    >>> rates = spike_rates(net, torch.ones(3, 4), encode=lambda xb: xb.expand(10, -1, -1))
    >>> sorted(rates), 0.0 <= rates["all"] <= 1.0
    (['1', 'all'], True)
    """
    totals: dict[str, list[float]] = {}
    layers = {name: m for name, m in model.named_modules() if isinstance(m, Neuron) and m.spiking}
    if not layers:
        raise ValueError(f"{type(model).__name__} has no spiking neuron layer")

    def hook_for(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple, out: Tensor) -> None:
            acc = totals.setdefault(name, [0.0, 0.0])
            acc[0] += float(out.sum())
            acc[1] += out.numel()

        return hook

    _run_with_hooks(model, x, {m: hook_for(name) for name, m in layers.items()}, batch_size, encode)
    rates = {name: s / n for name, (s, n) in totals.items()}
    rates["all"] = sum(s for s, _ in totals.values()) / max(sum(n for _, n in totals.values()), 1.0)
    return rates


#: Energy per operation in 45 nm CMOS, 32-bit float (Horowitz, ISSCC 2014): a multiply-accumulate costs a
#: multiply (3.7 pJ) plus an add (0.9 pJ); an accumulate (a spike selecting a weight) costs the add only.
ENERGY_PER_MAC_PJ = 4.6
ENERGY_PER_AC_PJ = 0.9


def _check_countable(name: str, module: nn.Module) -> None:
    """Conv layers are counted for zero padding given as numbers only; anything else raises, naming the layer."""
    if isinstance(module, nn.modules.conv._ConvNd) and (
        module.padding_mode != "zeros" or isinstance(module.padding, str)
    ):
        raise ValueError(
            f"synaptic_operations supports zero padding given as numbers, got padding_mode="
            f"{module.padding_mode!r} padding={module.padding!r} in layer {name!r}"
        )


def _effective_operations(module: nn.Module, nonzero: Tensor, out: Tensor) -> tuple[float, float]:
    """``(dense, effective)`` synaptic operations of one call of a Linear/Conv layer whose input has the
    non-zero indicator ``nonzero`` (float32): dense counts every weight use, effective only those whose input is
    non-zero (exactly: the layer applied, with all-ones weights and no bias, to the indicator, summed)."""
    if isinstance(module, nn.Linear):
        dense = nonzero.numel() * module.out_features
        return float(dense), float(nonzero.sum()) * module.out_features
    assert isinstance(module, nn.modules.conv._ConvNd)  # _check_countable ran on every counted layer
    ones = torch.ones_like(module.weight, dtype=torch.float32)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[ones.dim() - 2]
    count = conv(nonzero, ones, None, module.stride, module.padding, module.dilation, module.groups).sum()
    dense = out.numel() * ones[0].numel()
    return float(dense), float(count)


@torch.no_grad()
def synaptic_operations(
    model: nn.Module, x: Tensor, *, batch_size: int = 1000, encode: Optional[Encode] = None
) -> dict[str, dict[str, float]]:
    """Synaptic operations per example of every ``nn.Linear`` / ``nn.Conv1d/2d/3d`` layer of ``model`` over
    ``x`` (the NeuroBench convention), keyed by module name, plus ``"total"``.

    For each call of a layer with input ``s``: ``dense`` = every weight use (``numel(s) * F_out`` for a
    Linear, ``numel(out) * F_in/groups * prod(kernel)`` for a conv); ``effective`` = the weight uses whose input
    is non-zero (``nnz(s) * F_out`` for a Linear; exact per output position for a conv, padding excluded). A call
    whose input is binary (every value 0 or 1: spikes) adds its effective operations to ``acs`` (accumulates:
    a spike selects a weight, no multiply); any other input adds them to ``macs``. ``input_rate`` = non-zero
    fraction of the layer's inputs; ``energy_uj`` = ``macs * 4.6 pJ + acs * 0.9 pJ`` (45 nm, 32-bit float,
    Horowitz 2014; :data:`ENERGY_PER_MAC_PJ`, :data:`ENERGY_PER_AC_PJ`) in microjoules per example. Matrix
    products between activations (e.g. spiking attention ``Q K^T``) are not layers and are not counted here.

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> ops = synaptic_operations(net, torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    >>> ops["0"]["acs"], ops["0"]["dense"]      # binary input: 2 of 4 inputs active, 3 outputs each
    (6.0, 12.0)
    """
    layers = {name: m for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))}
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Linear or nn.Conv layer")
    for name, module in layers.items():
        _check_countable(name, module)
    keys = ("dense", "effective", "acs", "macs", "nonzero", "inputs")
    totals = {name: dict.fromkeys(keys, 0.0) for name in layers}

    def hook_for(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple, out: Tensor) -> None:
            inp = args[0]
            nonzero = (inp != 0).to(torch.float32)
            dense, effective = _effective_operations(module, nonzero, out)
            binary = bool(((inp == 0) | (inp == 1)).all())
            acc = totals[name]
            acc["dense"] += dense
            acc["effective"] += effective
            acc["acs" if binary else "macs"] += effective
            acc["nonzero"] += float(nonzero.sum())
            acc["inputs"] += inp.numel()

        return hook

    _run_with_hooks(model, x, {m: hook_for(name) for name, m in layers.items()}, batch_size, encode)
    n = float(x.shape[0])
    result: dict[str, dict[str, float]] = {}
    for name, acc in totals.items():
        row = {k: acc[k] / n for k in ("dense", "effective", "acs", "macs")}
        row["input_rate"] = acc["nonzero"] / acc["inputs"] if acc["inputs"] else float("nan")
        row["energy_uj"] = (row["macs"] * ENERGY_PER_MAC_PJ + row["acs"] * ENERGY_PER_AC_PJ) * 1e-6
        result[name] = row
    total = {k: sum(r[k] for r in result.values()) for k in ("dense", "effective", "acs", "macs", "energy_uj")}
    inputs = sum(acc["inputs"] for acc in totals.values())
    total["input_rate"] = sum(acc["nonzero"] for acc in totals.values()) / inputs if inputs else float("nan")
    result["total"] = total
    return result
