"""Latency (time-to-first-spike) coding: stronger inputs fire earlier, each element fires at most once.

For ``x`` in ``[0, 1]``, ``T`` steps and a cut-off ``threshold`` (inputs below it stay silent):

* ``method="linear"``: ``t_f = round((T - 1) * (1 - x))``                 (x = 1 -> step 0, x = 0 -> T-1)
* ``method="log"``:    ``t_f = round((T - 1) * ln(x) / ln(threshold))``   (x = 1 -> step 0, x = threshold -> T-1)

The log variant spends more time resolution on small intensities. Decoding inverts the map from the
first-spike step: ``x_hat = 1 - t_f / (T - 1)`` (linear) or ``x_hat = threshold ** (t_f / (T - 1))`` (log);
silent elements decode to 0. With rounding, the linear round-trip error is at most ``1 / (2 (T - 1))``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from neuromorph.utils import check_tensor

LATENCY_METHODS = ("linear", "log")


def _check_common(num_steps: int, threshold: float, method: str) -> None:
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 2:
        raise ValueError(f"num_steps must be an int >= 2, got {num_steps!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
    if method not in LATENCY_METHODS:
        raise ValueError(f"method must be one of {LATENCY_METHODS}, got {method!r}")


def spike_times(x: Tensor, num_steps: int, method: str = "linear", threshold: float = 0.01) -> Tensor:
    """First-spike step of every element (float, ``inf`` where ``x < threshold``).

    >>> spike_times(torch.tensor([1.0, 0.5, 0.0]), 5).tolist()
    [0.0, 2.0, inf]
    """
    check_tensor("x", x, floating=True, finite=True)
    _check_common(num_steps, threshold, method)
    xc = x.clamp(max=1.0)
    if method == "linear":
        t = (num_steps - 1) * (1.0 - xc)
    else:
        t = (num_steps - 1) * torch.log(xc.clamp_min(threshold)) / math.log(threshold)
    t = torch.round(t).clamp(0, num_steps - 1)
    return torch.where(x >= threshold, t, torch.full_like(t, math.inf))


def latency_encode(x: Tensor, num_steps: int, method: str = "linear", threshold: float = 0.01) -> Tensor:
    """Spike train ``[T, ...]`` with one spike per element at :func:`spike_times` (none when silent).

    >>> latency_encode(torch.tensor([1.0, 0.5, 0.0]), 5).t().tolist()
    [[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]]
    """
    t = spike_times(x, num_steps, method, threshold)
    steps = torch.arange(num_steps, device=x.device, dtype=x.dtype).view(-1, *([1] * x.dim()))
    return (steps == t.unsqueeze(0)).to(x.dtype)


def first_spike_time(spikes: Tensor) -> Tensor:
    """Index of the first spike along dim 0 of ``[T, ...]`` spikes (float, ``inf`` when silent).

    >>> first_spike_time(torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])).tolist()
    [1.0, inf]
    """
    check_tensor("spikes", spikes, floating=True)
    if spikes.dim() < 1:
        raise ValueError("spikes must have a leading time dimension, got a scalar")
    fired = spikes > 0
    idx = fired.to(torch.int8).argmax(dim=0).to(spikes.dtype)
    return torch.where(fired.any(dim=0), idx, torch.full_like(idx, math.inf))


def latency_decode(spikes: Tensor, method: str = "linear", threshold: float = 0.01) -> Tensor:
    """Invert :func:`latency_encode`: ``[T, ...]`` spikes -> intensities ``[...]`` (silent -> 0).

    >>> x = torch.tensor([1.0, 0.5, 0.0])
    >>> latency_decode(latency_encode(x, 5)).tolist()
    [1.0, 0.5, 0.0]
    """
    check_tensor("spikes", spikes, floating=True)
    num_steps = spikes.shape[0] if spikes.dim() else 0
    _check_common(num_steps, threshold, method)
    t = first_spike_time(spikes)
    frac = t / (num_steps - 1)
    x = 1.0 - frac if method == "linear" else torch.pow(torch.full_like(frac, threshold), frac)
    return torch.where(torch.isfinite(t), x, torch.zeros_like(x))


class LatencyEncoder(nn.Module):
    """Module form of :func:`latency_encode`: ``[B, ...] -> [T, B, ...]``.

    >>> LatencyEncoder(num_steps=5)(torch.tensor([[1.0, 0.5, 0.0]]))[:, 0].argmax(0).tolist()
    [0, 2, 0]
    """

    def __init__(self, num_steps: int, method: str = "linear", threshold: float = 0.01) -> None:
        super().__init__()
        _check_common(num_steps, threshold, method)
        self.num_steps, self.method, self.threshold = num_steps, method, float(threshold)

    def forward(self, x: Tensor) -> Tensor:
        return latency_encode(x, self.num_steps, self.method, self.threshold)

    def extra_repr(self) -> str:
        return f"num_steps={self.num_steps}, method={self.method!r}, threshold={self.threshold}"


class LatencyDecoder(nn.Module):
    """Class scores from output spikes, earliest first spike wins: ``scores = -t_f``, silent -> ``-T``.

    ``[T, B, C] -> [B, C]``; :meth:`predict` is the argmax (the class whose neuron fired first).

    >>> spikes = torch.zeros(4, 1, 3)
    >>> spikes[2, 0, 0] = spikes[1, 0, 2] = 1.0          # class 2 fires first, class 1 stays silent
    >>> LatencyDecoder()(spikes).tolist()
    [[-2.0, -4.0, -1.0]]
    """

    def forward(self, spikes: Tensor) -> Tensor:
        check_tensor("spikes", spikes, ndim=3, floating=True)
        t = first_spike_time(spikes)
        t = torch.where(torch.isfinite(t), t, torch.full_like(t, float(spikes.shape[0])))
        return -t

    def predict(self, spikes: Tensor) -> Tensor:
        return self(spikes).argmax(dim=-1)
