"""Stateful layer behaviour: lazy state, reset/detach, step modes, delay, parametrisation, errors."""
import pytest
import torch
from torch import nn

import neuromorph
from neuromorph import ALIF, LIF, LeakyIntegrator, SynapticLIF
from neuromorph.neurons import Decay, Positive

LAYERS = [
    lambda mode: LIF(step_mode=mode, learn_beta=True, learn_threshold=True, num_neurons=5),
    lambda mode: LIF(step_mode=mode, refractory_penalty=0.5, delay=True),
    lambda mode: SynapticLIF(step_mode=mode, learn_alpha=True, num_neurons=5),
    lambda mode: ALIF(step_mode=mode, learn_adapt=True),
    lambda mode: LeakyIntegrator(step_mode=mode, learn_beta=True),
]


@pytest.mark.parametrize("make", LAYERS)
def test_multi_step_equals_single_step_outputs_and_grads(make):
    torch.manual_seed(0)
    x = (torch.rand(9, 4, 5) * 1.5).requires_grad_()
    multi, single = make("multi"), make("single")
    single.load_state_dict(multi.state_dict())
    out_m = multi(x)
    out_s = torch.stack([single(x[t]) for t in range(x.shape[0])])
    torch.testing.assert_close(out_m, out_s)
    params = [p for p in multi.parameters()]
    g_m = torch.autograd.grad(out_m.square().sum(), [x] + params)
    g_s = torch.autograd.grad(out_s.square().sum(), [x] + [p for p in single.parameters()])
    for a, b in zip(g_m, g_s):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_state_is_lazy_and_continues_across_calls():
    layer = LIF(beta=0.5)
    assert layer.state is None
    x = torch.full((6, 2, 3), 0.6)
    whole = layer(x)
    layer.reset()
    first, second = layer(x[:3]), layer(x[3:])
    torch.testing.assert_close(torch.cat([first, second]), whole)


def test_reset_and_detach_walk_the_whole_model():
    model = nn.Sequential(nn.Linear(4, 8), LIF(), nn.Linear(8, 3), LIF(), LeakyIntegrator())
    x = torch.rand(5, 2, 4)
    model(x).sum().backward()
    spiking = [m for m in model if isinstance(m, neuromorph.SpikingModule)]
    assert all(m.state is not None for m in spiking)
    neuromorph.detach(model)
    assert all(not m.state.v.requires_grad for m in spiking)
    neuromorph.reset(model)
    assert all(m.state is None for m in spiking)


def test_two_models_do_not_share_state():
    a, b = LIF(), LIF()
    a(torch.ones(3, 2, 2))
    assert b.state is None


def test_batch_shape_change_without_reset_is_a_clear_error():
    layer = LIF()
    layer(torch.rand(3, 4, 5))
    with pytest.raises(ValueError, match="reset"):
        layer(torch.rand(3, 2, 5))
    layer.reset()
    assert layer(torch.rand(3, 2, 5)).shape == (3, 2, 5)


def test_delay_shifts_output_by_one_step():
    x = torch.rand(7, 2, 3) * 2
    plain, delayed = LIF(), LIF(delay=True)
    a, b = plain(x), delayed(x)
    assert torch.equal(b[0], torch.zeros_like(b[0]))
    torch.testing.assert_close(b[1:], a[:-1])


def test_refractory_penalty_reduces_firing():
    x = torch.full((50, 1, 1), 0.6)
    assert LIF(refractory_penalty=1.5)(x).sum() < LIF()(x).sum()


def test_learnable_parameters_stay_in_range_by_parametrisation():
    layer = LIF(beta=0.9, threshold=1.0, learn_beta=True, learn_threshold=True, num_neurons=3)
    opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    for _ in range(20):  # plain SGD steps that would push a raw beta above 1 and a raw threshold below 0
        opt.zero_grad()
        (layer.threshold().sum() * 5 - layer.beta().sum() * 20).backward()
        opt.step()
    beta, thr = layer.params().beta, layer.params().threshold
    assert beta.shape == (3,) and bool(((beta > 0.99) & (beta < 1)).all())
    assert bool(((thr > 0) & (thr < 0.2)).all())


def test_set_step_mode_switches_every_layer():
    model = nn.Sequential(nn.Linear(3, 3), LIF(), SynapticLIF())
    neuromorph.set_step_mode(model, "single")
    assert model(torch.rand(2, 3)).shape == (2, 3)
    with pytest.raises(ValueError, match="step_mode"):
        neuromorph.set_step_mode(model, "many")


@pytest.mark.parametrize("kwargs,match", [
    ({"beta": 1.0}, "beta"), ({"beta": 0.0}, "beta"), ({"threshold": -1.0}, "threshold"),
    ({"reset": "soft"}, "reset"), ({"refractory_penalty": -0.1}, "refractory_penalty"),
    ({"surrogate": "relu"}, "surrogate"), ({"num_neurons": 0}, "num_neurons"), ({"step_mode": "x"}, "step_mode"),
])
def test_bad_constructor_arguments_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        LIF(**kwargs)


def test_bad_inputs_are_rejected_not_coerced():
    with pytest.raises(TypeError, match="floating point"):
        LIF()(torch.ones(3, 2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\[T, B"):
        LIF()(torch.ones(4))
    with pytest.raises(TypeError, match="torch.Tensor"):
        LIF()([1.0, 2.0])


def test_parametrisations_roundtrip_initial_values():
    assert torch.isclose(Decay("beta", 0.95, True, None)(), torch.tensor(0.95))
    assert torch.isclose(Positive("threshold", 0.3, True, None)(), torch.tensor(0.3))
    assert torch.allclose(Positive("threshold", 50.0, True, 2)(), torch.tensor([50.0, 50.0]))
