"""Spiking multi-layer perceptron (multi-step, fused kernels) and its same-size ReLU baseline.

The model takes a spike/current sequence ``[T, B, F]`` or a static input ``[B, F]`` fed as a constant input
current for ``num_steps`` steps ("direct" encoding). Every Linear layer runs on all ``T*B`` rows at once; each
neuron layer then runs the whole sequence through its fused kernel. With static input the first layer is
computed once per sample and broadcast over time, since ``W x`` is the same at every step. Readouts, the
``output`` switch and the ``neuron`` factory: :mod:`neuromorph.models._base`.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from neuromorph.models._base import NeuronSpec, SpikingNet, neuron_factory
from neuromorph.models._recording import seq_apply
from neuromorph.neurons import LeakyIntegrator
from neuromorph.synapses import SpikeLinear
from neuromorph.surrogate import Surrogate
from neuromorph.utils import check_tensor


def _check_sizes(sizes: Sequence[int], dropout: float) -> list[int]:
    """Validate the layer widths and dropout shared by the MLP constructors."""
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(f"sizes must list at least two positive ints, got {sizes!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return sizes


class SpikingMLP(SpikingNet):
    """``sizes[0] -> sizes[1] -> ... -> sizes[-1]`` of Linear + neuron layers with a rate or membrane readout.

    Args:
        sizes: layer widths, at least ``[inputs, classes]``.
        beta, threshold, surrogate, reset_mode, learn_beta, learn_threshold, detach_reset: settings of the default
            LIF neurons (per-neuron parameters when learned).
        neuron: a neuron factory or registry name instead of the default LIF (:mod:`neuromorph.models._base`).
        num_steps: ``T`` used for static ``[B, F]`` input (direct current encoding).
        readout: ``"rate"`` or ``"membrane"``; ``output``: ``"mean"`` (scores ``[B, C]``) or ``"sequence"``
            (per-step outputs ``[T, B, C]``).
        readout_beta: decay of the membrane readout.
        dropout: dropout probability after each hidden spiking layer (0 disables); it acts on spikes before the
            next synapse, so online learning stays exact for it.
        stateful: if False (default) the neuron state is reset at the start of every forward pass.

    >>> import torch
    >>> SpikingMLP([4, 8, 3], num_steps=5)(torch.rand(2, 4)).shape
    torch.Size([2, 3])
    >>> SpikingMLP([4, 8, 3], output="sequence", neuron="alif")(torch.rand(5, 2, 4)).shape
    torch.Size([5, 2, 3])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        beta: float = 0.9,
        threshold: float = 1.0,
        surrogate: str | Surrogate = "atan",
        num_steps: int = 10,
        readout: str = "membrane",
        reset_mode: str = "subtract",
        learn_beta: bool = False,
        learn_threshold: bool = False,
        detach_reset: bool = False,
        readout_beta: float = 0.9,
        dropout: float = 0.0,
        stateful: bool = False,
        output: str = "mean",
        neuron: NeuronSpec = None,
    ) -> None:
        super().__init__(num_steps, readout, stateful, output)
        self.sizes = sizes = _check_sizes(sizes, dropout)
        make = neuron_factory(neuron, beta, threshold, surrogate, reset_mode, learn_beta, learn_threshold, detach_reset)
        self.hidden = nn.ModuleList(SpikeLinear(a, b) for a, b in zip(sizes[:-2], sizes[1:-1]))
        self.neurons = nn.ModuleList(make((b,)) for b in sizes[1:-1])
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out = SpikeLinear(sizes[-2], sizes[-1])
        self.out_neurons = make((sizes[-1],)) if readout == "rate" else LeakyIntegrator(beta=readout_beta)

    def forward(self, x: Tensor) -> Tensor:
        x, static = self._prepare(x, 2)
        if x.shape[-1] != self.sizes[0]:
            raise ValueError(f"x must have {self.sizes[0]} features in its last dim, got shape {tuple(x.shape)}")
        if not self.hidden:  # no hidden layer: the readout sees the input directly
            h = x.unsqueeze(0).expand(self.num_steps, *x.shape) if static else x
            return self._readout(h)
        h = x
        for i, (linear, neuron) in enumerate(zip(self.hidden, self.neurons)):
            current = self._first(linear, h, static) if i == 0 else seq_apply(linear, h)
            h = self._spiking(f"lif{i}", neuron, current)
            if not isinstance(self.dropout, nn.Identity):  # (a module call is not free at batch 1)
                h = self.dropout(h)
        return self._readout(h)


class FeedForwardMLP(nn.Module):
    """Non-spiking baseline of the same size: ``Linear -> ReLU`` per hidden layer, Linear output.

    Input ``[B, F]``; output logits ``[B, sizes[-1]]``.

    >>> import torch
    >>> FeedForwardMLP([4, 8, 3])(torch.rand(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, sizes: Sequence[int], dropout: float = 0.0) -> None:
        super().__init__()
        self.sizes = sizes = _check_sizes(sizes, dropout)
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(a, b), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        check_tensor("x", x, ndim=2, floating=True)
        return self.net(x)
