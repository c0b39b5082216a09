"""Eligibility traces of the LIF-family layers, computed by differentiating one step of each pure kernel.

Every neuron layer of the library has a pure step kernel ``step(x, state, params, surrogate)``. For a
parameter leaf ``p`` of ``params`` (e.g. ``beta``) and a state component ``h`` (e.g. the membrane ``v``) the
*state eligibility trace* is ``e^{h,p}_t = d h_t / d p`` along the **leak paths only**:

    e^{h,p}_t = sum_k (d h_t / d h^k_{t-1})|_{s const} e^{k,p}_{t-1} + (d h_t / d p)|_{s const},   e_{-1} = 0

i.e. the total derivative of one step with the spikes ``s_t`` held constant (their dependence on the state
and the parameters is cut from the *temporal* recursion, as in e-prop and OTTT; the current step itself is
differentiated exactly by autograd, surrogate included). :func:`trace_step` evaluates it generically for
every kernel: the spike is replaced by a hard ``(x >= 0)`` comparison (no derivative), every parameter leaf is
broadcast to the state shape, and because each neuron's update only involves its own state and parameter
entries, one backward pass per state component gives all the elementwise partial derivatives at once.

Written out for :class:`~neuromorph.LIF` (``R = threshold + refractory_penalty``)::

    reset="none"/"subtract":  e^beta_t = beta e^beta_{t-1} + v_{t-1}
    reset="subtract":         e^thr_t  = beta e^thr_{t-1} - s_t
    reset="zero":             e^beta_t = (1 - s_t) (beta e^beta_{t-1} + v_{t-1}),   e^thr_t = 0

:class:`~neuromorph.SynapticLIF` (``i_t = alpha i_{t-1} + x_t``, ``v_pre_t = beta v_{t-1} + i_t``)::

    e^{i,alpha}_t = alpha e^{i,alpha}_{t-1} + i_{t-1};   e^{v,alpha}_t = beta e^{v,alpha}_{t-1} + e^{i,alpha}_t
    e^{v,beta}_t and e^{v,thr}_t as for LIF

:class:`~neuromorph.ALIF` (``theta_t = thr + adapt a_{t-1}``, ``a_t = rho a_{t-1} + s_t``, subtract reset)::

    e^{a,rho}_t   = rho e^{a,rho}_{t-1} + a_{t-1}
    e^{v,beta}_t  = beta e^{v,beta}_{t-1} + v_{t-1}
    e^{v,thr}_t   = beta e^{v,thr}_{t-1} - s_t
    e^{v,adapt}_t = beta e^{v,adapt}_{t-1} - s_t a_{t-1}
    e^{v,rho}_t   = beta e^{v,rho}_{t-1} - s_t adapt e^{a,rho}_{t-1}

:class:`~neuromorph.LeakyIntegrator` (``v_t = beta v_{t-1} + x_t``): ``e^beta_t = beta e^beta_{t-1} + v_{t-1}``.

*Synaptic traces.* The input current of a layer is usually ``I_t = W x_t + b`` from an affine module. Along
the leak path, ``v_pre_t`` is ``I`` filtered by the layer's linear input filter, a cascade of first-order
filters with decays :func:`synapse_decays` (``[beta]`` for LIF/ALIF/LeakyIntegrator, ``[alpha, beta]`` for
SynapticLIF). Because ``I`` is linear in ``W``, ``d v_pre_t / dW`` is ``x_hat_t`` pushed through the same
cascade, with one presynaptic trace per filter stage, shared by all output neurons::

    z^(0)_t = x_t,     z^(k)_t = lambda_k z^(k)_{t-1} + z^(k-1)_t   (k = 1..K)
    x_hat_t = z^(K)_t                      (shape of x: [B, in], not [out, in])
    c_hat_t = same cascade driven by 1     (bias trace, a scalar)

and ``dL_t/dW = (dL_t/dI_t) x_hat_t^T``, ``dL_t/db = c_hat_t sum_b dL_t/dI_t``. Per-neuron decays would
make the trace per output neuron; to keep memory at ``O(B x in)`` their mean over neurons is used instead
(exact for scalar decays).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor, nn

from neuromorph.neurons import (ALIF, LIF, IntegratorState, LeakyIntegrator, SynapticLIF, alif_step, lif_step,
                                synaptic_step)
from neuromorph.surrogate import Surrogate

StepKernel = Callable[[Tensor, Any, Any, Surrogate], tuple[Tensor, Any]]


class HardStep(Surrogate):
    """Heaviside without any gradient (forward or backward): spikes are constants in the trace recursion."""

    def derivative(self, x: Tensor) -> Tensor:
        return torch.zeros_like(x)

    def __call__(self, x: Tensor) -> Tensor:
        return (x >= 0).to(x.dtype)


HARD_STEP = HardStep()


class _IntegratorParams(NamedTuple):
    beta: Tensor


def integrator_step(x: Tensor, state: IntegratorState, params: _IntegratorParams, surrogate: Surrogate
                    ) -> tuple[Tensor, IntegratorState]:
    """Pure step of :class:`~neuromorph.LeakyIntegrator`: ``v_t = beta v_{t-1} + x_t`` (output ``v_t``)."""
    v = params.beta * state.v + x
    return v, IntegratorState(v)


def kernel_and_params(layer: nn.Module) -> tuple[StepKernel, Any]:
    """The pure step kernel of a LIF-family layer and its current (differentiable) parameters."""
    if isinstance(layer, LIF):
        if layer.delay:
            raise ValueError("online learning does not support LIF(delay=True): the delayed output comes from "
                             "the detached state; use delay=False")
        return lif_step, layer.params()
    if isinstance(layer, ALIF):
        return alif_step, layer.params()
    if isinstance(layer, SynapticLIF):
        return synaptic_step, layer.params()
    if isinstance(layer, LeakyIntegrator):
        return integrator_step, _IntegratorParams(layer.beta())
    raise TypeError(f"layer must be a LIF, ALIF, SynapticLIF or LeakyIntegrator, got {type(layer).__name__}")


@torch.no_grad()
def synapse_decays(layer: nn.Module) -> list[float]:
    """Decays of the layer's linear input filter from ``I_t`` to ``v_pre_t`` (mean over neurons)."""
    if isinstance(layer, (LIF, ALIF, LeakyIntegrator)):
        return [float(layer.beta().detach().mean())]
    if isinstance(layer, SynapticLIF):
        return [float(layer.alpha().detach().mean()), float(layer.beta().detach().mean())]
    raise TypeError(f"layer must be a LIF, ALIF, SynapticLIF or LeakyIntegrator, got {type(layer).__name__}")


