"""The inference-only paths (no gradient needed) give exactly the values of the training paths.

* ``lif_sequence`` without autograd calls ``lif_forward_inference`` (compiled) or the torch-ops loop without the
  surrogate pass: spikes, spike bytes and final membrane bit-identical to the autograd Function's forward.
* ``leaky_filter`` runs on the compiled ``leaky_forward``: bit-identical to one ``torch.addcmul`` per step.
* The finiteness check of the new state is done by the kernels; NaN/inf input is still a ``ValueError``.
"""
import itertools

import pytest
import torch

from neuromorph import LIF
from neuromorph.neurons import LeakyIntegrator, LIFParams, LIFState, leaky_filter, lif_sequence, native
from neuromorph.neurons import integrator as integrator_module
from neuromorph.neurons.base import _FINITE_MARK
from neuromorph.surrogate import ATan, FastSigmoid, Sigmoid, Triangle
from neuromorph.synapses.compact import tagged_compact_spikes

needs_kernel = pytest.mark.skipif(native.load() is None, reason="compiled kernel unavailable")
DTYPES = (torch.float32, torch.float64)


def _case(dtype, per_neuron: bool, seed: int = 0, shape=(3, 37)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(11, *shape, generator=g, dtype=dtype) * 0.8 + 0.45
    v0 = torch.rand(*shape, generator=g, dtype=dtype) * 0.5
    pshape = shape[1:] if per_neuron else ()
    beta = torch.rand(pshape, generator=g, dtype=dtype) * 0.5 + 0.4
    thr = torch.rand(pshape, generator=g, dtype=dtype) * 0.5 + 0.75
    return x, v0, beta, thr


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset,penalty,detach", [(r, p, d) for r, p, d in itertools.product(
    ("subtract", "zero", "none"), (0.0, 0.4), (False, True)) if not (r != "subtract" and p > 0)])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_inference_equals_training_forward_bitwise(kernel_backend, dtype, reset, penalty, detach, per_neuron):
    x, v0, beta, thr = _case(dtype, per_neuron)
    params = LIFParams(beta, thr, reset, penalty, detach)
    x_train = x.clone().requires_grad_()
    spikes_t, state_t = lif_sequence(x_train, LIFState(v0), params, ATan())
    assert spikes_t.grad_fn is not None
    with torch.no_grad():
        spikes_i, state_i = lif_sequence(x, LIFState(v0), params, ATan())
    assert spikes_i.grad_fn is None and not spikes_i.requires_grad
    assert 0 < spikes_i.sum() < spikes_i.numel()  # both firing and silence are exercised
    assert torch.equal(spikes_i, spikes_t.detach()) and torch.equal(state_i.v, state_t.v.detach())
    bytes_t, bytes_i = tagged_compact_spikes(spikes_t), tagged_compact_spikes(spikes_i)
    if kernel_backend == "native":
        assert torch.equal(bytes_i, bytes_t) and torch.equal(bytes_i, spikes_i.to(torch.uint8))
    # grad mode on, but nothing requires a gradient: the inference path too
    spikes_n, state_n = lif_sequence(x, LIFState(v0), params, ATan())
    assert spikes_n.grad_fn is None and torch.equal(spikes_n, spikes_i) and torch.equal(state_n.v, state_i.v)


@needs_kernel
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset", [0, 1, 2])
@pytest.mark.parametrize("surrogate_kind", [0, 1, 2, 3])
def test_compiled_inference_kernel_equals_training_kernel(dtype, reset, surrogate_kind):
    """The kernel variant without the surrogate derivative writes the same spikes, bytes and membrane."""
    kernel = native.load()
    x, v0, beta, thr = _case(dtype, True, seed=reset, shape=(4, 301))
    x2, v2 = x.reshape(11, -1), v0.reshape(-1)
    b2, t2 = beta.expand(4, 301).reshape(-1).contiguous(), thr.expand(4, 301).reshape(-1).contiguous()
    outs, finite = kernel.lif_forward(x2, v2, b2, t2, t2 + 0.25, reset, surrogate_kind, 2.0, False)
    spikes, u, spikes_u8, finite_i = kernel.lif_forward_inference(x2, v2, b2, t2, t2 + 0.25, reset)
    assert finite and finite_i
    assert torch.equal(spikes, outs[0]) and torch.equal(u, outs[2]) and torch.equal(spikes_u8, outs[3])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("per_neuron,zero_start,T", [(False, True, 9), (True, False, 9), (True, True, 1)])
