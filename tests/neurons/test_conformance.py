"""One conformance suite over the whole neuron registry (plus the worked EIF neuron of docs/write_a_neuron.md).

For every neuron: the fused sequence equals the step loop (outputs, final state, gradients); the hand-written
eligibility rule gives the online gradients of the per-step autograd reference; online equals BPTT in the
neuron's exact configuration; reset and detach work; bad inputs raise clear errors.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import neuromorph as nm
from neuromorph.learning import online_reference
from neuromorph.learning.online import find_synapses
from neuromorph.training import BPTT, Online
from neuromorph.neurons import NEURONS, Neuron

DOC = Path(__file__).resolve().parents[2] / "docs" / "write_a_neuron.md"


def _doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def _doc_neuron() -> type[Neuron]:
    namespace: dict[str, Any] = {}
    exec(compile(_doc_blocks()[0], str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["EIF"]


CLASSES = {**NEURONS, "eif (docs/write_a_neuron.md)": _doc_neuron()}
N = 5


def _make(cls: type[Neuron], learn: bool = True, **kwargs: Any) -> Neuron:
    flags = {f"learn_{p}": True for p in cls.learnable} if learn else {}
    return cls(num_neurons=N, **flags, **kwargs)


def _input(T: int = 12, B: int = 3, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 1.5 * torch.rand(T, B, N, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_fused_sequence_equals_step_loop(name: str) -> None:
    cls = CLASSES[name]
    layer = _make(cls).double()
    x = _input().requires_grad_(True)
    out_fused = layer(x)
    state_fused = layer.state
    grads_fused = torch.autograd.grad((out_fused * torch.linspace(-1, 1, N, dtype=x.dtype)).sum()
                                      + sum(s.sum() for s in state_fused if isinstance(s, torch.Tensor)),
                                      [x, *layer.parameters()])
    layer.reset()
    nm.set_step_mode(layer, "single")
    outs = [layer(x[t]) for t in range(x.shape[0])]
    out_loop = torch.stack(outs)
    grads_loop = torch.autograd.grad((out_loop * torch.linspace(-1, 1, N, dtype=x.dtype)).sum()
                                     + sum(s.sum() for s in layer.state if isinstance(s, torch.Tensor)),
                                     [x, *layer.parameters()])
    assert out_fused.abs().sum() > 0, "the test input must make the neuron respond"
    torch.testing.assert_close(out_fused, out_loop, rtol=1e-5, atol=1e-5)
    for a, b in zip(state_fused, layer.state):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for a, b in zip(grads_fused, grads_loop):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def _mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((out - target) ** 2).sum()


def _two_layer(cls: type[Neuron], **kwargs: Any) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, N), _make(cls, **kwargs), nn.Linear(N, 3), nm.LeakyIntegrator(beta=0.8))
    with torch.no_grad():
        model[0].weight.mul_(2.0)
    return model.double()


def _grads(model: nn.Module, trainer: Any, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    if hasattr(trainer, "compute_gradients"):   # the per-step reference
        trainer.compute_gradients(x, y)
    else:
        trainer.gradients(model, x, y, _mse)
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_eligibility_rule_equals_per_step_reference(name: str) -> None:
    model = _two_layer(CLASSES[name])
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(14, 3, 4, generator=g) < 0.5).double()
    y = torch.randn(3, 3, generator=g, dtype=torch.float64)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    ref = _grads(model, online_reference.OnlineTrainer(model, opt, _mse, synapses=find_synapses(model, x)), x, y)
    new = _grads(model, Online(chunk=5), x, y)
    assert set(ref) == set(new) == {n for n, _ in model.named_parameters()}
    for key in ref:
        torch.testing.assert_close(new[key], ref[key], rtol=1e-9, atol=1e-11, msg=key)


@pytest.mark.parametrize("name", sorted(n for n, c in CLASSES.items() if c.online_exact is not None))
def test_online_equals_bptt_in_exact_configuration(name: str) -> None:
    cls = CLASSES[name]
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, N), _make(cls, **cls.online_exact)).double()
    with torch.no_grad():
        model[0].weight.mul_(2.0)
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(16, 3, 4, generator=g) < 0.5).double()
    y = torch.randn(3, N, generator=g, dtype=torch.float64)
    bptt = _grads(model, BPTT(), x, y)
    online = _grads(model, Online(chunk=6), x, y)
    for key in bptt:
        torch.testing.assert_close(online[key], bptt[key], rtol=1e-6, atol=1e-9, msg=key)


def test_every_registered_neuron_but_alif_declares_an_exact_case() -> None:
    """ALIF's adaptation depends on spikes, so no configuration makes its online gradient exact."""
    assert {n for n, c in NEURONS.items() if c.online_exact is None} == {"alif"}


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_reset_and_detach(name: str) -> None:
    layer = _make(CLASSES[name]).double()
    x = _input()
    first = layer(x)
    assert layer.state is not None
    layer.detach()
    assert all(not s.requires_grad for s in layer.state if isinstance(s, torch.Tensor))
    continued = layer(x)
    layer.reset()
    assert layer.state is None
    torch.testing.assert_close(layer(x), first)        # a reset layer starts from rest again
    assert not torch.equal(continued, first) or first.abs().sum() == 0
    with pytest.raises(ValueError, match="reset"):       # a new batch shape without reset
        layer(_input(B=4))


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_bad_inputs_raise_clear_errors(name: str) -> None:
    layer = _make(CLASSES[name])
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer([[1.0]])
    with pytest.raises(TypeError, match="floating point"):
        layer(torch.ones(3, 2, N, dtype=torch.int64))
    with pytest.raises(ValueError, match="at least 3 dims"):
        layer(torch.ones(N))
    with pytest.raises(ValueError, match="T=0"):
        layer(torch.ones(0, 2, N))
    layer.reset()
    bad = torch.ones(3, 2, N)
    bad[1, 0, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        layer(bad)


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_protocol_is_complete(name: str) -> None:
    cls = CLASSES[name]
    for attr in ("Params", "State", "step", "sequence", "online_step"):
        assert hasattr(cls, attr), attr
    layer = _make(cls)
    params = layer.params()
    assert isinstance(params, cls.Params)
    assert all(isinstance(getattr(params, p), torch.Tensor) and getattr(params, p).requires_grad
               for p in cls.learnable)
    assert isinstance(layer.init_state(torch.zeros(2, N)), cls.State)
    decays = layer.input_decays()
    assert decays and all(0 < d < 1 for d in decays)


def test_register_neuron_checks_the_protocol() -> None:
    from neuromorph.neurons import get_neuron, register_neuron

    with pytest.raises(TypeError, match="subclass"):
        register_neuron("plain", nn.ReLU)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already registered"):
        register_neuron("lif", nm.ALIF)
    with pytest.raises(ValueError, match="unknown neuron"):
        get_neuron("izhikevich")