def _leaves(params: Any, prefix: str = "") -> list[tuple[str, Tensor]]:
    """Named tensor leaves of a (possibly nested) parameter NamedTuple."""
    out: list[tuple[str, Tensor]] = []
    for name, value in zip(params._fields, params):
        if isinstance(value, Tensor):
            out.append((prefix + name, value))
        elif isinstance(value, tuple) and hasattr(value, "_fields"):
            out.extend(_leaves(value, prefix + name + "."))
    return out


def _replace(params: Any, mapping: dict[str, Tensor], prefix: str = "") -> Any:
    values = []
    for name, value in zip(params._fields, params):
        if isinstance(value, Tensor):
            values.append(mapping.get(prefix + name, value))
        elif isinstance(value, tuple) and hasattr(value, "_fields"):
            values.append(_replace(value, mapping, prefix + name + "."))
        else:
            values.append(value)
    return type(params)(*values)


def learnable_leaves(params: Any) -> list[tuple[str, Tensor]]:
    """The parameter leaves that require gradients (these get eligibility traces)."""
    return [(n, p) for n, p in _leaves(params) if p.requires_grad]


def state_tensors(state: Any) -> list[int]:
    """Indices of the tensor fields of a state NamedTuple."""
    return [i for i, s in enumerate(state) if isinstance(s, Tensor)]


def trace_step(kernel: StepKernel, x: Tensor, state: Any, params: Any,
               traces: dict[str, list[Tensor | None]]) -> dict[str, list[Tensor | None]]:
    """One step of the eligibility traces of the state w.r.t. every learnable parameter leaf of ``params``.

    ``traces[name][k]`` is ``d state[k] / d p_name`` before the step (``None`` = zero); returns the traces
    after it (see the module docstring). All inputs are used as plain values; the graph built here is local.

    The kernels are elementwise over neurons, so the one-step Jacobian is diagonal across elements: with every
    parameter leaf broadcast to the state shape, ``grad(h_k.sum(), inputs)`` returns, element by element,
    ``d h_k / d h_j`` and ``d h_k / d p`` in one backward pass per state component.
    """
    names = [n for n, _ in learnable_leaves(params)]
    idx = state_tensors(state)
    shape = state[idx[0]].shape
    with torch.enable_grad():
        fields = list(state)
        inputs = []
        for k in idx:
            fields[k] = state[k].detach().clone().requires_grad_(True)
            inputs.append(fields[k])
        expanded = {n: p.detach().expand(shape).clone().requires_grad_(True)
                    for n, p in _leaves(params) if n in names}
        plain = _replace(params, {n: p.detach() for n, p in _leaves(params)})
        _, new_state = kernel(x.detach(), type(state)(*fields), _replace(plain, expanded), HARD_STEP)
        params_list = [expanded[n] for n in names]
        out: dict[str, list[Tensor | None]] = {n: [None] * len(state) for n in names}
        for k in idx:
            h = new_state[k]
            if not isinstance(h, Tensor) or not h.requires_grad:
                for n in names:
                    out[n][k] = torch.zeros(shape, dtype=state[k].dtype, device=state[k].device)
                continue
            grads = torch.autograd.grad(h.sum(), inputs + params_list, allow_unused=True, retain_graph=True)
            d_state, d_param = grads[:len(inputs)], grads[len(inputs):]
            for n, g_p in zip(names, d_param):
                e = torch.zeros_like(h) if g_p is None else g_p.detach().clone()
                previous = traces.get(n)
                if previous is not None:
                    for j, g_s in zip(idx, d_state):
                        if g_s is not None and previous[j] is not None:
                            e = e + g_s.detach() * previous[j]
                out[n][k] = e.detach()
    return out
