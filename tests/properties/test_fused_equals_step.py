"""Properties of the neuron kernels, for random shapes, T, parameters, resets, surrogates and dtypes:

* every fused multi-step kernel (LIF, synaptic LIF, ALIF, leaky filter) equals a loop of its single-step
  function: spikes exactly, final state and all gradients to rounding;
* the LIF kernel gives the same on both backends (compiled C++ and torch ops), each compared to the loop;
* the layers (LIF, SynapticLIF, ALIF, LeakyIntegrator) give the same in ``step_mode="multi"`` and ``"single"``.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from _kernel_cases import (assert_all_close, backend, cases, grads, loss, native_available, surrogates,
                           tolerances)
from neuromorph.neurons import (ALIF, LIF, ALIFParams, ALIFState, LeakyIntegrator, LIFParams, LIFState,
                                SynapticLIF, SynapticParams, SynapticState, alif_sequence, alif_step,
                                leaky_filter, lif_sequence, lif_step, set_step_mode, synaptic_sequence,
                                synaptic_step)
from neuromorph.neurons.lif import RESETS

BACKENDS = ["torch", pytest.param("native", marks=pytest.mark.skipif(
    not native_available(), reason="compiled LIF kernel not available on this machine"))]


def _lif_problem(case, data):
    g = case.generator()
    reset = data.draw(st.sampled_from(RESETS), label="reset")
    detach = data.draw(st.booleans(), label="detach_reset")
    penalty = data.draw(st.sampled_from([0.0, 0.5]), label="penalty") if reset == "subtract" else 0.0
    param_grads = data.draw(st.booleans(), label="param_grads")
    x = case.inputs(g)
    v_leaf, v0 = case.state(g, zero=data.draw(st.booleans(), label="zero_state"))
    beta = case.param(g, 0.2, 0.95, 0.5, param_grads)
    thr = case.param(g, 0.5, 1.5, 1.0, param_grads)
    return g, x, v_leaf, v0, LIFParams(beta, thr, reset, penalty, detach)


def _assert_sequence_equals_loop(case, g, sequence_fn, step_fn, x, state0, params, surrogate, leaves,
                                 kernel_backend: str = "torch") -> None:
    """Loop ``step_fn`` over time as the reference, run ``sequence_fn`` once on ``kernel_backend``; spikes must be
    equal exactly, every final state tensor and the gradients of a random loss wrt ``leaves`` to rounding."""
    state, outs = state0, []
    for t in range(case.T):
        s, state = step_fn(x[t], state, params, surrogate)
        outs.append(s)
    ref_spikes = torch.stack(outs)
    with backend(kernel_backend):
        spikes, final = sequence_fn(x, state0, params, surrogate)
    assert spikes.dtype == case.dtype and torch.equal(spikes, ref_spikes)
    got_states, want_states = [s for s in final if s is not None], [s for s in state if s is not None]
    assert_all_close("state", got_states, want_states, case.dtype)
    w_seed = int(torch.randint(0, 2 ** 31 - 1, (1,), generator=g))
    got = grads(loss(torch.Generator().manual_seed(w_seed), spikes, *got_states), leaves)
    want = grads(loss(torch.Generator().manual_seed(w_seed), ref_spikes, *want_states), leaves)
    assert_all_close("grad", got, want, case.dtype)


@pytest.mark.parametrize("kernel_backend", BACKENDS)
@given(case=cases(), surrogate=surrogates(), data=st.data())
def test_lif_sequence_equals_step_loop(kernel_backend, case, surrogate, data):
    g, x, v_leaf, v0, params = _lif_problem(case, data)
    _assert_sequence_equals_loop(case, g, lif_sequence, lif_step, x, LIFState(v0), params, surrogate,
                                 [x, v_leaf, params.beta, params.threshold], kernel_backend)


@pytest.mark.parametrize("kernel_backend", BACKENDS)
@given(case=cases(), surrogate=surrogates(), data=st.data())
def test_synaptic_sequence_equals_step_loop(kernel_backend, case, surrogate, data):
    g, x, v_leaf, v0, lif = _lif_problem(case, data)
    i_leaf, i0 = case.state(g, zero=data.draw(st.booleans(), label="zero_current"))
    alpha = case.param(g, 0.2, 0.95, 0.5, lif.beta.requires_grad)
    _assert_sequence_equals_loop(case, g, synaptic_sequence, synaptic_step, x, SynapticState(v0, i0),
                                 SynapticParams(alpha, lif.beta, lif.threshold, lif.reset, lif.detach_reset), surrogate,
                                 [x, v_leaf, i_leaf, alpha, lif.beta, lif.threshold], kernel_backend)


@given(case=cases(), surrogate=surrogates(), data=st.data())
def test_alif_sequence_equals_step_loop(case, surrogate, data):
    g = case.generator()
    reset = data.draw(st.sampled_from(["subtract", "zero"]), label="reset")
    detach = data.draw(st.booleans(), label="detach_reset")
    param_grads = data.draw(st.booleans(), label="param_grads")
    x = case.inputs(g)
    v_leaf, v0 = case.state(g, zero=data.draw(st.booleans(), label="zero_state"))
    a_leaf, a0 = case.state(g, zero=data.draw(st.booleans(), label="zero_adaptation"))
    params = ALIFParams(case.param(g, 0.2, 0.95, 0.5, param_grads), case.param(g, 0.5, 1.5, 1.0, param_grads),
                        case.param(g, 0.5, 0.99, 0.5, param_grads), case.param(g, 0.05, 0.5, 0.25, param_grads),
                        reset, detach)
    _assert_sequence_equals_loop(case, g, alif_sequence, alif_step, x, ALIFState(v0, a0), params, surrogate,
                                 [x, v_leaf, a_leaf, *params[:4]])


@given(case=cases(max_T=16), data=st.data())
def test_leaky_filter_equals_step_loop(case, data):
    g = case.generator()
    x = case.inputs(g)
    y_leaf, y0 = case.state(g, zero=data.draw(st.booleans(), label="zero_state"))
    alpha = case.param(g, 0.2, 0.99, 0.5, data.draw(st.booleans(), label="alpha_grad"))
    prev, ref = y0, []
    for t in range(case.T):
        prev = alpha * prev + x[t]
        ref.append(prev)
    ref = torch.stack(ref)
    y = leaky_filter(x, y0, alpha)
    torch.testing.assert_close(y, ref, **tolerances(case.dtype))
    w = torch.randn(y.shape, generator=g, dtype=torch.float64).to(case.dtype)
    leaves = [x, y_leaf, alpha]
    assert_all_close("grad", grads((y * w).sum() + (y[-1] ** 2).sum(), leaves),
                     grads((ref * w).sum() + (ref[-1] ** 2).sum(), leaves), case.dtype)


def _layer(kind: str, case, learn: bool, surrogate, reset: str):
    n = case.step_shape[1:] if case.per_neuron and len(case.step_shape) > 1 else None
    if kind == "lif":
        layer = LIF(0.8, 0.9, reset=reset, surrogate=surrogate, learn_beta=learn, learn_threshold=learn,
                    num_neurons=n, refractory_penalty=0.2 if reset == "subtract" else 0.0)
    elif kind == "synaptic":
        layer = SynapticLIF(0.7, 0.85, 0.9, reset=reset, surrogate=surrogate, learn_alpha=learn, learn_beta=learn,
                            learn_threshold=learn, num_neurons=n)
    elif kind == "alif":
        layer = ALIF(0.85, 0.9, 0.9, 0.3, reset="zero" if reset == "zero" else "subtract", surrogate=surrogate,
                     learn_beta=learn, learn_threshold=learn, learn_rho=learn, learn_adapt=learn, num_neurons=n)
    else:
        layer = LeakyIntegrator(0.85, learn_beta=learn, num_neurons=n)
    return layer.to(case.dtype)


@pytest.mark.parametrize("kind", ["lif", "synaptic", "alif", "integrator"])
@given(case=cases(max_T=8, min_dims=2), surrogate=surrogates(), data=st.data())
def test_layer_multi_step_equals_single_step(kind, case, surrogate, data):
    learn = data.draw(st.booleans(), label="learn")
    reset = data.draw(st.sampled_from(RESETS), label="reset")
    g = case.generator()
    x = case.inputs(g)
    results = []
    for mode in ("multi", "single"):
        layer = set_step_mode(_layer(kind, case, learn, surrogate, reset), mode)
        out = layer(x) if mode == "multi" else torch.stack([layer(x[t]) for t in range(case.T)])
        final = [s for s in layer.state if isinstance(s, torch.Tensor)]
        w = torch.randn(out.shape, generator=torch.Generator().manual_seed(case.seed), dtype=torch.float64)
        leaves = [x, *layer.parameters()]
        results.append((out, final, grads((out * w.to(case.dtype)).sum() + sum((s ** 2).sum() for s in final),
                                          leaves)))
    (out_m, state_m, grads_m), (out_s, state_s, grads_s) = results
    if kind == "integrator":
        torch.testing.assert_close(out_m, out_s, **tolerances(case.dtype))
    else:
        assert torch.equal(out_m, out_s)
    assert_all_close("state", state_m, state_s, case.dtype)
    assert_all_close("grad", grads_m, grads_s, case.dtype)
