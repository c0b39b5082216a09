"""Spike-rate bookkeeping shared by the spiking models."""

from __future__ import annotations

import torch
from torch import Tensor

from neuromorph.synapses.compact import tagged_compact_spikes


class SpikeRecorder:
    """Per named spiking layer of the last forward pass: the spike total, the neuron-step count and the
    per-neuron rate (spikes ``[T, B, ...]`` averaged over time and batch).

    Recording costs almost nothing per forward pass: when the layer's spikes come with the byte copy the
    compiled LIF kernel writes anyway (:mod:`neuromorph.synapses.compact`), only a reference to it is kept and
    the counts are taken when :meth:`rates`, :meth:`mean_rate` or :attr:`per_neuron` are read; other spike
    tensors are counted at once (as before). ``keep_spikes=True`` also keeps a detached copy of each layer's
    spike tensor (for rasters).
    """

    def __init__(self) -> None:
        self.keep_spikes = False
        self.clear()

    def clear(self) -> None:
        self._totals: dict[str, float] = {}
        self._per_neuron: dict[str, Tensor] = {}
        self._pending: dict[str, tuple[Tensor, torch.dtype]] = {}  # byte copies not counted yet
        self.counts: dict[str, int] = {}
        self.spikes: dict[str, Tensor] = {}

    def record(self, name: str, spikes: Tensor) -> None:
        self.counts[name] = spikes.numel()
        spikes_u8 = tagged_compact_spikes(spikes)
        if spikes_u8 is not None:  # immutable 0/1 bytes of the same values: count them when asked
            self._pending[name] = (spikes_u8, spikes.dtype)
            self._totals.pop(name, None)
            self._per_neuron.pop(name, None)
        else:
            self._pending.pop(name, None)
            self._count(name, spikes.detach())
        if self.keep_spikes:
            self.spikes[name] = spikes.detach()

    def _count(self, name: str, spikes: Tensor) -> None:
        with torch.no_grad():
            self._totals[name] = float(spikes.sum())
            # [T, B, ...] -> per-neuron rate [...]
            self._per_neuron[name] = spikes.flatten(0, 1).mean(dim=0)

    def _settle(self) -> None:
        for name, (spikes_u8, dtype) in self._pending.items():
            self._count(name, spikes_u8.to(dtype))
        self._pending.clear()

    @property
    def totals(self) -> dict[str, float]:
        """Spike total of each layer."""
        self._settle()
        return self._totals

    @property
    def per_neuron(self) -> dict[str, Tensor]:
        """Per-neuron firing rate of each layer (averaged over time and batch)."""
        self._settle()
        return self._per_neuron

    def rates(self) -> dict[str, float]:
        """Mean firing rate (spikes per neuron per step) of each layer."""
        totals = self.totals
        return {k: totals[k] / max(n, 1) for k, n in self.counts.items()}

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
