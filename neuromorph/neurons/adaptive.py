"""Adaptive-threshold LIF (ALIF): the threshold rises after each spike and relaxes back.

Per step::

    v_pre_t  = beta * v_{t-1} + x_t
    theta_t  = threshold + adapt * a_{t-1}          (effective threshold)
    s_t      = H(v_pre_t - theta_t)
    v_t      = v_pre_t - s_t * theta_t              reset="subtract"   (v_pre_t * (1 - s_t) for "zero")
    a_t      = rho * a_{t-1} + s_t                  (spike-triggered adaptation trace)

``beta`` and ``rho`` are decays in (0, 1) (sigmoid-parametrised), ``threshold`` and ``adapt`` are positive
(softplus-parametrised); each may be learnable and scalar or per-neuron. The multi-step path runs through
:func:`~neuromorph.neurons.recompute.run_sequence` (one autograd Function, per-step recomputing backward).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from neuromorph.neurons.parametrize import Decay, Positive
from neuromorph.neurons.protocol import Neuron, OnlineStep, Traces, zero_state_like
from neuromorph.neurons.recompute import run_sequence
from neuromorph.surrogate import Surrogate, get_surrogate

ALIF_RESETS = ("subtract", "zero")


class ALIFParams(NamedTuple):
    """Parameters of :func:`alif_step`/:func:`alif_sequence` (see the module docstring for the equations).

    >>> p = ALIFParams(*(torch.tensor(v) for v in (0.9, 1.0, 0.95, 0.5)))
    >>> p.reset, float(p.adapt)
    ('subtract', 0.5)
    """

    beta: Tensor
    threshold: Tensor
    rho: Tensor
    adapt: Tensor
    reset: str = "subtract"
    detach_reset: bool = False


class ALIFState(NamedTuple):
    """Membrane ``v`` and threshold adaptation ``a`` after the last step.

    >>> ALIFState(torch.zeros(3), torch.zeros(3)).a.shape
    torch.Size([3])
    """

    v: Tensor
    a: Tensor


def alif_step(x: Tensor, state: ALIFState, params: ALIFParams, surrogate: Surrogate) -> tuple[Tensor, ALIFState]:
    """One ALIF step (plain autograd); see the module docstring.

    >>> from neuromorph.surrogate import ATan
    >>> p = ALIFParams(*(torch.tensor(v) for v in (0.5, 1.0, 0.5, 1.0)))
    >>> s, state = alif_step(torch.tensor([1.2]), ALIFState(torch.zeros(1), torch.zeros(1)), p, ATan())
    >>> s.tolist(), state.a.tolist()
    ([1.0], [1.0])
    """
    v_pre = params.beta * state.v + x
    theta = params.threshold + params.adapt * state.a
    spikes = surrogate(v_pre - theta)
    reset_spikes = spikes.detach() if params.detach_reset else spikes
    if params.reset == "subtract":
        v = v_pre - reset_spikes * theta
    elif params.reset == "zero":
        v = v_pre * (1 - reset_spikes)
    else:
        raise ValueError(f"reset must be one of {ALIF_RESETS}, got {params.reset!r}")
    a = params.rho * state.a + spikes
    return spikes, ALIFState(v, a)


def alif_sequence(
    x_seq: Tensor, state: ALIFState, params: ALIFParams, surrogate: Surrogate
) -> tuple[Tensor, ALIFState]:
    """``T`` ALIF steps in one fused call; equal to looping :func:`alif_step`.

    >>> from neuromorph.surrogate import ATan
    >>> p = ALIFParams(*(torch.tensor(v) for v in (0.5, 1.0, 0.5, 1.0)))
    >>> s, state = alif_sequence(torch.full((3, 1), 1.2), ALIFState(torch.zeros(1), torch.zeros(1)), p, ATan())
    >>> s.flatten().tolist()
    [1.0, 0.0, 1.0]
    """
    reset, detach_reset = params.reset, params.detach_reset

    def step(x: Tensor, s: tuple[Tensor, ...], p: tuple[Tensor, ...]):
        out, new = alif_step(x, ALIFState(*s), ALIFParams(p[0], p[1], p[2], p[3], reset, detach_reset), surrogate)
        return out, tuple(new)

    spikes, final = run_sequence(step, x_seq, tuple(state), params[:4])
    return spikes, ALIFState(*final)


def alif_online_step(
    x: Tensor, state: ALIFState, params: ALIFParams, surrogate: Surrogate, traces: Traces, learn: tuple[str, ...]
) -> OnlineStep:
    """One ALIF step with its eligibility rule (spikes constant; ``[p = q]`` is 1 when ``p`` is ``q``)::

        d v_pre_t / d p = beta e^{v,p}_{t-1} + [p = beta] v_{t-1}
        d theta_t / d p = [p = threshold] + [p = adapt] a_{t-1} + adapt e^{a,p}_{t-1}
        d u_t / d p     = d v_pre_t / d p - d theta_t / d p
        e^{v,p}_t = d v_pre_t / d p - s_t d theta_t / d p  (subtract)   or (1 - s_t) d v_pre_t / d p  (zero)
        e^{a,p}_t = rho e^{a,p}_{t-1} + [p = rho] a_{t-1}

    >>> from neuromorph.surrogate import ATan
    >>> p = ALIFParams(*(torch.tensor(v) for v in (0.5, 1.0, 0.5, 1.0)))
    >>> res = alif_online_step(torch.tensor([1.2]), ALIFState(torch.zeros(1), torch.zeros(1)), p, ATan(), {}, ())
    >>> res.out.tolist(), res.du_dp
    ([1.0], {})
    """
    beta, rho, adapt = params.beta, params.rho, params.adapt
    v_prev, a_prev = state.v, state.a
    v_pre = beta * v_prev + x
    theta = params.threshold + adapt * a_prev
    u = v_pre - theta
    spikes = (u >= 0).to(x.dtype)
    v = v_pre - spikes * theta if params.reset == "subtract" else v_pre * (1 - spikes)
    a = rho * a_prev + spikes
    du_dp: dict[str, Tensor] = {}
    new_traces: Traces = {}
    zero = torch.zeros_like(u)
    for p in learn:
        ev, ea = traces.get(p, {}).get("v"), traces.get(p, {}).get("a")
        dv_pre = beta * ev if ev is not None else zero
        dtheta = adapt * ea if ea is not None else zero
        if p == "beta":
            dv_pre = dv_pre + v_prev
        elif p == "threshold":
            dtheta = dtheta + 1
        elif p == "adapt":
            dtheta = dtheta + a_prev
        du_dp[p] = dv_pre - dtheta
        e_v = dv_pre - spikes * dtheta if params.reset == "subtract" else dv_pre * (1 - spikes)
        e_a = rho * ea if ea is not None else zero
        if p == "rho":
            e_a = e_a + a_prev
        new_traces[p] = {"v": e_v, "a": e_a.expand_as(u)}
    return OnlineStep(spikes, ALIFState(v, a), surrogate.derivative(u), du_dp, new_traces)


class ALIF(Neuron):
    """Adaptive-threshold LIF layer (see module docstring).

    >>> import torch
    >>> layer = ALIF(beta=0.5, threshold=1.0, rho=0.5, adapt=1.0)
    >>> layer(torch.full((3, 1, 1), 1.2)).flatten().tolist()   # the threshold rises to 2 after the spike
    [1.0, 0.0, 1.0]
    """

    Params = ALIFParams
    State = ALIFState
    step = staticmethod(alif_step)
    sequence = staticmethod(alif_sequence)
    online_step = staticmethod(alif_online_step)
    learnable = ("beta", "threshold", "rho", "adapt")

    def __init__(
        self,
        beta: float = 0.9,
        threshold: float = 1.0,
        rho: float = 0.97,
        adapt: float = 0.2,
        reset: str = "subtract",
        surrogate: str | Surrogate = "atan",
        learn_beta: bool = False,
        learn_threshold: bool = False,
        learn_rho: bool = False,
        learn_adapt: bool = False,
        num_neurons: int | tuple[int, ...] | None = None,
        detach_reset: bool = False,
        step_mode: str = "multi",
    ) -> None:
        super().__init__(step_mode)
        if reset not in ALIF_RESETS:
            raise ValueError(f"reset must be one of {ALIF_RESETS}, got {reset!r}")
        self.beta = Decay("beta", beta, learn_beta, num_neurons)
        self.threshold = Positive("threshold", threshold, learn_threshold, num_neurons)
        self.rho = Decay("rho", rho, learn_rho, num_neurons)
        self.adapt = Positive("adapt", adapt, learn_adapt, num_neurons)
        self.reset_mode = reset
        self.surrogate = get_surrogate(surrogate)
        self.detach_reset = bool(detach_reset)

    def params(self) -> ALIFParams:
        return ALIFParams(self.beta(), self.threshold(), self.rho(), self.adapt(), self.reset_mode, self.detach_reset)

    def init_state(self, like: Tensor) -> ALIFState:
        return ALIFState(*zero_state_like(like, 2))

    def input_decays(self) -> tuple[float, ...]:
        return (float(self.beta().detach().mean()),)
