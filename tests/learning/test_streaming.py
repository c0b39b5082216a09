"""The fused streaming step: same outputs as the layers, same gradients as the online learner (K = 1), on both
backends; clear errors for models it cannot run."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import neuromorph as nm
from neuromorph.learning.online import OnlineLearner
from neuromorph.learning.streaming import StreamingChain
from neuromorph.neurons import native


def _model(reset: str = "subtract") -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nm.LIF(beta=0.8, threshold=0.5, reset=reset, surrogate="fast_sigmoid"),
                          nn.Identity(), nn.Linear(7, 6), nm.LIF(beta=0.9, threshold=0.4, num_neurons=6),
                          nn.Linear(6, 3), nm.LeakyIntegrator(beta=0.7)).double()
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.mul_(2.0)
    return model


BACKENDS = ["torch"] + (["native"] if native.load() is not None else [])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_outputs_and_gradients_equal_online_learner(backend: str, reset: str) -> None:
    model = _model(reset)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(20, 4, 5, generator=g, dtype=torch.float64) * 1.5
    grads_out = torch.randn(20, 4, 3, generator=g, dtype=torch.float64)

    with torch.no_grad():   # outputs: the layers in multi-step mode
        nm.reset(model)
        expected = model(x)
        nm.reset(model)

    learner = OnlineLearner(model, x[:1])
    with learner:
        for t in range(x.shape[0]):
            out = learner(x[t:t + 1])
            out.backward(grads_out[t:t + 1])
    reference = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)

    chain = StreamingChain(model, backend=backend)
    assert chain.backend == backend
    outs = []
    for t in range(x.shape[0]):
        outs.append(chain.step(x[t]).clone())
        chain.backward(grads_out[t])
    torch.testing.assert_close(torch.stack(outs), expected, rtol=1e-12, atol=1e-12)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, reference[name], rtol=1e-10, atol=1e-12, msg=name)


def test_reset_and_inference_only() -> None:
    model = _model()
    x = torch.rand(3, 5, dtype=torch.float64) * 2
    chain = StreamingChain(model, learn=False)
    first = [chain.step(x).clone() for _ in range(4)]
    chain.reset()
    again = [chain.step(x).clone() for _ in range(4)]
    for a, b in zip(first, again):
        torch.testing.assert_close(a, b)
    with pytest.raises(RuntimeError, match="learn=False"):
        chain.backward(torch.ones(3, 3, dtype=torch.float64))


@pytest.mark.parametrize("model, pattern", [
    (nn.Sequential(nn.Linear(4, 3), nm.ALIF()), "module '1' \\(ALIF\\) is not supported"),
    (nn.Sequential(nn.Linear(4, 3), nm.LIF(learn_beta=True)), "learnable neuron parameters"),
    (nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 3), nm.LIF()), "follows another Linear"),
    (nn.Sequential(nm.LIF(), nn.Linear(4, 3)), "no Linear synapse"),
    (nn.Sequential(nn.Linear(4, 3), nm.LIF(), nn.Linear(3, 2)), "end with a neuron"),
    (nn.Sequential(nn.Linear(4, 3), nm.LIF(delay=True)), "delay"),
])
def test_unsupported_models_raise(model: nn.Module, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        StreamingChain(model)


def test_bad_inputs() -> None:
    chain = StreamingChain(nn.Sequential(nn.Linear(4, 3), nm.LIF()))
    with pytest.raises(ValueError, match="\\[B, 4\\]"):
        chain.step(torch.rand(2, 5))
    with pytest.raises(TypeError, match="dtype"):
        chain.step(torch.rand(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="NaN"):
        chain.step(torch.full((1, 4), float("nan")))
    with pytest.raises(ValueError, match="backend"):
        StreamingChain(nn.Sequential(nn.Linear(4, 3), nm.LIF()), backend="cuda")
