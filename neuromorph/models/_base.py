"""Shared plumbing of the spiking feed-forward models: input handling, neuron factories, readouts, spike
recording and state reset.

Readouts (what ``forward`` returns):

* ``readout="rate"``:     the output layer is spiking; per step it emits ``s_out[t]``, the score is the spike count
  ``sum_t s_out[t]``.
* ``readout="membrane"``: the output layer is a non-spiking leaky integrator ``v_t = beta_out v_{t-1} + W h_t + b``;
  the score is ``(1/T) sum_t v_t``.

``output="mean"`` returns the score ``[B, C]``; ``output="sequence"`` returns the per-step outputs ``[T, B, C]``
(what online learning trains on; :func:`neuromorph.metrics.scores` turns them into the same score).

Neuron factories: ``neuron`` is a callable ``shape -> neuron layer`` (``shape`` = ``(width,)`` for dense layers,
``(channels, 1, 1)`` for convolution maps) or a registry name (:data:`neuromorph.neurons.NEURONS`, built with
its defaults and per-neuron parameters of that shape). By default a LIF with the model's LIF arguments.
"""

from __future__ import annotations

from typing import Callable, Union

from torch import Tensor, nn

from neuromorph.models._recording import SpikeRecorder, seq_apply
from neuromorph.neurons import LIF, get_neuron, reset
from neuromorph.neurons.protocol import Neuron
from neuromorph.surrogate import Surrogate
from neuromorph.utils import check_choice, check_positive_int, check_tensor

READOUTS = ("rate", "membrane")
OUTPUTS = ("mean", "sequence")
NeuronFactory = Callable[[tuple[int, ...]], Neuron]
NeuronSpec = Union[str, NeuronFactory, None]


def neuron_factory(
    neuron: NeuronSpec,
    beta: float,
    threshold: float,
    surrogate: str | Surrogate,
    reset_mode: str,
    learn_beta: bool,
    learn_threshold: bool,
    detach_reset: bool,
) -> NeuronFactory:
    """A ``shape -> neuron`` factory from a model's ``neuron`` argument (see the module docstring)."""
    if neuron is None:
        per_neuron = learn_beta or learn_threshold

        def lif(shape: tuple[int, ...]) -> Neuron:
            return LIF(
                beta=beta,
                threshold=threshold,
                surrogate=surrogate,
                reset=reset_mode,
                learn_beta=learn_beta,
                learn_threshold=learn_threshold,
                detach_reset=detach_reset,
                num_neurons=shape if per_neuron else None,
            )

        return lif
    if isinstance(neuron, str):
        cls = get_neuron(neuron)
        # every registered neuron takes num_neurons (neuron protocol); the Neuron base constructor does not
        return lambda shape: cls(num_neurons=shape)  # type: ignore[call-arg]
    if not callable(neuron):
        raise TypeError(f"neuron must be None, a registry name or a callable shape -> neuron, got {neuron!r}")

    def checked(shape: tuple[int, ...]) -> Neuron:
        layer = neuron(shape)
        if not isinstance(layer, Neuron):
            raise TypeError(
                f"the neuron factory must return a neuron layer (neuromorph.neurons.Neuron), got {type(layer).__name__}"
            )
        return layer

    return checked


class SpikingNet(nn.Module):
    """Base of :class:`~neuromorph.models.SpikingMLP` and :class:`~neuromorph.models.SpikingCNN`."""

    out: nn.Module  # readout synapses and neurons, set by the subclass
    out_neurons: nn.Module

    def __init__(self, num_steps: int, readout: str, stateful: bool, output: str = "mean") -> None:
        super().__init__()
        self.num_steps = check_positive_int("num_steps", num_steps)
        self.readout = check_choice("readout", readout, READOUTS)
        self.output = check_choice("output", output, OUTPUTS)
        self.stateful = bool(stateful)
        self.recorder = SpikeRecorder()

    def _spiking(self, name: str, layer: nn.Module, x: Tensor) -> Tensor:
        s = layer(x)
        self.recorder.record(name, s)
        return s

    def _prepare(self, x: Tensor, static_ndim: int) -> tuple[Tensor, bool]:
        """Validate input; returns ``(x, is_static)``."""
        check_tensor("x", x, ndim=(static_ndim, static_ndim + 1), floating=True)
        if not self.stateful:
            reset(self)
        self.recorder.clear()
        return x, x.dim() == static_ndim

    def _first(self, layer: nn.Module, x: Tensor, static: bool) -> Tensor:
        if static:  # W x is the same at every step: compute it once, broadcast over time
            y = layer(x)
            return y.unsqueeze(0).expand(self.num_steps, *y.shape)
        return seq_apply(layer, x)

    def _readout(self, h: Tensor) -> Tensor:
        y = seq_apply(self.out, h)
        if self.readout == "rate":
            per_step = self._spiking("out", self.out_neurons, y)
            return per_step if self.output == "sequence" else per_step.sum(dim=0)
        v = self.out_neurons(y)
        return v if self.output == "sequence" else v.mean(dim=0)

    # -- spike statistics --------------------------------------------------------------------------
    def spike_rates(self) -> dict[str, float]:
        """Mean firing rate (spikes per neuron per step) of each spiking layer in the last forward pass."""
        return self.recorder.rates()

    def mean_spike_rate(self) -> float:
        """Firing rate over all spiking neurons and steps of the last forward pass."""
        return self.recorder.mean_rate()

    def neuron_rates(self) -> dict[str, Tensor]:
        """Per-neuron firing rates of each spiking layer (averaged over time and batch) of the last pass."""
        return dict(self.recorder.per_neuron)

    def record_spikes(self, enabled: bool = True) -> None:
        """Keep the spike tensors of the next forward passes in ``self.recorder.spikes`` (for rasters)."""
        self.recorder.keep_spikes = bool(enabled)
