"""Homeostatic plasticity: synaptic scaling, weight normalisation and adaptive-threshold homeostasis.

* Synaptic scaling (multiplicative, per postsynaptic neuron ``j`` with firing rate ``r_j``)::

      W[j, :] <- W[j, :] * (1 + eta * (r_target - r_j) / r_target)

  neurons firing above the target shrink all their input weights in proportion, silent ones grow them.
* Weight normalisation: ``W[j, :] <- W[j, :] * total / sum_i |W[j, i]|`` (fixed input budget per neuron).
* Adaptive threshold (intrinsic plasticity)::

      theta_j <- max(theta_min, theta_j + eta * (r_j - r_target))

  applied to a layer with per-neuron thresholds by :func:`adapt_threshold`.

Rates are spike counts divided by the number of steps (and batch), shaped ``[out]``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from neuromorph.neurons.parametrize import Positive
from neuromorph.utils import check_tensor


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def firing_rates(spikes: Tensor) -> Tensor:
    """Mean firing rate per neuron of ``spikes [T, B, N]`` or ``[B, N]`` -> ``[N]``.

    >>> firing_rates(torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])).tolist()
    [1.0, 0.5]
    """
    check_tensor("spikes", spikes, ndim=(2, 3), floating=True)
    return spikes.reshape(-1, spikes.shape[-1]).mean(0)


def synaptic_scaling(weight: Tensor, rates: Tensor, target_rate: float, eta: float = 0.1) -> Tensor:
    """Multiplicatively scaled copy of ``weight [out, in]`` (see the module docstring).

    >>> w = synaptic_scaling(torch.ones(2, 2), torch.tensor([0.2, 0.0]), target_rate=0.1, eta=1.0)
    >>> w[0, 0].item() < 1.0 < w[1, 0].item()    # too active -> weaker inputs, silent -> stronger
    True
    """
    check_tensor("weight", weight, ndim=2, floating=True)
    check_tensor("rates", rates, ndim=1, floating=True)
    if rates.shape[0] != weight.shape[0]:
        raise ValueError(f"rates must have one entry per output neuron ({weight.shape[0]}), got {rates.shape[0]}")
    target_rate, eta = _positive("target_rate", target_rate), _positive("eta", eta)
    factor = (1 + eta * (target_rate - rates) / target_rate).clamp_min(0.0)
    return weight * factor.unsqueeze(1)


def normalize_weights(weight: Tensor, total: float) -> Tensor:
    """Copy of ``weight [out, in]`` whose rows have L1 norm ``total``.

    >>> normalize_weights(torch.tensor([[1.0, 3.0], [2.0, 2.0]]), total=1.0).tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    check_tensor("weight", weight, ndim=2, floating=True)
    total = _positive("total", total)
    return weight * (total / weight.abs().sum(1, keepdim=True).clamp_min(1e-12))


def homeostatic_threshold(
    threshold: Tensor, rates: Tensor, target_rate: float, eta: float = 0.05, theta_min: float = 1e-3
) -> Tensor:
    """New thresholds ``max(theta_min, theta + eta * (rates - target_rate))``.

    >>> theta = homeostatic_threshold(torch.tensor([1.0, 1.0]), torch.tensor([0.3, 0.0]), target_rate=0.1, eta=1.0)
    >>> [round(v, 3) for v in theta.tolist()]
    [1.2, 0.9]
    """
    check_tensor("threshold", threshold, floating=True)
    check_tensor("rates", rates, floating=True)
    if threshold.shape != rates.shape:
        raise ValueError(
            f"threshold and rates must have the same shape, got {tuple(threshold.shape)} and {tuple(rates.shape)}"
        )
    target_rate, eta = _positive("target_rate", target_rate), _positive("eta", eta)
    return (threshold + eta * (rates - target_rate)).clamp_min(_positive("theta_min", theta_min))


@torch.no_grad()
def adapt_threshold(
    layer: nn.Module, rates: Tensor, target_rate: float, eta: float = 0.05, theta_min: float = 1e-3
) -> Tensor:
    """Apply :func:`homeostatic_threshold` in place to ``layer.threshold`` (a per-neuron
    :class:`~neuromorph.neurons.parametrize.Positive`, e.g. ``LIF(num_neurons=N)``); returns the new values.

    >>> from neuromorph import LIF
    >>> layer = LIF(threshold=1.0, num_neurons=2)
    >>> [round(v, 3) for v in adapt_threshold(layer, torch.tensor([0.5, 0.0]), target_rate=0.1, eta=1.0).tolist()]
    [1.4, 0.9]
    """
    param = getattr(layer, "threshold", None)
    if not isinstance(param, Positive):
        raise TypeError(f"layer must have a Positive 'threshold' (LIF, ALIF, SynapticLIF), got {type(layer).__name__}")
    current = param()
    if current.shape != rates.shape:
        raise ValueError(
            f"layer needs per-neuron thresholds of shape {tuple(rates.shape)} "
            f"(num_neurons=...), got {tuple(current.shape)}"
        )
    new = homeostatic_threshold(current, rates, target_rate, eta, theta_min)
    if param.learnable:
        param.raw.copy_(Positive._inverse(new))
    else:
        param.fixed.copy_(new)
    return new
