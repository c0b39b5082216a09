"""Spike-rate bookkeeping shared by the spiking models."""
from __future__ import annotations

import torch
from torch import Tensor


class SpikeRecorder:
    """Collects, per named LIF layer, the spike total and neuron-step count of the last forward pass.

    ``keep_spikes=True`` also keeps a detached copy of each layer's spike tensor (for rasters).
    """

    def __init__(self) -> None:
        self.keep_spikes = False
        self.clear()

    def clear(self) -> None:
        self.totals: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.spikes: dict[str, Tensor] = {}
        self.per_neuron: dict[str, Tensor] = {}

    def record(self, name: str, spikes: Tensor) -> None:
        with torch.no_grad():
            self.totals[name] = float(spikes.sum())
            self.counts[name] = spikes.numel()
            # [T, B, ...] -> per-neuron rate [...]
            self.per_neuron[name] = spikes.flatten(0, 1).mean(dim=0).detach()
        if self.keep_spikes:
            self.spikes[name] = spikes.detach()

    def rates(self) -> dict[str, float]:
        """Mean firing rate (spikes per neuron per step) of each layer."""
        return {k: self.totals[k] / max(self.counts[k], 1) for k in self.totals}

    def mean_rate(self) -> float:
        """Spikes per neuron per step over all recorded layers together."""
        total = sum(self.counts.values())
        if total == 0:
            raise RuntimeError("no spikes recorded yet: run a forward pass first")
        return sum(self.totals.values()) / total


def seq_apply(module: torch.nn.Module, x: Tensor) -> Tensor:
    """Apply a stateless per-sample module to every step of ``[T, B, ...]`` at once (as ``[T*B, ...]``)."""
    y = module(x.flatten(0, 1))
    return y.reshape(x.shape[0], x.shape[1], *y.shape[1:])
