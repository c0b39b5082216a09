"""Online (eligibility-trace) gradients against exact BPTT, and the trainer switch."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import neuromorph as nm
from neuromorph.learning.online import OnlineLearner, OnlineTrainer, find_synapses


def _mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((out - target) ** 2).sum()


def _grads(model: nn.Module, mode: str, x: torch.Tensor, y: torch.Tensor, loss_fn=_mse) -> tuple[float, dict]:
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    loss = OnlineTrainer(model, opt, loss_fn, mode=mode).compute_gradients(x, y)
    return loss, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _inputs(T: int = 15, B: int = 3, n_in: int = 6, n_out: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(T, B, n_in, generator=g) < 0.4).double()
    return x, torch.randn(B, n_out, generator=g, dtype=torch.float64)


EXACT_LAYERS = {
    "lif_none": lambda: nm.LIF(beta=0.8, threshold=0.5, reset="none", learn_beta=True, learn_threshold=True),
    "lif_subtract_detached": lambda: nm.LIF(beta=0.8, threshold=0.5, reset="subtract", detach_reset=True,
                                            refractory_penalty=0.3, learn_beta=True, learn_threshold=True),
    "synaptic_detached": lambda: nm.SynapticLIF(alpha=0.7, beta=0.85, threshold=0.5, detach_reset=True,
                                                learn_alpha=True, learn_beta=True, learn_threshold=True),
    "integrator": lambda: nm.LeakyIntegrator(beta=0.8, learn_beta=True),
}


@pytest.mark.parametrize("name", sorted(EXACT_LAYERS))
def test_single_layer_online_equals_bptt(name: str) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 4), EXACT_LAYERS[name]()).double()
    with torch.no_grad():
        model[0].weight.mul_(3.0)
    x, y = _inputs()
    loss_b, g_b = _grads(model, "bptt", x, y)
    loss_o, g_o = _grads(model, "online", x, y)
    assert loss_o == pytest.approx(loss_b, rel=1e-9)
    assert set(g_b) == set(g_o) and len(g_b) >= 3
    for key in g_b:
        torch.testing.assert_close(g_o[key], g_b[key], rtol=1e-5, atol=1e-7, msg=key)


def test_exactness_float32_membrane_loss() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(6, 4), nm.LIF(beta=0.9, reset="none", learn_beta=True))
    x, y = _inputs()
    x, y = x.float(), y.float()
    _, g_b = _grads(model, "bptt", x, y)
    _, g_o = _grads(model, "online", x, y)
    for key in g_b:
        torch.testing.assert_close(g_o[key], g_b[key], rtol=1e-5, atol=1e-5)


def test_reset_through_time_is_approximate_but_aligned() -> None:
    """With a non-detached reset, the online gradient drops the reset path: differs, but points the same way."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 4), nm.LIF(beta=0.8, threshold=0.5)).double()
    with torch.no_grad():
        model[0].weight.mul_(3.0)
    x, y = _inputs()
    _, g_b = _grads(model, "bptt", x, y)
    _, g_o = _grads(model, "online", x, y)
    w_b, w_o = g_b["0.weight"].flatten(), g_o["0.weight"].flatten()
    assert not torch.allclose(w_b, w_o)
    assert torch.nn.functional.cosine_similarity(w_b, w_o, dim=0) > 0.8


def test_stacked_layers_alif_and_per_neuron_params_train() -> None:
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(6, 16), nm.ALIF(beta=0.9, threshold=0.5, learn_adapt=True, num_neurons=16),
                          nn.Linear(16, 4), nm.LeakyIntegrator(beta=0.9, learn_beta=True, num_neurons=4))
    x, _ = _inputs(T=8)
    x = x.float()
    y = torch.tensor([0, 1, 2])
    trainer = OnlineTrainer(model, torch.optim.Adam(model.parameters(), lr=0.03))
    first = trainer.compute_gradients(x, y)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    for _ in range(25):
        last = trainer.train_batch(x, y)
    assert last < 0.5 * first
    assert trainer.predict(x)[-1].argmax(-1).tolist() == [0, 1, 2]


