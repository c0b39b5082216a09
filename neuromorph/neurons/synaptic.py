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

from neuromorph.neurons.integrator import leaky_filter
from neuromorph.neurons.lif import (
    RESETS,
    LIFParams,
    LIFState,
    lif_online_step,
    lif_sequence,
    lif_sequence_with_derivative,
    lif_step,
)
from neuromorph.neurons.parametrize import Decay, Positive
from neuromorph.neurons.protocol import Neuron, OnlineStep, Traces, zero_state_like
from neuromorph.surrogate import Surrogate, get_surrogate


class SynapticParams(NamedTuple):
    """Parameters of :func:`synaptic_step`: current decay ``alpha``, membrane decay ``beta``, threshold and reset.

    >>> p = SynapticParams(torch.tensor(0.8), torch.tensor(0.9), torch.tensor(1.0))
    >>> p.reset
    'subtract'
    """

    alpha: Tensor
    beta: Tensor
    threshold: Tensor
    reset: str = "subtract"
    detach_reset: bool = False

    def lif(self) -> LIFParams:
        """The membrane part as LIF parameters."""
        return LIFParams(self.beta, self.threshold, self.reset, 0.0, self.detach_reset)


class SynapticState(NamedTuple):
    """Membrane ``v`` and synaptic current ``i`` after the last step.

    >>> SynapticState(torch.zeros(2), torch.zeros(2)).i.shape
    torch.Size([2])
    """

    v: Tensor
    i: Tensor


def synaptic_step(
    x: Tensor, state: SynapticState, params: SynapticParams, surrogate: Surrogate
) -> tuple[Tensor, SynapticState]:
    """One synaptic-LIF step (plain autograd).

    >>> from neuromorph.surrogate import ATan
    >>> p = SynapticParams(torch.tensor(0.5), torch.tensor(0.5), torch.tensor(1.0))
    >>> s, state = synaptic_step(torch.tensor([1.0]), SynapticState(torch.zeros(1), torch.zeros(1)), p, ATan())
    >>> s.tolist(), state.i.tolist(), state.v.tolist()
    ([1.0], [1.0], [0.0])
    """
    i = params.alpha * state.i + x
    spikes, lif_state = lif_step(i, LIFState(state.v), params.lif(), surrogate)
    return spikes, SynapticState(lif_state.v, i)


def synaptic_sequence(
    x_seq: Tensor, state: SynapticState, params: SynapticParams, surrogate: Surrogate
) -> tuple[Tensor, SynapticState]:
    """``T`` synaptic-LIF steps: fused current filter, then the fused LIF kernel.

    >>> from neuromorph.surrogate import ATan
    >>> p = SynapticParams(torch.tensor(0.5), torch.tensor(0.5), torch.tensor(1.0))
    >>> x = torch.tensor([[1.0], [0.0], [0.0]])
    >>> synaptic_sequence(x, SynapticState(torch.zeros(1), torch.zeros(1)), p, ATan())[0].flatten().tolist()
    [1.0, 0.0, 0.0]
    """
    i_seq = leaky_filter(x_seq, state.i, params.alpha)
    spikes, lif_state = lif_sequence(i_seq, LIFState(state.v), params.lif(), surrogate)
    return spikes, SynapticState(lif_state.v, i_seq[-1])


def synaptic_online_step(
    x: Tensor,
    state: SynapticState,
    params: SynapticParams,
    surrogate: Surrogate,
    traces: Traces,
    learn: tuple[str, ...],
) -> OnlineStep:
    """One step with its eligibility rule. The current adds one trace for ``alpha``::

        e^{i,alpha}_t = alpha e^{i,alpha}_{t-1} + i_{t-1}
        d v_pre_t / d alpha = beta e^{v,alpha}_{t-1} + e^{i,alpha}_t

    and the membrane follows :func:`~neuromorph.neurons.lif.lif_online_step` (``beta``, ``threshold``).

    >>> from neuromorph.surrogate import ATan
    >>> p = SynapticParams(torch.tensor(0.5), torch.tensor(0.5), torch.tensor(1.0))
    >>> res = synaptic_online_step(torch.tensor([1.0]), SynapticState(torch.zeros(1), torch.zeros(1)), p, ATan(),
    ...                            {}, ("alpha",))
    >>> res.out.tolist(), sorted(res.traces["alpha"])
    ([1.0], ['i', 'v'])
    """
    i = params.alpha * state.i + x
    lif_learn = tuple(p for p in learn if p != "alpha")
    res = lif_online_step(i, LIFState(state.v), params.lif(), surrogate, traces, lif_learn)
    du_dp, new_traces = dict(res.du_dp), dict(res.traces)
    if "alpha" in learn:
        e_i_prev = traces.get("alpha", {}).get("i")
        e_v_prev = traces.get("alpha", {}).get("v")
        e_i = state.i + (params.alpha * e_i_prev if e_i_prev is not None else 0)
        dv_pre = e_i + (params.beta * e_v_prev if e_v_prev is not None else 0)
        du_dp["alpha"] = dv_pre.expand_as(res.out)
        if params.reset == "zero":
            e_v = dv_pre * (1 - res.out)
        else:
            e_v = dv_pre
        new_traces["alpha"] = {"i": e_i.expand_as(i), "v": e_v.expand_as(i)}
    return OnlineStep(res.out, SynapticState(res.state.v, i), res.d_out, du_dp, new_traces)


class SynapticLIF(Neuron):
    """Second-order LIF layer (see module docstring). ``alpha`` is the synaptic decay, ``beta`` the membrane
    decay; both (and the threshold) can be learnable, scalar or per-neuron (``num_neurons``).

    >>> import torch
    >>> layer = SynapticLIF(alpha=0.5, beta=0.5, threshold=1.0)
    >>> layer(torch.tensor([[[1.0]], [[0.0]], [[0.0]]])).flatten().tolist()   # i = 1, .5, .25; v = 1 -> spike
    [1.0, 0.0, 0.0]
    """

    Params = SynapticParams
    State = SynapticState
    step = staticmethod(synaptic_step)
    sequence = staticmethod(synaptic_sequence)
    online_step = staticmethod(synaptic_online_step)
    learnable = ("alpha", "beta", "threshold")
    online_exact = {"reset": "subtract", "detach_reset": True}

    def __init__(
        self,
        alpha: float = 0.8,
        beta: float = 0.9,
        threshold: float = 1.0,
        reset: str = "subtract",
        surrogate: str | Surrogate = "atan",
        learn_alpha: bool = False,
        learn_beta: bool = False,
        learn_threshold: bool = False,
        num_neurons: int | tuple[int, ...] | None = None,
        detach_reset: bool = False,
        step_mode: str = "multi",
    ) -> None:
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
        return SynapticParams(self.alpha(), self.beta(), self.threshold(), self.reset_mode, self.detach_reset)

    def init_state(self, like: Tensor) -> SynapticState:
        return SynapticState(*zero_state_like(like, 2))

    def input_decays(self) -> tuple[float, ...]:
        return (float(self.alpha().detach().mean()), float(self.beta().detach().mean()))

    def online_sequence(self, x_seq: Tensor, state: SynapticState, traces: Traces, learn: tuple[str, ...]):
        if learn:
            return super().online_sequence(x_seq, state, traces, learn)
        with torch.no_grad():
            i_seq = leaky_filter(x_seq, state.i, self.alpha().detach())
        spikes, lif_state, sg = lif_sequence_with_derivative(
            i_seq, LIFState(state.v), self.params().lif(), self.surrogate
        )
        return spikes, SynapticState(lif_state.v, i_seq[-1]), sg, {}, traces
