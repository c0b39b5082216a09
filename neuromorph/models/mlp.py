"""Spiking multi-layer perceptron and convolutional network (multi-step, fused LIF kernels).

Both models take either a spike/current sequence ``[T, B, ...]`` or a static input ``[B, ...]`` that is
fed as a constant input current for ``num_steps`` steps ("direct" encoding). Every stateless layer
(Linear, Conv2d, pooling) runs on all ``T*B`` rows at once; each :class:`~neuromorph.LIF` layer then runs the
whole sequence through its fused kernel. With static input the first layer is computed once per sample
and broadcast over time, since ``W x`` is the same at every step.

Readouts (``scores [B, C]`` returned by ``forward``):

* ``"rate"``:     the output layer is LIF; ``scores = sum_t s_out[t]`` (spike counts; ``counts / T`` is the rate).
* ``"membrane"``: the output layer is a non-spiking leaky integrator ``v_t = beta_out v_{t-1} + W h_t + b``;
  ``scores = (1/T) sum_t v_t``.

Spike rates of every LIF layer from the last forward pass: :meth:`spike_rates`, :meth:`mean_spike_rate`.
"""
from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from neuromorph.models._recording import SpikeRecorder, seq_apply
from neuromorph.neurons import LIF, LeakyIntegrator, reset
from neuromorph.synapses import SpikeLinear
from neuromorph.surrogate import Surrogate
from neuromorph.utils import check_tensor

READOUTS = ("rate", "membrane")


def _check_readout(readout: str) -> str:
    if readout not in READOUTS:
        raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
    return readout


def _check_steps(num_steps: int) -> int:
    if not isinstance(num_steps, int) or isinstance(num_steps, bool) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive int, got {num_steps!r}")
    return num_steps


class _SpikingNet(nn.Module):
    """Shared plumbing: input handling, readout, spike recording, state reset."""

    def __init__(self, num_steps: int, readout: str, stateful: bool) -> None:
        super().__init__()
        self.num_steps = _check_steps(num_steps)
        self.readout = _check_readout(readout)
        self.stateful = bool(stateful)
        self.recorder = SpikeRecorder()

    def _lif(self, name: str, layer: LIF, x: Tensor) -> Tensor:
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
        if static:
            y = layer(x)
            return y.unsqueeze(0).expand(self.num_steps, *y.shape)
        return seq_apply(layer, x)

    def _readout(self, h: Tensor) -> Tensor:
        y = seq_apply(self.out, h)
        if self.readout == "rate":
            return self._lif("out", self.out_neurons, y).sum(dim=0)
        return self.out_neurons(y).mean(dim=0)

    # -- spike statistics --------------------------------------------------------------------------
    def spike_rates(self) -> dict[str, float]:
        """Mean firing rate (spikes per neuron per step) of each LIF layer in the last forward pass."""
        return self.recorder.rates()

    def mean_spike_rate(self) -> float:
        """Firing rate over all LIF neurons and steps of the last forward pass."""
        return self.recorder.mean_rate()

    def neuron_rates(self) -> dict[str, Tensor]:
        """Per-neuron firing rates of each LIF layer (averaged over time and batch) of the last pass."""
        return dict(self.recorder.per_neuron)

    def record_spikes(self, enabled: bool = True) -> None:
        """Keep the spike tensors of the next forward passes in ``self.recorder.spikes`` (for rasters)."""
        self.recorder.keep_spikes = bool(enabled)


def _lif_kwargs(beta: float, threshold: float, surrogate: str | Surrogate, reset_mode: str,
                learn_beta: bool, learn_threshold: bool, detach_reset: bool) -> dict:
    return dict(beta=beta, threshold=threshold, surrogate=surrogate, reset=reset_mode, learn_beta=learn_beta,
                learn_threshold=learn_threshold, detach_reset=detach_reset)