def test_shared_weights_accumulate() -> None:
    """Two single-layer branches with one tied weight: online gradient = BPTT gradient (sum of both uses)."""

    class Branches(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Sequential(nn.Linear(6, 4), nm.LeakyIntegrator(beta=0.7))
            self.b = nn.Sequential(nn.Linear(6, 4), nm.LIF(beta=0.9, reset="none", learn_beta=True))
            self.b[0].weight = self.a[0].weight

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(x)

    torch.manual_seed(5)
    model = Branches().double()
    assert len(find_synapses(model)) == 2
    x, y = _inputs()
    _, g_b = _grads(model, "bptt", x, y)
    _, g_o = _grads(model, "online", x, y)
    for key in g_b:
        torch.testing.assert_close(g_o[key], g_b[key], rtol=1e-5, atol=1e-7)


def test_memory_independent_of_T() -> None:
    model = nn.Sequential(nn.Linear(6, 8), nm.LIF(learn_beta=True), nn.Linear(8, 4), nm.LeakyIntegrator())
    sizes = []
    for T in (5, 50):
        x, _ = _inputs(T=T)
        learner = OnlineLearner(model)
        with learner:
            for t in range(T):
                model(x[t].float()).sum().backward()
            sizes.append(learner.trace_bytes())
    assert sizes[0] == sizes[1] > 0


def test_update_every_and_restored_step_mode() -> None:
    model = nn.Sequential(nn.Linear(6, 4), nm.LeakyIntegrator())
    x, _ = _inputs()
    before = model[0].weight.detach().clone()
    trainer = OnlineTrainer(model, torch.optim.SGD(model.parameters(), lr=0.1), update_every=5)
    trainer.train_batch(x.float(), torch.tensor([0, 1, 2]))
    assert not torch.equal(before, model[0].weight)
    assert model[1].step_mode == "multi" and "forward_single" not in model[1].__dict__


def test_bad_arguments() -> None:
    model = nn.Sequential(nn.Linear(6, 4), nm.LIF())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="mode"):
        OnlineTrainer(model, opt, mode="rtrl")
    with pytest.raises(TypeError, match="optimizer"):
        OnlineTrainer(model, "sgd")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="update_every"):
        OnlineTrainer(model, opt, update_every=0)
    with pytest.raises(ValueError, match="delay"):
        OnlineLearner(nn.Sequential(nn.Linear(6, 4), nm.LIF(delay=True)))
    with pytest.raises(ValueError, match="at least one"):
        OnlineLearner(nn.Sequential(nn.Linear(6, 4)))
    with pytest.raises(ValueError, match="x_seq"):
        OnlineTrainer(model, opt).compute_gradients(torch.zeros(3, 6), torch.tensor([0, 1, 2]))


def test_lif_and_alif_traces_match_documented_equations() -> None:
    from neuromorph.learning.traces import kernel_and_params, trace_step

    torch.manual_seed(6)
    lif = nm.LIF(beta=0.8, threshold=0.5, learn_beta=True, learn_threshold=True, num_neurons=3)
    kernel, params = kernel_and_params(lif)
    v_prev = torch.tensor([[0.2, 0.45, -0.1]])
    x = torch.tensor([[0.5, 0.0, 0.1]])
    e_b, e_t = torch.rand(1, 3), torch.rand(1, 3)
    out = trace_step(kernel, x, nm.neurons.LIFState(v_prev), params, {"beta": [e_b, None], "threshold": [e_t, None]})
    s = ((0.8 * v_prev + x) >= 0.5).float()
    torch.testing.assert_close(out["beta"][0], 0.8 * e_b + v_prev)
    torch.testing.assert_close(out["threshold"][0], 0.8 * e_t - s)

    alif = nm.ALIF(beta=0.9, threshold=0.5, rho=0.95, adapt=0.3, learn_rho=True, learn_adapt=True)
    kernel, params = kernel_and_params(alif)
    state = nm.neurons.ALIFState(torch.tensor([[0.4, 0.1]]), torch.tensor([[1.0, 0.5]]))
    x = torch.tensor([[0.6, 0.0]])
    e_v, e_a = torch.rand(1, 2), torch.rand(1, 2)
    out = trace_step(kernel, x, state, params, {"rho": [e_v, e_a], "adapt": [e_v, None]})
    theta = 0.5 + 0.3 * state.a
    s = ((0.9 * state.v + x) >= theta).float()
    torch.testing.assert_close(out["rho"][1], 0.95 * e_a + state.a)
    torch.testing.assert_close(out["rho"][0], 0.9 * e_v - s * 0.3 * e_a)
    torch.testing.assert_close(out["adapt"][0], 0.9 * e_v - s * state.a)
    torch.testing.assert_close(out["adapt"][1], torch.zeros(1, 2))


def test_conv_synapse_online_equals_stepwise_bptt() -> None:
    """Conv2d -> LIF (generic affine path): online equals BPTT computed by an unrolled single-step loop."""
    torch.manual_seed(7)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1),
                          nm.LIF(beta=0.85, threshold=0.4, reset="none", learn_beta=True)).double()
    x = (torch.rand(6, 2, 2, 5, 5, dtype=torch.float64) < 0.4).double()
    target = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    nm.set_step_mode(model, "single")
    loss = sum(_mse(model(x[t]), target) for t in range(x.shape[0])) / x.shape[0]
    g_ref = torch.autograd.grad(loss, list(model.parameters()))
    nm.reset(model)
    trainer = OnlineTrainer(model, torch.optim.SGD(model.parameters(), lr=0.0), _mse)
    trainer.compute_gradients(x, target)
    for p, g in zip(model.parameters(), g_ref):
        torch.testing.assert_close(p.grad, g, rtol=1e-5, atol=1e-7)
