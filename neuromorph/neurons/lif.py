"""Leaky integrate-and-fire neurons: pure step kernel, fused multi-step kernel, stateful layer.

Per time step ``t`` with input current ``x_t`` (already weighted, e.g. the output of a Linear layer)::

    v_pre_t = beta * v_{t-1} + x_t                      (leaky integration)
    s_t     = H(v_pre_t - threshold)                    (spike; surrogate gradient in backward)
    v_t     = v_pre_t - s_t * (threshold + penalty)     reset="subtract" (penalty = refractory_penalty)
    v_t     = v_pre_t * (1 - s_t)                       reset="zero"
    v_t     = v_pre_t                                   reset="none"

With ``detach_reset=True`` the ``s_t`` inside the reset term is treated as a constant in backward.
``refractory_penalty > 0`` gives the classic "refractory" LIF: a spike removes the threshold plus an extra
penalty, so the neuron needs extra input before it can fire again.

:func:`lif_sequence` runs ``T`` steps in one call of a custom autograd Function, on one of two backends with
identical results: on CPU (float32/64, built-in surrogates) the compiled kernel of
:mod:`neuromorph.neurons.native` walks time per block of neurons in one pass, writing the spikes (also as a
byte copy for :class:`~neuromorph.synapses.SpikeLinear`) and the surrogate derivative; elsewhere torch ops
write every step into preallocated buffers (3 ops per step, no autograd graph) and the surrogate derivative
is evaluated for all steps at once afterwards. Backward runs the adjoint recurrence

    g_vpre_t = g_s_t * sg_t + c_t * beta * g_vpre_{t+1}

with ``sg_t = surrogate'(v_pre_t - threshold)`` and ``c_t`` the reset Jacobian (``1 - R sg_t`` for a subtract
reset with ``R = threshold + penalty``, ``1`` when detached; ``1 - s_t - v_pre_t sg_t`` for a zero reset), in
one pass (compiled) or one fused op per step (torch ops). It stores ``sg`` (plus the spikes for a zero reset, and
``v_pre`` only when beta/threshold need gradients or the zero reset is not detached), instead of an autograd
graph of every step.

When nothing needs a gradient (``torch.no_grad()``, or no input, state or parameter requires one) no
autograd Function is built: the compiled kernel's inference variant writes the same spikes, byte copy and
final membrane without the surrogate derivative (the torch-ops path skips the derivative pass), bit-identical
to the training forward. Both compiled variants also report whether the final membrane is finite, which
saves the layer's separate ``isfinite`` check.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, cast

import torch
from torch import Tensor

from neuromorph.neurons import native as _native
from neuromorph.neurons.native import flat_param as _flat
from neuromorph.neurons._reduce import reduce_to
from neuromorph.neurons.base import mark_finite
from neuromorph.neurons.parametrize import Decay, Positive
from neuromorph.neurons.protocol import Neuron, OnlineStep, Traces, zero_state_like
from neuromorph.synapses.compact import tag_compact_spikes
from neuromorph.surrogate import ATan, FastSigmoid, Sigmoid, Surrogate, Triangle
from neuromorph.surrogate import get_surrogate
from neuromorph.utils import check_tensor

RESETS = ("subtract", "zero", "none")


class LIFParams(NamedTuple):
    """Parameters of :func:`lif_step`/:func:`lif_sequence` (tensors broadcast against one time step of the input).

    >>> p = LIFParams(beta=torch.tensor(0.9), threshold=torch.tensor(1.0))
    >>> p.reset, p.detach_reset
    ('subtract', False)
    """

    beta: Tensor
    threshold: Tensor
    reset: str = "subtract"
    refractory_penalty: float = 0.0
    detach_reset: bool = False


class LIFState(NamedTuple):
    """Membrane ``v`` after the last step (and the last spikes, for layers with ``delay=True``).

    >>> LIFState(torch.zeros(2, 3)).v.shape
    torch.Size([2, 3])
    """

    v: Tensor
    last_spikes: Optional[Tensor] = None  # only used by layers with delay=True


def lif_step(x: Tensor, state: LIFState, params: LIFParams, surrogate: Surrogate) -> tuple[Tensor, LIFState]:
    """One LIF step (plain autograd). Returns ``(spikes, new_state)``; see the module docstring.

    >>> p = LIFParams(torch.tensor(0.5), torch.tensor(1.0))
    >>> s, state = lif_step(torch.tensor([0.6, 1.2]), LIFState(torch.tensor([0.0, 0.0])), p, ATan())
    >>> s.tolist(), [round(v, 2) for v in state.v.tolist()]
    ([0.0, 1.0], [0.6, 0.2])
    """
    v_pre = params.beta * state.v + x
    spikes = surrogate(v_pre - params.threshold)
    if params.reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {params.reset!r}")
    reset_spikes = spikes.detach() if params.detach_reset else spikes
    v = _reset(v_pre, reset_spikes, params.threshold + params.refractory_penalty, params.reset)
    return spikes, LIFState(v, state.last_spikes)


def lif_online_step(
    x: Tensor, state: LIFState, params: LIFParams, surrogate: Surrogate, traces: Traces, learn: tuple[str, ...]
) -> OnlineStep:
    """One LIF step with its eligibility rule (no autograd; see :mod:`neuromorph.neurons.protocol`).

    With ``u_t = v_pre_t - threshold``, ``d_out = surrogate'(u_t)`` and, spikes held constant::

        d v_pre_t / d beta = beta e^beta_{t-1} + v_{t-1}      d v_pre_t / d thr = beta e^thr_{t-1}
        d u_t / d beta     = d v_pre_t / d beta               d u_t / d thr     = d v_pre_t / d thr - 1
        e^p_t = d v_pre_t / d p - s_t [p = thr]   (subtract)   (1 - s_t) d v_pre_t / d p   (zero)
        e^p_t = d v_pre_t / d p                   (none)

    >>> p = LIFParams(torch.tensor(0.5), torch.tensor(1.0))
    >>> res = lif_online_step(torch.tensor([1.2]), LIFState(torch.zeros(1)), p, ATan(), {}, ("beta",))
    >>> res.out.tolist(), sorted(res.du_dp), res.traces["beta"]["v"].tolist()
    ([1.0], ['beta'], [0.0])
    """
    beta, thr = params.beta, params.threshold
    v_prev = state.v
    v_pre = beta * v_prev + x
    u = v_pre - thr
    spikes = (u >= 0).to(x.dtype)
    v = _reset(v_pre, spikes, thr + params.refractory_penalty, params.reset)
    du_dp: dict[str, Tensor] = {}
    new_traces: Traces = {}
    for p in learn:
        e_prev = traces.get(p, {}).get("v")
        dv_pre = beta * e_prev if e_prev is not None else torch.zeros_like(u)
        if p == "beta":
            dv_pre = dv_pre + v_prev
        du_dp[p] = dv_pre - 1 if p == "threshold" else dv_pre
        if params.reset == "subtract":
            e = dv_pre - spikes if p == "threshold" else dv_pre
        elif params.reset == "zero":
            e = dv_pre * (1 - spikes)
        else:
            e = dv_pre
        new_traces[p] = {"v": e}
    return OnlineStep(spikes, LIFState(v, state.last_spikes), surrogate.derivative(u), du_dp, new_traces)


def _reset(v_pre: Tensor, spikes: Tensor, R: Tensor, reset: str) -> Tensor:
    """Membrane after the reset (spikes as plain values)."""
    if reset == "subtract":
        return v_pre - spikes * R
    if reset == "zero":
        return v_pre * (1 - spikes)
    return v_pre


_RESET_CODE = {"subtract": 0, "zero": 1, "none": 2}
_SURROGATE_ARG = {ATan: (0, "alpha"), FastSigmoid: (1, "slope"), Triangle: (2, "width"), Sigmoid: (3, "slope")}


def _use_native(x: Tensor, surrogate: Surrogate) -> bool:
    """The compiled kernel applies to CPU float32/float64 tensors with a built-in surrogate."""
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and type(surrogate) in _SURROGATE_ARG
        and _native.load() is not None
    )


def _forward_torch(
    x: Tensor, v0: Tensor, beta_c: Tensor, thr_c: Tensor, R: Tensor, reset: str
) -> tuple[Tensor, Tensor, Tensor]:
    """Forward recurrence on torch ops (3 ops per step); returns ``(spikes, v_pre, final v)``."""
    v_pre = torch.empty_like(x)
    spikes = torch.empty_like(x)
    u = v0.to(x.dtype).expand_as(x[0]).clone()
    neg_reset = -R
    for t in range(x.shape[0]):
        torch.addcmul(x[t], u, beta_c, out=v_pre[t])
        torch.ge(v_pre[t], thr_c, out=spikes[t])
        if reset == "subtract":
            torch.addcmul(v_pre[t], spikes[t], neg_reset, out=u)
        elif reset == "zero":
            torch.addcmul(v_pre[t], spikes[t], v_pre[t], value=-1, out=u)
        else:
            u.copy_(v_pre[t])
    return spikes, v_pre, u


def _adjoint_torch(
    g_spikes: Tensor,
    g_u_last: Tensor,
    sg: Tensor,
    spikes: Optional[Tensor],
    v_pre: Optional[Tensor],
    beta_c: Tensor,
    R: Tensor,
    reset: str,
    detach_reset: bool,
) -> Tensor:
    """Adjoint recurrence on torch ops (one fused op per step); returns ``dL/dx`` (= dL/dv_pre)."""
    c: Optional[Tensor]
    if reset == "subtract" and not detach_reset:
        c = 1 - R * sg
    elif reset == "zero":
        assert spikes is not None, "a zero reset stores the spikes"
        if detach_reset:
            c = 1 - spikes
        else:
            assert v_pre is not None, "an attached zero reset stores v_pre"
            c = 1 - spikes - v_pre * sg
    else:
        c = None
    T = sg.shape[0]
    gx = g_spikes * sg
    # last step: the gradient reaching u_{T-1} comes from the returned state
    if c is None:
        gx[T - 1].add_(g_u_last)
        for t in range(T - 2, -1, -1):
            gx[t].addcmul_(gx[t + 1], beta_c)
    else:
        gx[T - 1].addcmul_(g_u_last, c[T - 1])
        cb = c.mul_(beta_c)
        for t in range(T - 2, -1, -1):
            gx[t].addcmul_(gx[t + 1], cb[t])
    return gx


def _run_forward(
    x: Tensor, v0: Tensor, beta_c: Tensor, thr_c: Tensor, R: Tensor, reset: str, surrogate: Surrogate, need_trace: bool
):
    """Forward recurrence on the compiled kernel when it applies, else on torch ops (no autograd).

    Returns ``(spikes, sg, final v, spikes_u8 or None, v_pre or None, native module or None)`` with
    ``sg = surrogate'(v_pre - threshold)``; ``v_pre`` is kept only when ``need_trace``.
    """
    native = _native.load() if _use_native(x, surrogate) else None
    if native is not None:
        step = x.shape[1:]
        kind, arg = _SURROGATE_ARG[type(surrogate)]
        outs, finite = native.lif_forward(
            x.contiguous(),
            _flat(v0, step, x.dtype),
            _flat(beta_c, step, x.dtype),
            _flat(thr_c, step, x.dtype),
            _flat(R, step, x.dtype),
            _RESET_CODE[reset],
            kind,
            float(getattr(surrogate, arg)),
            need_trace,
        )
        v_pre = outs[4] if need_trace else None
        u = outs[2].reshape(step)
        if finite:
            mark_finite(u)
        return outs[0], outs[1], u, outs[3], v_pre, native
    spikes, v_pre, u = _forward_torch(x, v0, beta_c, thr_c, R, reset)
    if need_trace:
        sg = surrogate.derivative_(v_pre - thr_c)
    else:  # v_pre is not needed later: turn it into the surrogate derivative in place
        sg, v_pre = surrogate.derivative_(v_pre.sub_(thr_c)), None
    return spikes, sg, u, None, v_pre, None


class _LIFSequence(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx,
        x: Tensor,
        v0: Tensor,
        beta: Tensor,
        threshold: Tensor,
        surrogate: Surrogate,  # type: ignore[override]
        reset: str,
        penalty: float,
        detach_reset: bool,
    ):
        beta_c, thr_c = beta.to(x.dtype), threshold.to(x.dtype)
        R = thr_c + penalty
        # v_pre is needed by the parameter gradients and by an attached zero reset (c_t = 1 - s_t - v_pre_t sg_t);
        # a detached zero reset needs only the spikes (c_t = 1 - s_t)
        need_trace = ctx.needs_input_grad[2] or ctx.needs_input_grad[3] or (reset == "zero" and not detach_reset)
        ctx.reset, ctx.penalty, ctx.detach_reset = reset, penalty, detach_reset
        spikes, sg, u, spikes_u8, v_pre, ctx.native = _run_forward(
            x, v0, beta_c, thr_c, R, reset, surrogate, need_trace
        )
        if spikes_u8 is not None:
            ctx.mark_non_differentiable(spikes_u8)
        keep_spikes = need_trace or reset == "zero"
        ctx.save_for_backward(sg, v_pre, spikes if keep_spikes else None, v0, beta, threshold)
        return spikes, u, spikes_u8

    @staticmethod
    def backward(ctx, g_spikes: Tensor, g_u_last: Tensor, _g_u8: Tensor | None):  # type: ignore[override]
        sg, v_pre, spikes, v0, beta, threshold = ctx.saved_tensors
        reset, penalty, detach_reset = ctx.reset, ctx.penalty, ctx.detach_reset
        dtype = g_spikes.dtype
        beta_c, thr_c = beta.to(dtype), threshold.to(dtype)
        R = thr_c + penalty
        if ctx.native is not None:
            step = sg.shape[1:]
            empty = sg.new_empty(0)
            gx = ctx.native.lif_backward(
                g_spikes.contiguous(),
                _flat(g_u_last, step, dtype),
                sg,
                spikes if spikes is not None else empty,
                v_pre if v_pre is not None else empty,
                _flat(beta_c, step, dtype),
                _flat(R, step, dtype),
                _RESET_CODE[reset],
                detach_reset,
            ).reshape(sg.shape)
        else:
            gx = _adjoint_torch(g_spikes, g_u_last, sg, spikes, v_pre, beta_c, R, reset, detach_reset)

        g_v0 = g_beta = g_thr = None
        if ctx.needs_input_grad[1]:
            g_v0 = reduce_to(gx[0] * beta_c, v0.shape)
        if ctx.needs_input_grad[2] or ctx.needs_input_grad[3]:
            # g_u_t = beta * g_vpre_{t+1} (t < T-1), g_u_{T-1} = g_u_last
            g_u = torch.cat([gx[1:] * beta_c, g_u_last.unsqueeze(0)], dim=0)
            if ctx.needs_input_grad[2]:
                if reset == "subtract":
                    u = v_pre - spikes * R
                elif reset == "zero":
                    u = v_pre * (1 - spikes)
                else:
                    u = v_pre
                u_prev = torch.cat([v0.to(dtype).expand_as(u[0]).unsqueeze(0), u[:-1]], dim=0)
                g_beta = reduce_to(gx * u_prev, beta.shape).to(beta.dtype)
            if ctx.needs_input_grad[3]:
                # dL/ds_t (total) = g_s_t + reset path; ds_t/dthr = -sg_t
                g_s_total = g_spikes
                if not detach_reset:
                    if reset == "subtract":
                        g_s_total = g_spikes - R * g_u
                    elif reset == "zero":
                        g_s_total = g_spikes - v_pre * g_u
                g_thr_full = -g_s_total * sg
                if reset == "subtract":
                    g_thr_full = g_thr_full - g_u * spikes
                g_thr = reduce_to(g_thr_full, threshold.shape).to(threshold.dtype)
        return gx, g_v0, g_beta, g_thr, None, None, None, None


def _lif_inference(
    x: Tensor, v0: Tensor, params: LIFParams, surrogate: Surrogate
) -> tuple[Tensor, Tensor, Optional[Tensor]]:
    """Forward recurrence when no gradient is needed: ``(spikes, final v, spikes_u8 or None)``, the values of
    :class:`_LIFSequence`'s forward without its surrogate-derivative output (compiled: the same loop with
    that store left out; torch ops: the same 3 ops per step, no derivative pass afterwards)."""
    beta_c, thr_c = params.beta.detach(), params.threshold.detach()
    if beta_c.dtype != x.dtype:
        beta_c = beta_c.to(x.dtype)
    if thr_c.dtype != x.dtype:
        thr_c = thr_c.to(x.dtype)
    penalty = float(params.refractory_penalty)
    R = thr_c + penalty if penalty else thr_c  # threshold + 0.0 is the threshold (positive, never -0.0)
    native = _native.load() if _use_native(x, surrogate) else None
    if native is not None:
        step = x.shape[1:]
        spikes, u, spikes_u8, finite = native.lif_forward_inference(
            x.contiguous(),
            _flat(v0.detach(), step, x.dtype),
            _flat(beta_c, step, x.dtype),
            _flat(thr_c, step, x.dtype),
            _flat(R, step, x.dtype),
            _RESET_CODE[params.reset],
        )
        u = u.reshape(step)
        if finite:
            mark_finite(u)
        return spikes, u, spikes_u8
    spikes, _, u = _forward_torch(x, v0.detach(), beta_c, thr_c, R, params.reset)
    return spikes, u, None


def lif_sequence(x_seq: Tensor, state: LIFState, params: LIFParams, surrogate: Surrogate) -> tuple[Tensor, LIFState]:
    """Run ``T = x_seq.shape[0]`` LIF steps in one fused call. Same results and gradients as looping
    :func:`lif_step`; returns ``(spikes [T, ...], final_state)``.

    >>> p = LIFParams(torch.tensor(0.5), torch.tensor(1.0))
    >>> s, state = lif_sequence(torch.full((3, 1), 0.6), LIFState(torch.zeros(1)), p, ATan())
    >>> s.flatten().tolist(), round(state.v.item(), 4)
    ([0.0, 0.0, 1.0], 0.05)
    """
    check_tensor("x_seq", x_seq, floating=True)
    if params.reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {params.reset!r}")
    if x_seq.dim() < 2 or x_seq.shape[0] == 0:
        raise ValueError(f"x_seq must be [T, ...] with at least one time step, got shape {tuple(x_seq.shape)}")
    check_lif_params(params)
    if torch.is_grad_enabled() and (
        x_seq.requires_grad or state.v.requires_grad or params.beta.requires_grad or params.threshold.requires_grad
    ):
        spikes, v, spikes_u8 = _LIFSequence.apply(
            x_seq,
            state.v,
            params.beta,
            params.threshold,
            surrogate,
            params.reset,
            float(params.refractory_penalty),
            bool(params.detach_reset),
        )
    else:  # nothing to differentiate: no autograd node, no surrogate derivative
        spikes, v, spikes_u8 = _lif_inference(x_seq, state.v, params, surrogate)
    if spikes_u8 is not None:  # the compiled kernel also wrote the spikes as bytes: SpikeLinear stores those
        tag_compact_spikes(spikes, spikes_u8)
    return spikes, LIFState(v, state.last_spikes)


@torch.no_grad()
def lif_sequence_with_derivative(
    x_seq: Tensor, state: LIFState, params: LIFParams, surrogate: Surrogate
) -> tuple[Tensor, LIFState, Tensor]:
    """Values of :func:`lif_sequence` without autograd, plus ``sg_t = surrogate'(v_pre_t - threshold)`` for
    every step: ``(spikes [T, ...], final state, sg [T, ...])`` (the online learner's fast path).

    >>> p = LIFParams(torch.tensor(0.5), torch.tensor(1.0))
    >>> s, state, sg = lif_sequence_with_derivative(torch.full((3, 1), 0.6), LIFState(torch.zeros(1)), p, ATan())
    >>> s.flatten().tolist(), sg.shape
    ([0.0, 0.0, 1.0], torch.Size([3, 1]))
    """
    beta_c, thr_c = params.beta.detach().to(x_seq.dtype), params.threshold.detach().to(x_seq.dtype)
    spikes, sg, v, spikes_u8, _, _ = _run_forward(
        x_seq, state.v, beta_c, thr_c, thr_c + params.refractory_penalty, params.reset, surrogate, False
    )
    if spikes_u8 is not None:
        tag_compact_spikes(spikes, spikes_u8)
    return spikes, LIFState(v, state.last_spikes), sg


def check_lif_params(params: LIFParams) -> None:
    """``beta`` in ``[0, 1]``, ``threshold > 0``, both finite, ``refractory_penalty >= 0``; else ``ValueError``.

    >>> check_lif_params(LIFParams(torch.tensor(0.9), torch.tensor(1.0)))
    >>> try:
    ...     check_lif_params(LIFParams(torch.tensor(1.5), torch.tensor(1.0)))
    ... except ValueError:
    ...     print("beta out of range")
    beta out of range
    """
    beta, thr = params.beta.detach(), params.threshold.detach()
    if beta.numel() == 1:  # one value: a Python comparison instead of three tensor ops (NaN fails both)
        beta_ok = 0.0 <= float(beta) <= 1.0
    else:
        beta_ok = bool(((beta >= 0) & (beta <= 1)).all())
    if not beta_ok:
        raise ValueError(f"beta must lie in [0, 1], got values in [{float(beta.min()):.4g}, {float(beta.max()):.4g}]")
    if thr.numel() == 1:
        thr_ok = 0.0 < float(thr) < math.inf
    else:
        thr_ok = bool(((thr > 0) & torch.isfinite(thr)).all())
    if not thr_ok:
        raise ValueError(f"threshold must be positive and finite, got min {float(thr.min()):.4g}")
    _check_penalty(params.refractory_penalty)


def _check_penalty(refractory_penalty: float) -> float:
    if (
        isinstance(refractory_penalty, bool)
        or not isinstance(refractory_penalty, (int, float))
        or refractory_penalty < 0
    ):
        raise ValueError(f"refractory_penalty must be a number >= 0, got {refractory_penalty!r}")
    return float(refractory_penalty)


class LIF(Neuron):
    """Leaky integrate-and-fire layer (see the module docstring for the update equations).

    Args:
        beta: membrane decay in (0, 1).
        threshold: firing threshold (> 0).
        reset: "subtract" (default), "zero" or "none".
        refractory_penalty: extra amount removed from the membrane on a spike (>= 0).
        delay: if True the layer outputs the previous step's spikes (zeros at the first step).
        surrogate: surrogate gradient name or :class:`~neuromorph.surrogate.Surrogate`.
        learn_beta / learn_threshold: learn them through sigmoid / softplus parametrisations.
        num_neurons: None for scalar parameters, an int (or shape tuple) for per-neuron parameters.
        detach_reset: treat the reset as a constant in backward.
        step_mode: "multi" for ``[T, B, ...]`` input (fused kernel) or "single" for ``[B, ...]``.

    >>> import torch
    >>> layer = LIF(beta=0.5, threshold=1.0)
    >>> layer(torch.tensor([[[0.6]], [[0.6]], [[0.6]]])).flatten().tolist()   # v_pre = 0.6, 0.9, 1.05
    [0.0, 0.0, 1.0]
    """

    Params = LIFParams
    State = LIFState
    step = staticmethod(lif_step)
    sequence = staticmethod(lif_sequence)
    online_step = staticmethod(lif_online_step)
    learnable = ("beta", "threshold")
    online_exact = {"reset": "none"}

    def __init__(
        self,
        beta: float = 0.9,
        threshold: float = 1.0,
        reset: str = "subtract",
        refractory_penalty: float = 0.0,
        delay: bool = False,
        surrogate: str | Surrogate = "atan",
        learn_beta: bool = False,
        learn_threshold: bool = False,
        num_neurons: int | tuple[int, ...] | None = None,
        detach_reset: bool = False,
        step_mode: str = "multi",
    ) -> None:
        super().__init__(step_mode)
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")
        self.beta = Decay("beta", beta, learn_beta, num_neurons)
        self.threshold = Positive("threshold", threshold, learn_threshold, num_neurons)
        self.reset_mode = reset
        self.refractory_penalty = _check_penalty(refractory_penalty)
        self.delay = bool(delay)
        self.surrogate = get_surrogate(surrogate)
        self.detach_reset = bool(detach_reset)

    def params(self) -> LIFParams:
        # .forward() of the parametrisations directly: no module hooks there, and two module calls are a
        # measurable part of a small layer's call
        return LIFParams(
            self.beta.forward(), self.threshold.forward(), self.reset_mode, self.refractory_penalty, self.detach_reset
        )

    def init_state(self, like: Tensor) -> LIFState:
        # a broadcast zero: costs no memory and no fill until the first step writes a real membrane
        zero = zero_state_like(like, 1)[0]
        return LIFState(zero, zero if self.delay else None)

    def input_decays(self) -> tuple[float, ...]:
        return (float(self.beta().detach().mean()),)

    def check_online(self) -> None:
        if self.delay:
            raise ValueError(
                "online learning does not support LIF(delay=True): the delayed output carries no "
                "gradient to this step's input; use delay=False"
            )

    def online_sequence(self, x_seq: Tensor, state: LIFState, traces: Traces, learn: tuple[str, ...]):
        if learn:
            return super().online_sequence(x_seq, state, traces, learn)
        spikes, state, sg = lif_sequence_with_derivative(x_seq, state, self.params(), self.surrogate)
        return spikes, state, sg, {}, traces

    def forward_single(self, x: Tensor, state: LIFState) -> tuple[Tensor, LIFState]:
        spikes, state = lif_step(x, state, self.params(), self.surrogate)
        if self.delay:
            return cast(Tensor, state.last_spikes), LIFState(state.v, spikes)  # init_state sets it when delayed
        return spikes, state

    def forward_multi(self, x: Tensor, state: LIFState) -> tuple[Tensor, LIFState]:
        spikes, state = lif_sequence(x, state, self.params(), self.surrogate)
        if self.delay:
            out = torch.cat([cast(Tensor, state.last_spikes).unsqueeze(0), spikes[:-1]], dim=0)
            return out, LIFState(state.v, spikes[-1])
        return spikes, state

    def extra_repr(self) -> str:
        return (
            f"reset={self.reset_mode!r}, refractory_penalty={self.refractory_penalty}, delay={self.delay}, "
            f"surrogate={self.surrogate}, detach_reset={self.detach_reset}, step_mode={self.step_mode!r}"
        )