def test_leaky_filter_equals_addcmul_loop_bitwise(dtype, per_neuron, zero_start, T):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(T, 5, 300, generator=g, dtype=dtype)
    y0 = torch.zeros((), dtype=dtype).expand(5, 300) if zero_start else torch.randn(5, 300, generator=g,
                                                                                    dtype=dtype)
    alpha = torch.rand(300 if per_neuron else (), generator=g, dtype=dtype)
    reference = torch.empty_like(x)
    torch.addcmul(x[0], y0, alpha, out=reference[0])
    for t in range(1, T):
        torch.addcmul(x[t], reference[t - 1], alpha, out=reference[t])
    assert torch.equal(leaky_filter(x, y0, alpha), reference)
    # with autograd (the Function's forward runs the same values)
    x_grad = x.clone().requires_grad_()
    y = leaky_filter(x_grad, y0, alpha)
    assert y.grad_fn is not None and torch.equal(y.detach(), reference)


@pytest.mark.parametrize("layer_type", [LIF, LeakyIntegrator])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_is_still_caught_at_inference(kernel_backend, monkeypatch, layer_type, bad):
    if kernel_backend == "torch":  # the integrator's own switch: no kernel
        monkeypatch.setattr(native, "load", lambda: None)
    layer = layer_type()
    x = torch.rand(6, 2, 40)
    x[3, 1, 7] = bad
    with torch.no_grad(), pytest.raises(ValueError, match="NaN or infinite"):
        layer(x)
    layer.reset()
    with torch.inference_mode(), pytest.raises(ValueError, match="NaN or infinite"):
        layer(x)


@needs_kernel
def test_finite_mark_is_voided_by_an_in_place_change():
    from neuromorph.neurons.base import _check_finite

    layer = LIF()
    with torch.no_grad():
        layer(torch.rand(4, 2, 8))
    v = layer.state.v
    assert getattr(v, _FINITE_MARK) == v._version
    v.fill_(float("nan"))  # bumps the version: the kernel's verdict no longer applies
    with pytest.raises(ValueError, match="NaN or infinite"):
        _check_finite(layer, layer.state)


@needs_kernel
def test_integrator_uses_the_compiled_filter(monkeypatch):
    """The switch is real: without the kernel the same layer takes the addcmul loop, same values."""
    layer = LeakyIntegrator(beta=0.7)
    x = torch.randn(7, 3, 20)
    with torch.no_grad():
        compiled = layer(x)
        assert getattr(layer.state.v, _FINITE_MARK, None) is not None  # set only by the kernel path
        layer.reset()
        monkeypatch.setattr(integrator_module._native, "load", lambda: None)
        fallback = layer(x)
        assert getattr(layer.state.v, _FINITE_MARK, None) is None
    assert torch.equal(compiled, fallback)


def test_custom_surrogate_inference_on_torch_ops_matches_training():
    """Surrogates the kernel does not know run the torch-ops loop at inference, same spikes."""
    from neuromorph.surrogate import Surrogate

    class Bump(Surrogate):
        def derivative(self, x):
            return torch.exp(-x * x)

    x, v0, beta, thr = _case(torch.float64, False)
    params = LIFParams(beta, thr)
    spikes_t, state_t = lif_sequence(x.clone().requires_grad_(), LIFState(v0), params, Bump())
    with torch.no_grad():
        spikes_i, state_i = lif_sequence(x, LIFState(v0), params, Bump())
    assert torch.equal(spikes_i, spikes_t.detach()) and torch.equal(state_i.v, state_t.v.detach())


@pytest.mark.parametrize("surrogate", [FastSigmoid(), Triangle(), Sigmoid()])
def test_layer_outputs_identical_with_and_without_grad(surrogate):
    torch.manual_seed(0)
    layer = LIF(beta=0.8, threshold=0.6, surrogate=surrogate, learn_beta=True, num_neurons=30)
    x = torch.rand(9, 4, 30)
    out_train = layer(x)
    v_train = layer.state.v.detach()
    layer.reset()
    with torch.no_grad():
        out_infer = layer(x)
    assert torch.equal(out_infer, out_train.detach()) and torch.equal(layer.state.v, v_train)
