"""Leaky integrator (non-spiking readout) and the fused first-order linear filter it runs on.

Per step: ``y_t = alpha * y_{t-1} + x_t``. The readout of a spiking network is usually the membrane of such
an integrator (``LeakyIntegrator``), e.g. its last value or its time mean.

:func:`leaky_filter` runs all ``T`` steps in one autograd Function; backward is the reverse filter
``g_t = gy_t + alpha * g_{t+1}`` (plus the gradient of the returned final state at ``T-1``), with
``dL/dx_t = g_t``, ``dL/dy_{-1} = alpha * g_0`` and ``dL/dalpha = sum_t g_t * y_{t-1}``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from neuromorph.neurons import native as _native
from neuromorph.neurons.native import flat_param as _flat
from neuromorph.neurons._reduce import reduce_to
from neuromorph.neurons.base import mark_finite
from neuromorph.neurons.parametrize import Decay
from neuromorph.neurons.protocol import Neuron, OnlineStep, Traces, zero_state_like


def _filter_values(x: Tensor, y0: Tensor, alpha: Tensor) -> tuple[Tensor, bool]:
    """``y_t = alpha * y_{t-1} + x_t`` without autograd: the compiled kernel on CPU float32/float64 (one pass,
    the product-sum rounded once like ``torch.addcmul``, so the values are identical), else one
    ``torch.addcmul`` per step. Returns ``(y, True when the kernel found the last step finite)``."""
    a, y0 = alpha.detach(), y0.detach()
    if a.dtype != x.dtype:
        a = a.to(x.dtype)
    if y0.dtype != x.dtype:
        y0 = y0.to(x.dtype)
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        kernel = _native.load()
        if kernel is not None:
            step = x.shape[1:]
            y, finite = kernel.leaky_forward(x.contiguous(), _flat(y0, step, x.dtype), _flat(a, step, x.dtype))
            return y.reshape(x.shape), finite
    y = torch.empty_like(x)
    torch.addcmul(x[0], y0, a, out=y[0])
    for t in range(1, x.shape[0]):
        torch.addcmul(x[t], y[t - 1], a, out=y[t])
    return y, False


class _LeakyFilter(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, y0: Tensor, alpha: Tensor) -> Tensor:  # type: ignore[override]
        y = _filter_values(x, y0, alpha)[0]
        ctx.save_for_backward(y if ctx.needs_input_grad[2] else None, y0, alpha)
        return y

    @staticmethod
    def backward(ctx, gy: Tensor):  # type: ignore[override]
        y, y0, alpha = ctx.saved_tensors
        a = alpha.to(gy.dtype)
        g = gy.clone()
        for t in range(g.shape[0] - 2, -1, -1):
            g[t].addcmul_(g[t + 1], a)
        g_y0 = reduce_to(g[0] * a, y0.shape) if ctx.needs_input_grad[1] else None
        g_alpha = None
        if ctx.needs_input_grad[2]:
            y_prev = torch.cat([y0.to(gy.dtype).expand_as(y[0]).unsqueeze(0), y[:-1]], dim=0)
            g_alpha = reduce_to(g * y_prev, alpha.shape).to(alpha.dtype)
        return g, g_y0, g_alpha


def leaky_filter(x_seq: Tensor, y0: Tensor, alpha: Tensor) -> Tensor:
    """Return ``y [T, ...]`` with ``y_t = alpha * y_{t-1} + x_t`` and ``y_{-1} = y0`` (fused).

    >>> leaky_filter(torch.ones(3, 1), torch.zeros(1), torch.tensor(0.5)).flatten().tolist()
    [1.0, 1.5, 1.75]
    """
    return _leaky_filter(x_seq, y0, alpha)[0]


def _leaky_filter(x_seq: Tensor, y0: Tensor, alpha: Tensor) -> tuple[Tensor, bool]:
    """:func:`leaky_filter` and whether the compiled kernel found its last step finite."""
    if x_seq.shape[0] == 0:
        raise ValueError("x_seq must contain at least one time step, got T=0")
    if torch.is_grad_enabled() and (x_seq.requires_grad or y0.requires_grad or alpha.requires_grad):
        return _LeakyFilter.apply(x_seq, y0, alpha), False
    return _filter_values(x_seq, y0, alpha)  # nothing to differentiate: no autograd node


class IntegratorParams(NamedTuple):
    """Parameters of :func:`integrator_step`: the decay ``beta`` of the membrane.

    >>> IntegratorParams(torch.tensor(0.9)).beta.item() == torch.tensor(0.9).item()
    True
    """

    beta: Tensor


class IntegratorState(NamedTuple):
    """Membrane ``v`` (the output) after the last step.

    >>> IntegratorState(torch.zeros(4)).v.shape
    torch.Size([4])
    """

    v: Tensor


def integrator_step(
    x: Tensor, state: IntegratorState, params: IntegratorParams, surrogate: object = None
) -> tuple[Tensor, IntegratorState]:
    """One step ``v_t = beta v_{t-1} + x_t``; the output is ``v_t`` (``surrogate`` is unused).

    >>> out, state = integrator_step(torch.tensor([1.0]), IntegratorState(torch.tensor([2.0])),
    ...                              IntegratorParams(torch.tensor(0.5)))
    >>> out.tolist(), state.v.tolist()
    ([2.0], [2.0])
    """
    v = params.beta * state.v + x
    return v, IntegratorState(v)


def integrator_sequence(
    x_seq: Tensor, state: IntegratorState, params: IntegratorParams, surrogate: object = None
) -> tuple[Tensor, IntegratorState]:
    """``T`` integrator steps in one fused call (:func:`leaky_filter`).

    >>> out, state = integrator_sequence(torch.ones(3, 1), IntegratorState(torch.zeros(1)),
    ...                                  IntegratorParams(torch.tensor(0.5)))
    >>> out.flatten().tolist()
    [1.0, 1.5, 1.75]
    """
    v, finite = _leaky_filter(x_seq, state.v, params.beta)
    last = v[-1]
    if finite:  # the new state: the layer's finiteness check is already done
        mark_finite(last)
    return v, IntegratorState(last)


def integrator_online_step(
    x: Tensor,
    state: IntegratorState,
    params: IntegratorParams,
    surrogate: object,
    traces: Traces,
    learn: tuple[str, ...],
) -> OnlineStep:
    """One step with its eligibility rule: the output is the membrane (``d_out = 1``) and
    ``d v_t / d beta = e^beta_t = beta e^beta_{t-1} + v_{t-1}``.

    >>> res = integrator_online_step(torch.tensor([1.0]), IntegratorState(torch.tensor([2.0])),
    ...                              IntegratorParams(torch.tensor(0.5)), None, {}, ("beta",))
    >>> res.out.tolist(), res.du_dp["beta"].tolist()
    ([2.0], [2.0])
    """
    v = params.beta * state.v + x
    du_dp: dict[str, Tensor] = {}
    new_traces: Traces = {}
    if "beta" in learn:
        e_prev = traces.get("beta", {}).get("v")
        e = state.v + (params.beta * e_prev if e_prev is not None else 0)
        du_dp["beta"] = e.expand_as(v)
        new_traces["beta"] = {"v": du_dp["beta"]}
    return OnlineStep(v, IntegratorState(v), None, du_dp, new_traces)


class LeakyIntegrator(Neuron):
    """Non-spiking leaky readout: ``v_t = beta * v_{t-1} + x_t``; outputs the membrane ``v``.

    Args:
        beta: decay in (0, 1); ``learn_beta`` makes it learnable (sigmoid parametrisation).
        num_neurons: None for a scalar decay, an int/shape for per-neuron decays.
        step_mode: "multi" (``[T, B, ...]`` -> ``[T, B, ...]``) or "single".

    >>> import torch
    >>> LeakyIntegrator(beta=0.5)(torch.ones(3, 1, 1)).flatten().tolist()
    [1.0, 1.5, 1.75]
    """

    Params = IntegratorParams
    State = IntegratorState
    step = staticmethod(integrator_step)
    sequence = staticmethod(integrator_sequence)
    online_step = staticmethod(integrator_online_step)
    spiking = False
    learnable = ("beta",)
    online_exact = {}

    def __init__(
        self,
        beta: float = 0.9,
        learn_beta: bool = False,
        num_neurons: int | tuple[int, ...] | None = None,
        step_mode: str = "multi",
    ) -> None:
        super().__init__(step_mode)
        self.beta = Decay("beta", beta, learn_beta, num_neurons)
        self.surrogate = None  # type: ignore[assignment]  # a non-spiking readout has no surrogate

    def params(self) -> IntegratorParams:
        return IntegratorParams(self.beta.forward())  # no module hooks on the parametrisation: skip the call

    def init_state(self, like: Tensor) -> IntegratorState:
        return IntegratorState(*zero_state_like(like, 1))

    def input_decays(self) -> tuple[float, ...]:
        return (float(self.beta().detach().mean()),)

    def online_sequence(self, x_seq: Tensor, state: IntegratorState, traces: Traces, learn: tuple[str, ...]):
        if learn:
            return super().online_sequence(x_seq, state, traces, learn)
        with torch.no_grad():
            v, new_state = integrator_sequence(x_seq, state, IntegratorParams(self.beta().detach()))
        return v, new_state, None, {}, traces
