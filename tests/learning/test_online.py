"""Online (eligibility-trace) gradients: against exact BPTT in the exact cases, against the per-step autograd
reference everywhere, dataflow pairing for any way of writing a model, and clear errors where traces cannot
carry a gradient."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import neuromorph as nm
from neuromorph.learning import online_reference
from neuromorph.learning.online import OnlineLearner, find_synapses
from neuromorph.training import BPTT, Online
from neuromorph.training.strategies import predict


def _mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((out - target) ** 2).sum()


def _grads(model: nn.Module, mode: str, x: torch.Tensor, y: torch.Tensor, loss_fn=_mse, chunk: int = 32
           ) -> tuple[float, dict]:
    model.zero_grad(set_to_none=True)
    strategy = Online(chunk=chunk) if mode == "online" else BPTT()
    loss, _ = strategy.gradients(model, x, y, loss_fn)
    return float(loss), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


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


class _OwnForward(nn.Module):
    """A user model with its own forward (the case that used to be 76 % off)."""

    def __init__(self, neuron: nn.Module) -> None:
        super().__init__()
        self.inp = nn.Linear(6, 4)
        self.neu = neuron

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neu(self.inp(x))


class _Nested(nn.Module):
    def __init__(self, neuron: nn.Module) -> None:
        super().__init__()
        self.body = nn.ModuleDict({"syn": nn.Linear(6, 4)})
        self.out = nn.Sequential(neuron)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body["syn"](x.flatten(0, 1)).unflatten(0, x.shape[:2])   # time-major rows, reshapes only
        return self.out(h)


WRITINGS = {
    "sequential": lambda neuron: nn.Sequential(nn.Linear(6, 4), neuron),
    "own_forward": _OwnForward,
    "nested": _Nested,
}


@pytest.mark.parametrize("writing", sorted(WRITINGS))
@pytest.mark.parametrize("name", sorted(EXACT_LAYERS))
@pytest.mark.parametrize("chunk", [1, 7, 32])
def test_single_layer_online_equals_bptt(name: str, writing: str, chunk: int) -> None:
    torch.manual_seed(1)
    model = WRITINGS[writing](EXACT_LAYERS[name]()).double()
    with torch.no_grad():
        next(model.parameters()).mul_(3.0)
    x, y = _inputs()
    loss_b, g_b = _grads(model, "bptt", x, y)
    loss_o, g_o = _grads(model, "online", x, y, chunk=chunk)
    assert loss_o == pytest.approx(loss_b, rel=1e-9)
    assert set(g_b) == set(g_o) and len(g_b) >= 3
    for key in g_b:
        torch.testing.assert_close(g_o[key], g_b[key], rtol=1e-6, atol=1e-9, msg=key)


def test_issue_example_own_forward_matches_bptt() -> None:
    """``forward = neu(inp(x))`` with LIF(beta=0.8, reset="none", threshold=0.5): equal to BPTT to 1e-6."""
    torch.manual_seed(11)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(12, 3)
            self.neu = nm.LIF(beta=0.8, reset="none", threshold=0.5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.neu(self.inp(x))

    model = Model().double()
    x = (torch.rand(40, 5, 12) < 0.3).double()
    y = torch.randn(5, 3, dtype=torch.float64)
    _, g_b = _grads(model, "bptt", x, y)
    _, g_o = _grads(model, "online", x, y)
    rel = max(float((g_o[k] - g_b[k]).abs().max() / g_b[k].abs().max()) for k in g_b)
    assert rel < 1e-6


def _deep_model() -> nn.Module:
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Linear(6, 8), nm.LIF(beta=0.8, threshold=0.5, learn_beta=True, learn_threshold=True, num_neurons=8),
        nn.Dropout(0.0), nn.Linear(8, 7),
        nm.SynapticLIF(threshold=0.3, learn_alpha=True, learn_beta=True, learn_threshold=True),
        nn.Linear(7, 5), nm.ALIF(threshold=0.3, reset="zero", learn_beta=True, learn_threshold=True, learn_rho=True,
                                 learn_adapt=True),
        nn.Linear(5, 4), nm.LeakyIntegrator(learn_beta=True)).double()
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.mul_(3.0)
    return model


@pytest.mark.parametrize("chunk", [1, 6, 25])
def test_deep_network_equals_per_step_reference(chunk: int) -> None:
    """Every neuron type, every learnable parameter, per-neuron parameters: the chunked, graph-free-in-time
    learner computes exactly what the one-graph-per-step reference computes."""
    model = _deep_model()
    x, y = _inputs(T=25)
    pairs = find_synapses(model, x)
    assert len(pairs) == 4
    model.zero_grad(set_to_none=True)
    online_reference.OnlineTrainer(model, torch.optim.SGD(model.parameters(), lr=0.0), _mse,
                                   synapses=pairs).compute_gradients(x, y)
    g_ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    _, g_o = _grads(model, "online", x, y, chunk=chunk)
    assert set(g_o) == set(g_ref)
    for key in g_ref:
        torch.testing.assert_close(g_o[key], g_ref[key], rtol=1e-9, atol=1e-11, msg=key)


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
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    strategy = Online()
    losses = []
    for _ in range(26):
        opt.zero_grad(set_to_none=True)
        loss, _ = strategy.gradients(model, x, y)
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    assert predict(model, x)[-1].argmax(-1).tolist() == [0, 1, 2]


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
    x, y = _inputs()
    assert len(find_synapses(model, x)) == 2
    _, g_b = _grads(model, "bptt", x, y)
    _, g_o = _grads(model, "online", x, y, chunk=4)
    for key in g_b:
        torch.testing.assert_close(g_o[key], g_b[key], rtol=1e-6, atol=1e-9)


def _saved_bytes_of_one_chunk(model: nn.Module, mode: str, T: int, chunk: int) -> tuple[int, int]:
    """(largest autograd saved-tensor bytes of one backward, learner state bytes) for a sequence of length T."""
    x, _ = _inputs(T=T)
    x = x.float()
    y = torch.tensor([0, 1, 2])
    peak = {"now": 0, "max": 0}

    def pack(t: torch.Tensor) -> torch.Tensor:
        peak["now"] += t.numel() * t.element_size()
        peak["max"] = max(peak["max"], peak["now"])
        return t

    strategy = Online(chunk=chunk) if mode == "online" else BPTT()
    original = torch.Tensor.backward

    def backward(self: torch.Tensor, *args, **kwargs):  # a backward frees what the chunk saved
        original(self, *args, **kwargs)
        peak["now"] = 0

    torch.Tensor.backward = backward  # type: ignore[method-assign]
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            strategy.gradients(model, x, y)
    finally:
        torch.Tensor.backward = original  # type: ignore[method-assign]
    learner = getattr(strategy, "learner", None)
    learner_bytes = learner.trace_bytes() if learner is not None else 0
    return peak["max"], learner_bytes


def test_memory_independent_of_T_and_bptt_grows() -> None:
    model = nn.Sequential(nn.Linear(6, 8), nm.LIF(learn_beta=True), nn.Linear(8, 4), nm.LeakyIntegrator())
    online = [_saved_bytes_of_one_chunk(model, "online", T, chunk=5) for T in (10, 200)]
    bptt = [_saved_bytes_of_one_chunk(model, "bptt", T, chunk=5)[0] for T in (10, 200)]
    assert online[0] == online[1]          # saved tensors per chunk and learner state: same at T=10 and T=200
    assert online[0][0] > 0 and online[0][1] > 0
    assert bptt[1] > 10 * bptt[0]          # the same measurement does see BPTT's growth
    assert online[1][0] < bptt[1] / 10


def test_update_every_and_restored_layers() -> None:
    model = nn.Sequential(nn.Linear(6, 4), nm.LeakyIntegrator())
    x, _ = _inputs()
    before = model[0].weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    steps = []

    def step() -> None:
        steps.append(model[0].weight.grad.clone())
        opt.step()
        opt.zero_grad(set_to_none=True)

    Online(step_every=5).gradients(model, x.float(), torch.tensor([0, 1, 2]), optimizer_step=step)
    assert len(steps) == 2                      # T = 15: updates after steps 5 and 10 (the loop does the last)
    assert not torch.equal(before, model[0].weight)
    assert model[1].step_mode == "multi" and "forward" not in model[1].__dict__ and "forward" not in model[0].__dict__


def test_conv_synapse_online_equals_bptt() -> None:
    """Conv2d -> LIF on time-major rows ``[T * B, C, H, W]`` (the generic affine path) equals BPTT."""

    class ConvNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3, padding=1)
            self.lif = nm.LIF(beta=0.85, threshold=0.4, reset="none", learn_beta=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lif(self.conv(x.flatten(0, 1)).unflatten(0, x.shape[:2]))

    torch.manual_seed(7)
    model = ConvNet().double()
    x = (torch.rand(6, 2, 2, 5, 5, dtype=torch.float64) < 0.4).double()
    target = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    _, g_b = _grads(model, "bptt", x, target)
    _, g_o = _grads(model, "online", x, target, chunk=4)
    for key in g_b:
        torch.testing.assert_close(g_o[key], g_b[key], rtol=1e-6, atol=1e-9, msg=key)


# ---------------------------------------------------------------------------------------- clear errors
class _Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(6, 4)
        self.neu = nm.LIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neu(torch.nn.functional.linear(x, self.inp.weight))


class _Chain(nn.Module):
    def __init__(self, middle: nn.Module) -> None:
        super().__init__()
        self.syn = nn.Linear(6, 4)
        self.middle = middle
        self.neu = nm.LIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.middle(self.syn(x).flatten(0, 1)).unflatten(0, x.shape[:2])
        return self.neu(h)


@pytest.mark.parametrize("model, pattern", [
    (_Functional(), "parameter of module 'inp'.*plain function"),
    (_Chain(nn.Dropout(0.5)), "module 'syn' \\(Linear\\) feeds neuron 'neu'.*through"),
    (_Chain(nn.BatchNorm1d(4)), "module 'middle' \\(BatchNorm1d\\).*feeds neuron 'neu'"),
    (_Chain(nn.Linear(4, 4)), "module 'syn' \\(Linear\\) feeds synapse 'middle'"),
    (nn.Sequential(nn.Linear(6, 4), nm.LIF(delay=True)), "delay"),
    (nn.Sequential(nn.Linear(6, 4)), "at least one neuron"),
])
def test_unpairable_models_raise_naming_the_module(model: nn.Module, pattern: str) -> None:
    x, _ = _inputs(T=4)
    with pytest.raises(ValueError, match=pattern):
        OnlineLearner(model, x.float())


def test_bad_arguments() -> None:
    model = nn.Sequential(nn.Linear(6, 4), nm.LIF())
    with pytest.raises(ValueError, match="step_every"):
        Online(step_every=0)
    with pytest.raises(ValueError, match="chunk"):
        Online(chunk=0)
    with pytest.raises(ValueError, match="input sequence"):
        Online().gradients(model, torch.zeros(3, 6), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="x contains NaN"):
        Online().gradients(model, torch.full((3, 2, 6), float("nan")), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="sample"):
        OnlineLearner(model)
    with pytest.raises(TypeError, match="model"):
        OnlineLearner("net", torch.zeros(2, 1, 6))  # type: ignore[arg-type]


def test_spikformer_blocks_learn_online() -> None:
    """Spikformer blocks (spike-product attention, residuals) learn online once BatchNorm is dropped; with it the
    learner names the BatchNorm. The gradient does not depend on the chunk length (1 step vs the whole T)."""
    from neuromorph.models.spikformer import SpikformerBlock

    class Tiny(nn.Module):
        def __init__(self, batch_norm: bool) -> None:
            super().__init__()
            self.embed = nn.Linear(6, 8)
            self.embed_lif = nm.LIF(beta=0.5, threshold=0.5)
            self.block = SpikformerBlock(8, num_heads=2, mlp_ratio=1.0, batch_norm=batch_norm,
                                         lif_kwargs={"threshold": 0.5})
            self.head = nn.Linear(8, 3)
            self.readout = nm.LeakyIntegrator(beta=0.8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:   # x [T, B, N, 6] -> [T, B, 3]
            h = self.block(self.embed_lif(self.embed(x)))
            return self.readout(self.head(h.mean(2)))

    torch.manual_seed(8)
    x = (torch.rand(6, 2, 5, 6) < 0.5).double()
    y = torch.randn(2, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="BatchNorm"):
        OnlineLearner(Tiny(batch_norm=True).double(), x)
    model = Tiny(batch_norm=False).double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.mul_(3.0)
    assert len(find_synapses(model, x)) == 8            # embed, q, k, v, proj, fc1, fc2 and head -> readout
    _, g_1 = _grads(model, "online", x, y, chunk=1)
    _, g_all = _grads(model, "online", x, y, chunk=6)
    assert set(g_1) == {n for n, _ in model.named_parameters()}
    assert sum(float(g.abs().sum()) for g in g_1.values()) > 0
    for key in g_1:
        torch.testing.assert_close(g_all[key], g_1[key], rtol=1e-9, atol=1e-12, msg=key)


def test_module_used_twice_per_step_keeps_one_trace_per_use() -> None:
    """One Linear feeding two neurons with different decays (two uses per step): both uses keep their own
    presynaptic trace, and the summed gradient equals BPTT (each path is a single exact layer)."""

    class TwoUses(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(6, 4)
            self.fast = nm.LeakyIntegrator(beta=0.3)
            self.slow = nm.LIF(beta=0.95, threshold=0.5, reset="none")

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fast(self.lin(x)) + self.slow(self.lin(x))

    torch.manual_seed(9)
    model = TwoUses().double()
    x, y = _inputs()
    assert [type(n).__name__ for _, n in find_synapses(model, x)] == ["LeakyIntegrator", "LIF"]
    _, g_b = _grads(model, "bptt", x, y)
    for chunk in (1, 4):
        _, g_o = _grads(model, "online", x, y, chunk=chunk)
        for key in g_b:
            torch.testing.assert_close(g_o[key], g_b[key], rtol=1e-6, atol=1e-9, msg=key)
