"""Fused multi-step kernels, on both LIF backends (torch ops and compiled C++), must equal a naive per-step autograd
loop in float32 and float64 (spikes exactly, states and all gradients to rounding)."""
import itertools

import pytest
import torch

from neuromorph.neurons import (ALIFParams, ALIFState, LIFParams, LIFState, alif_sequence, alif_step,
                                leaky_filter, lif_sequence, lif_step)
from neuromorph.surrogate import ATan, FastSigmoid, Sigmoid, Triangle

T, B, N = 12, 3, 7


def _inputs(per_neuron: bool, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(T, B, N, generator=g, dtype=dtype) * 0.8 + 0.45).requires_grad_()
    v0 = (torch.rand(B, N, generator=g, dtype=dtype) * 0.5).requires_grad_()
    shape = (N,) if per_neuron else ()
    beta = (torch.rand(shape, generator=g, dtype=dtype) * 0.5 + 0.4).requires_grad_()
    thr = (torch.rand(shape, generator=g, dtype=dtype) * 0.5 + 0.75).requires_grad_()
    return x, v0, beta, thr


def _loss(spikes, v):
    w = torch.linspace(-1, 1, spikes.numel(), dtype=spikes.dtype).reshape(spikes.shape)
    return (spikes * w).sum() + (v ** 2).sum() * 0.3


def _tolerance(dtype: torch.dtype) -> dict[str, float]:
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-9, "atol": 1e-10}


@pytest.mark.parametrize("reset,detach_reset,per_neuron,penalty", [
    (r, d, p, pen) for r, d, p, pen in itertools.product(("subtract", "zero", "none"), (False, True),
                                                          (False, True), (0.0, 0.5))
    if not (r != "subtract" and pen > 0)])
@pytest.mark.parametrize("surrogate", [ATan(), FastSigmoid(), Triangle(), Sigmoid()])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lif_sequence_matches_stepwise_autograd(kernel_backend, dtype, reset, detach_reset, per_neuron, penalty,
                                                surrogate):
    """Each backend, every configuration, both dtypes: spikes exactly, final membrane and all gradients."""
    from neuromorph.neurons import lif as lif_module

    x, v0, beta, thr = _inputs(per_neuron, dtype=dtype)
    assert lif_module._use_native(x, surrogate) == (kernel_backend == "native")
    params = LIFParams(beta, thr, reset, penalty, detach_reset)

    spikes_f, state_f = lif_sequence(x, LIFState(v0), params, surrogate)
    grads_f = torch.autograd.grad(_loss(spikes_f, state_f.v), [x, v0, beta, thr])

    state = LIFState(v0)
    outs = []
    for t in range(T):
        s, state = lif_step(x[t], state, params, surrogate)
        outs.append(s)
    spikes_r = torch.stack(outs)
    grads_r = torch.autograd.grad(_loss(spikes_r, state.v), [x, v0, beta, thr])

    assert spikes_r.sum() > 0 and (spikes_r == 0).any()  # the case exercises both firing and silence
    assert spikes_f.dtype == dtype and state_f.v.dtype == dtype
    torch.testing.assert_close(spikes_f, spikes_r, rtol=0, atol=0)
    torch.testing.assert_close(state_f.v, state.v, **_tolerance(dtype))
    for name, gf, gr in zip(("x", "v0", "beta", "threshold"), grads_f, grads_r):
        torch.testing.assert_close(gf, gr, **_tolerance(dtype), msg=lambda m, n=name: f"gradient wrt {n}: {m}")


@pytest.mark.parametrize("reset,detach_reset", [("subtract", False), ("zero", True), ("zero", False)])
def test_lif_sequence_without_parameter_grads_still_gives_input_grads(kernel_backend, reset, detach_reset):
    """Without parameter gradients a detached zero reset keeps only the spikes (no v_pre) for backward."""
    x, v0, beta, thr = _inputs(False)
    params = LIFParams(beta.detach(), thr.detach(), reset, 0.0, detach_reset)
    s, st = lif_sequence(x, LIFState(v0.detach()), params, ATan())
    (gx,) = torch.autograd.grad(_loss(s, st.v), [x])
    state, outs = LIFState(v0.detach()), []
    for t in range(T):
        o, state = lif_step(x[t], state, params, ATan())
        outs.append(o)
    (gr,) = torch.autograd.grad(_loss(torch.stack(outs), state.v), [x])
    torch.testing.assert_close(gx, gr, rtol=1e-5, atol=1e-5)


def test_leaky_filter_matches_loop():
    x, y0, alpha, _ = _inputs(True)
    y = leaky_filter(x, y0, alpha)
    gf = torch.autograd.grad((y * torch.cos(y)).sum(), [x, y0, alpha])
    ref, prev = [], y0
    for t in range(T):
        prev = alpha * prev + x[t]
        ref.append(prev)
    ref = torch.stack(ref)
    gr = torch.autograd.grad((ref * torch.cos(ref)).sum(), [x, y0, alpha])
    torch.testing.assert_close(y, ref)
    for a, b in zip(gf, gr):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reset,detach_reset", [("subtract", False), ("subtract", True), ("zero", False)])
def test_alif_sequence_matches_stepwise_autograd(reset, detach_reset):
    x, v0, beta, thr = _inputs(True)
    rho = torch.full((N,), 0.9, dtype=torch.float64, requires_grad=True)
    adapt = torch.full((N,), 0.3, dtype=torch.float64, requires_grad=True)
    a0 = torch.zeros(B, N, dtype=torch.float64, requires_grad=True)
    params = ALIFParams(beta, thr, rho, adapt, reset, detach_reset)
    s_f, st_f = alif_sequence(x, ALIFState(v0, a0), params, ATan())
    leaves = [x, v0, a0, beta, thr, rho, adapt]
    g_f = torch.autograd.grad(_loss(s_f, st_f.v) + st_f.a.sum(), leaves)
    state, outs = ALIFState(v0, a0), []
    for t in range(T):
        s, state = alif_step(x[t], state, params, ATan())
        outs.append(s)
    s_r = torch.stack(outs)
    g_r = torch.autograd.grad(_loss(s_r, state.v) + state.a.sum(), leaves)
    assert s_r.sum() > 0
    torch.testing.assert_close(s_f, s_r)
    for gf, gr in zip(g_f, g_r):
        torch.testing.assert_close(gf, gr, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("surrogate", [ATan(alpha=3.0), FastSigmoid(slope=10.0), Triangle(width=0.7), Sigmoid()])
def test_inplace_surrogate_derivative_equals_out_of_place(surrogate):
    x = torch.linspace(-3, 3, 101, dtype=torch.float64)
    expected = surrogate.derivative(x)
    torch.testing.assert_close(surrogate.derivative_(x.clone()), expected)