def _check_sizes(sizes: Sequence[int], dropout: float) -> list[int]:
    """Validate the layer widths and dropout shared by the MLP constructors."""
    sizes = list(sizes)
    if len(sizes) < 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ValueError(f"sizes must list at least two positive ints, got {sizes!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return sizes


class SpikingMLP(_SpikingNet):
    """``sizes[0] -> sizes[1] -> ... -> sizes[-1]`` of Linear + LIF layers with a rate or membrane readout.

    Args:
        sizes: layer widths, at least ``[inputs, classes]``.
        beta, threshold, surrogate, reset_mode, learn_beta, learn_threshold, detach_reset: LIF settings
            shared by all spiking layers (per-neuron parameters when learned).
        num_steps: ``T`` used for static ``[B, F]`` input (direct current encoding).
        readout: ``"rate"`` or ``"membrane"`` (module docstring).
        readout_beta: decay of the membrane readout.
        dropout: dropout probability after each hidden LIF layer (0 disables).
        stateful: if False (default) the neuron state is reset at the start of every forward pass.

    Input ``[B, F]`` (static) or ``[T, B, F]``; output scores ``[B, sizes[-1]]``.
    """

    def __init__(self, sizes: Sequence[int], beta: float = 0.9, threshold: float = 1.0,
                 surrogate: str | Surrogate = "atan", num_steps: int = 10, readout: str = "membrane",
                 reset_mode: str = "subtract", learn_beta: bool = False, learn_threshold: bool = False,
                 detach_reset: bool = False, readout_beta: float = 0.9, dropout: float = 0.0,
                 stateful: bool = False) -> None:
        super().__init__(num_steps, readout, stateful)
        self.sizes = sizes = _check_sizes(sizes, dropout)
        kw = _lif_kwargs(beta, threshold, surrogate, reset_mode, learn_beta, learn_threshold, detach_reset)
        per_neuron = learn_beta or learn_threshold
        self.hidden = nn.ModuleList(SpikeLinear(a, b) for a, b in zip(sizes[:-2], sizes[1:-1]))
        self.neurons = nn.ModuleList(LIF(num_neurons=b if per_neuron else None, **kw) for b in sizes[1:-1])
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out = SpikeLinear(sizes[-2], sizes[-1])
        if readout == "rate":
            self.out_neurons = LIF(num_neurons=sizes[-1] if per_neuron else None, **kw)
        else:
            self.out_neurons = LeakyIntegrator(beta=readout_beta)

    def forward(self, x: Tensor) -> Tensor:
        x, static = self._prepare(x, 2)
        if x.shape[-1] != self.sizes[0]:
            raise ValueError(f"x must have {self.sizes[0]} features in its last dim, got shape {tuple(x.shape)}")
        if not self.hidden:  # no hidden layer: the readout sees the input directly
            h = x.unsqueeze(0).expand(self.num_steps, *x.shape) if static else x
            return self._readout(h)
        h = x
        for i, (linear, lif) in enumerate(zip(self.hidden, self.neurons)):
            current = self._first(linear, h, static) if i == 0 else seq_apply(linear, h)
            h = self.dropout(self._lif(f"lif{i}", lif, current))
        return self._readout(h)


class SpikingCNN(_SpikingNet):
    """Conv2d + LIF + MaxPool blocks, then a spiking Linear layer and a readout.

    Block ``i``: ``Conv2d(c_{i-1}, c_i, kernel_size, padding=kernel_size//2)`` -> optional BatchNorm2d ->
    LIF -> ``MaxPool2d(2)`` (max over binary spikes keeps them binary). Convolutions run on ``[T*B, C, H, W]``.

    Args:
        in_channels, image_size: input ``[C, H, W]`` geometry.
        channels: output channels of each conv block.
        hidden: width of the spiking fully connected layer (0 skips it).
        num_classes: outputs. Other arguments as in :class:`SpikingMLP`.

    Input ``[B, C, H, W]`` (static) or ``[T, B, C, H, W]``; output scores ``[B, num_classes]``.
    """

    def __init__(self, in_channels: int = 1, image_size: tuple[int, int] = (28, 28),
                 channels: Sequence[int] = (16, 32), num_classes: int = 10, hidden: int = 128,
                 kernel_size: int = 3, batch_norm: bool = True, beta: float = 0.9, threshold: float = 1.0,
                 surrogate: str | Surrogate = "atan", num_steps: int = 10, readout: str = "membrane",
                 reset_mode: str = "subtract", learn_beta: bool = False, learn_threshold: bool = False,
                 detach_reset: bool = False, readout_beta: float = 0.9, stateful: bool = False) -> None:
        super().__init__(num_steps, readout, stateful)
        channels = list(channels)
        if not channels or not all(isinstance(c, int) and c > 0 for c in channels):
            raise ValueError(f"channels must list positive ints, got {channels!r}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd int, got {kernel_size!r}")
        h, w = image_size
        if h < 2 ** len(channels) or w < 2 ** len(channels):
            raise ValueError(f"image_size {image_size} is too small for {len(channels)} pooling stages")
        self.input_shape = (in_channels, h, w)
        kw = _lif_kwargs(beta, threshold, surrogate, reset_mode, learn_beta, learn_threshold, detach_reset)
        blocks, neurons, prev = [], [], in_channels
        for c in channels:
            conv = nn.Conv2d(prev, c, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
            blocks.append(nn.Sequential(conv, nn.BatchNorm2d(c)) if batch_norm else conv)
            neurons.append(LIF(**kw))
            prev = c
            h, w = h // 2, w // 2
        self.blocks = nn.ModuleList(blocks)
        self.neurons = nn.ModuleList(neurons)
        self.pool = nn.MaxPool2d(2)
        flat = prev * h * w
        self.fc = nn.Linear(flat, hidden) if hidden else None
        self.fc_neurons = LIF(**kw) if hidden else None
        self.out = nn.Linear(hidden or flat, num_classes)
        self.out_neurons = LIF(**kw) if readout == "rate" else LeakyIntegrator(beta=readout_beta)

    def forward(self, x: Tensor) -> Tensor:
        x, static = self._prepare(x, 4)
        if tuple(x.shape[-3:]) != self.input_shape:
            raise ValueError(f"x must end in {self.input_shape} ([C, H, W]), got shape {tuple(x.shape)}")
        h = x
        for i, (block, lif) in enumerate(zip(self.blocks, self.neurons)):
            current = self._first(block, h, static) if i == 0 else seq_apply(block, h)
            h = seq_apply(self.pool, self._lif(f"conv{i}", lif, current))
        h = h.flatten(2)
        if self.fc is not None:
            h = self._lif("fc", self.fc_neurons, seq_apply(self.fc, h))
        return self._readout(h)


class FeedForwardMLP(nn.Module):
    """Non-spiking baseline of the same size: ``Linear -> ReLU`` per hidden layer, Linear output.

    Input ``[B, F]``; output logits ``[B, sizes[-1]]``.
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
