"""The one training loop (`neuromorph.training.fit`) with its strategies, and the metrics module."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import neuromorph as nm
from neuromorph.data import load_digits
from neuromorph.encoding import direct_encode
from neuromorph.metrics import accuracy, evaluate, spike_rates
from neuromorph.models import FeedForwardMLP, SpikingMLP
from neuromorph.training import BPTT, Online, ThreeFactor, fit


def test_digits_bptt_reaches_good_accuracy_quickly() -> None:
    torch.set_num_threads(1)
    d = load_digits()
    torch.manual_seed(0)
    m = SpikingMLP([64, 64, 10], num_steps=6)
    res = fit(m, (d.x_train, d.y_train), epochs=4, batch_size=64, lr=3e-3, test=(d.x_test, d.y_test),
              show_progress=False)
    assert len(res.history) == 4 and res.train_time > 0
    assert res.final_test_accuracy >= 0.85
    assert evaluate(m, d.x_test, d.y_test)["accuracy"] == pytest.approx(res.final_test_accuracy)
    rates = spike_rates(m, d.x_test)
    assert 0.0 < rates["all"] < 1.0 and rates["all"] == pytest.approx(rates["neurons.0"])


def test_online_and_three_factor_strategies_learn_digits() -> None:
    torch.set_num_threads(1)
    d = load_digits().subset(600, 300)
    results = {}
    for strategy in (BPTT(), Online(chunk=4), ThreeFactor(chunk=4, generator=torch.Generator().manual_seed(0))):
        torch.manual_seed(0)
        m = SpikingMLP([64, 64, 10], output="sequence")
        res = fit(m, (d.x_train, d.y_train), strategy=strategy, test=(d.x_test, d.y_test),
                  encode=lambda x: direct_encode(x, 6), epochs=4, batch_size=32, lr=3e-3, show_progress=False)
        results[strategy.name] = res.final_test_accuracy
    assert results["bptt"] >= 0.85 and results["online"] >= 0.85
    assert results["three_factor"] >= 0.5          # chance is 0.1: the reward alone teaches it
    assert abs(results["online"] - results["bptt"]) < 0.08


def test_online_strategy_needs_sequences_and_per_step_outputs() -> None:
    m = SpikingMLP([4, 6, 3])
    x, y = torch.rand(8, 4), torch.randint(0, 3, (8,))
    with pytest.raises(ValueError, match="input sequence"):
        fit(m, (x, y), strategy="online", epochs=1)
    with pytest.raises(ValueError, match="per-step outputs"):
        fit(m, (x, y), strategy="online", encode=lambda b: direct_encode(b, 3), epochs=1)


def test_non_finite_loss_raises_naming_the_batch_or_is_skipped() -> None:
    m = FeedForwardMLP([4, 2])
    x, y = torch.rand(8, 4), torch.randint(0, 2, (8,))
    with torch.no_grad():
        m.net[0].weight.fill_(float("inf"))
    with pytest.raises(ValueError, match="non-finite loss .* epoch 1, batch 0"):
        fit(m, (x, y), epochs=1, batch_size=4)
    res = fit(m, (x, y), epochs=1, batch_size=4, skip_nonfinite=True)
    assert res.history[0]["skipped"] == 2


def test_fit_argument_checks() -> None:
    m = FeedForwardMLP([4, 2])
    x, y = torch.rand(8, 4), torch.randint(0, 2, (8,))
    with pytest.raises(ValueError, match="epochs"):
        fit(m, (x, y), epochs=0)
    with pytest.raises(TypeError, match="train y must hold integer"):
        fit(m, (x, y.float()))
    with pytest.raises(ValueError, match="optimizer"):
        fit(m, (x, y), optimizer="lbfgs")
    with pytest.raises(ValueError, match="strategy"):
        fit(m, (x, y), strategy="rtrl")
    with pytest.raises(ValueError, match="lr"):
        fit(m, (x, y), lr=float("nan"))
    with pytest.raises(ValueError, match="train x contains NaN"):
        fit(m, (torch.full((8, 4), float("nan")), y))
    with pytest.raises(ValueError, match="same non-zero number"):
        fit(m, (x, y[:4]))
    with pytest.raises(ValueError, match="resume"):
        fit(m, (x, y), resume=True)


def test_metrics() -> None:
    s = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
    assert accuracy(s, torch.tensor([0, 1])) == 1.0
    assert accuracy(s.unsqueeze(0).expand(4, 2, 2), torch.tensor([0, 0])) == 0.5   # per-step outputs
    with pytest.raises(ValueError, match="rows"):
        accuracy(s, torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="no spiking neuron"):
        spike_rates(nn.Linear(2, 2), torch.rand(3, 2))
    model = nn.Sequential(nn.Linear(3, 4), nm.LIF(threshold=0.1))
    x = torch.rand(6, 3)
    rates = spike_rates(model, x, batch_size=4, encode=lambda b: direct_encode(b, 5))   # two batches
    with torch.no_grad():
        nm.reset(model)
        expected = float(model(direct_encode(x, 5)).mean())
    assert set(rates) == {"1", "all"} and 0 < expected < 1
    assert rates["1"] == pytest.approx(expected) and rates["all"] == pytest.approx(expected)


def test_online_updates_within_a_sequence_through_fit() -> None:
    """Online(step_every=k) applies the optimizer every k steps inside a sequence as well as after it."""
    torch.manual_seed(0)
    model = SpikingMLP([4, 8, 2], output="sequence")
    x, y = torch.rand(16, 4), torch.randint(0, 2, (16,))
    steps = []
    opt_step = torch.optim.Adam.step

    def counting_step(self, *args, **kwargs):
        steps.append(1)
        return opt_step(self, *args, **kwargs)

    torch.optim.Adam.step = counting_step  # type: ignore[method-assign]
    try:
        fit(model, (x, y), strategy=Online(step_every=2), encode=lambda b: direct_encode(b, 6), epochs=1,
            batch_size=16, show_progress=False)
    finally:
        torch.optim.Adam.step = opt_step  # type: ignore[method-assign]
    assert len(steps) == 3                 # T=6, every 2 steps: after steps 2 and 4 inside, and the loop's last
