"""Synaptic (second-order) LIF: a leaky synaptic current feeding a LIF membrane.

Per step::

    i_t     = alpha * i_{t-1} + x_t                       (synaptic current)
    v_pre_t = beta * v_{t-1} + i_t
    s_t     = H(v_pre_t - threshold)
    v_t     = v_pre_t - s_t * threshold                   (reset as in :mod:`neuromorph.neurons.lif`)

The current does not depend on spikes, so the multi-step path is exactly two fused kernels:
:func:`~neuromorph.neurons.integrator.leaky_filter` for ``i`` followed by
:func:`~neuromorph.neurons.lif.lif_sequence` for the membrane.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from neuromorph.neurons.base import SpikingModule
from neuromorph.neurons.integrator import leaky_filter
from neuromorph.neurons.lif import RESETS, LIFParams, LIFState, lif_sequence, lif_step
from neuromorph.neurons.parametrize import Decay, Positive
from neuromorph.surrogate import Surrogate, get_surrogate


class SynapticParams(NamedTuple):
    alpha: Tensor
    lif: LIFParams


class SynapticState(NamedTuple):
    v: Tensor
    i: Tensor


def synaptic_step(x: Tensor, state: SynapticState, params: SynapticParams, surrogate: Surrogate
                  ) -> tuple[Tensor, SynapticState]:
    """One synaptic-LIF step (plain autograd)."""
    i = params.alpha * state.i + x
    spikes, lif_state = lif_step(i, LIFState(state.v), params.lif, surrogate)
    return spikes, SynapticState(lif_state.v, i)


def synaptic_sequence(x_seq: Tensor, state: SynapticState, params: SynapticParams, surrogate: Surrogate
                      ) -> tuple[Tensor, SynapticState]:
    """``T`` synaptic-LIF steps: fused current filter, then the fused LIF kernel."""
    i_seq = leaky_filter(x_seq, state.i, params.alpha)
    spikes, lif_state = lif_sequence(i_seq, LIFState(state.v), params.lif, surrogate)
    return spikes, SynapticState(lif_state.v, i_seq[-1])


class SynapticLIF(SpikingModule):
    """Second-order LIF layer (see module docstring). ``alpha`` is the synaptic decay, ``beta`` the membrane
    decay; both (and the threshold) can be learnable, scalar or per-neuron (``num_neurons``)."""

    def __init__(self, alpha: float = 0.8, beta: float = 0.9, threshold: float = 1.0, reset: str = "subtract",
                 surrogate: str | Surrogate = "atan", learn_alpha: bool = False, learn_beta: bool = False,
                 learn_threshold: bool = False, num_neurons: int | tuple[int, ...] | None = None,
                 detach_reset: bool = False, step_mode: str = "multi") -> None:
        super().__init__(step_mode)
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        self.alpha = Decay("alpha", alpha, learn_alpha, num_neurons)
        self.beta = Decay("beta", beta, learn_beta, num_neurons)
        self.threshold = Positive("threshold", threshold, learn_threshold, num_neurons)
        self.reset_mode = reset
        self.surrogate = get_surrogate(surrogate)
        self.detach_reset = bool(detach_reset)

    def params(self) -> SynapticParams:
        lif = LIFParams(self.beta(), self.threshold(), self.reset_mode, 0.0, self.detach_reset)
        return SynapticParams(self.alpha(), lif)

    def init_state(self, like: Tensor) -> SynapticState:
        return SynapticState(torch.zeros_like(like), torch.zeros_like(like))

    def forward_single(self, x: Tensor, state: SynapticState) -> tuple[Tensor, SynapticState]:
        return synaptic_step(x, state, self.params(), self.surrogate)

    def forward_multi(self, x: Tensor, state: SynapticState) -> tuple[Tensor, SynapticState]:
        return synaptic_sequence(x, state, self.params(), self.surrogate)
