"""Spiking convolutional network: Conv2d + neuron + MaxPool blocks, a spiking dense layer and a readout
(readouts, ``output`` and ``neuron`` as in :mod:`neuromorph.models._base`)."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from neuromorph.models._base import NeuronSpec, SpikingNet, neuron_factory
from neuromorph.models._recording import seq_apply
from neuromorph.neurons import LeakyIntegrator
from neuromorph.surrogate import Surrogate


class SpikingCNN(SpikingNet):
    """Conv2d + neuron + MaxPool blocks, then a spiking Linear layer and a readout.

    Block ``i``: ``Conv2d(c_{i-1}, c_i, kernel_size, padding=kernel_size//2)`` -> optional BatchNorm2d ->
    neuron -> ``MaxPool2d(2)`` (max over binary spikes keeps them binary). Convolutions run on ``[T*B, C, H, W]``.
    For online learning build it with ``batch_norm=False``: BatchNorm between a synapse and its neuron changes
    its scale every step, which presynaptic traces cannot follow (the online learner says so and names it).

    Args:
        in_channels, image_size: input ``[C, H, W]`` geometry.
        channels: output channels of each conv block.
        hidden: width of the spiking fully connected layer (0 skips it).
        num_classes: outputs. Other arguments as in :class:`SpikingMLP`.

    Input ``[B, C, H, W]`` (static) or ``[T, B, C, H, W]``; output scores ``[B, num_classes]`` (or per-step
    outputs with ``output="sequence"``).

    >>> import torch
    >>> SpikingCNN(1, (8, 8), channels=(4,), hidden=16, num_classes=3, num_steps=2)(torch.rand(2, 1, 8, 8)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        in_channels: int = 1,
        image_size: tuple[int, int] = (28, 28),
        channels: Sequence[int] = (16, 32),
        num_classes: int = 10,
        hidden: int = 128,
        kernel_size: int = 3,
        batch_norm: bool = True,
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
        stateful: bool = False,
        output: str = "mean",
        neuron: NeuronSpec = None,
    ) -> None:
        super().__init__(num_steps, readout, stateful, output)
        channels = list(channels)
        if not channels or not all(isinstance(c, int) and c > 0 for c in channels):
            raise ValueError(f"channels must list positive ints, got {channels!r}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")
        h, w = image_size
        if h < 2 ** len(channels) or w < 2 ** len(channels):
            raise ValueError(f"image_size {image_size} is too small for {len(channels)} pooling stages")
        self.input_shape = (in_channels, h, w)
        make = neuron_factory(neuron, beta, threshold, surrogate, reset_mode, learn_beta, learn_threshold, detach_reset)
        blocks, neurons, prev = [], [], in_channels
        for c in channels:
            conv = nn.Conv2d(prev, c, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
            blocks.append(nn.Sequential(conv, nn.BatchNorm2d(c)) if batch_norm else conv)
            neurons.append(make((c, 1, 1)))
            prev = c
            h, w = h // 2, w // 2
        self.blocks = nn.ModuleList(blocks)
        self.neurons = nn.ModuleList(neurons)
        self.pool = nn.MaxPool2d(2)
        flat = prev * h * w
        self.fc = nn.Linear(flat, hidden) if hidden else None
        self.fc_neurons = make((hidden,)) if hidden else None
        self.out = nn.Linear(hidden or flat, num_classes)
        self.out_neurons = make((num_classes,)) if readout == "rate" else LeakyIntegrator(beta=readout_beta)

    def forward(self, x: Tensor) -> Tensor:
        x, static = self._prepare(x, 4)
        if tuple(x.shape[-3:]) != self.input_shape:
            raise ValueError(f"x must end in {self.input_shape} ([C, H, W]), got shape {tuple(x.shape)}")
        h = x
        for i, (block, lif) in enumerate(zip(self.blocks, self.neurons)):
            current = self._first(block, h, static) if i == 0 else seq_apply(block, h)
            h = seq_apply(self.pool, self._spiking(f"conv{i}", lif, current))
        h = h.flatten(2)
        if self.fc is not None:
            assert self.fc_neurons is not None  # made together with fc
            h = self._spiking("fc", self.fc_neurons, seq_apply(self.fc, h))
        return self._readout(h)
