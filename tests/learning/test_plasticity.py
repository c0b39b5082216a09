"""STDP timing signs, R-STDP, homeostasis and pruning."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import neuromorph as nm
from neuromorph.learning.homeostasis import (adapt_threshold, firing_rates, homeostatic_threshold,
                                             normalize_weights, synaptic_scaling)
from neuromorph.learning.pruning import ActivityPruner, prune_mask
from neuromorph.learning.stdp import STDP, STDPParams, stdp_init, stdp_step


def _pair_change(t_pre: int, t_post: int, params: STDPParams, T: int = 30) -> float:
    """Total dW of a single synapse for one pre spike at t_pre and one post spike at t_post."""
    weight = torch.full((1, 1), 0.5)
    pre = torch.zeros(T, 1, 1)
    post = torch.zeros(T, 1, 1)
    pre[t_pre] = 1.0
    post[t_post] = 1.0
    state = stdp_init(pre[0], post[0])
    total = 0.0
    for t in range(T):
        dw, state = stdp_step(weight, pre[t], post[t], state, params)
        total += float(dw)
    return total


@pytest.mark.parametrize("soft", [False, True])
def test_stdp_sign_and_magnitude_follow_timing(soft: bool) -> None:
    params = STDPParams(a_plus=0.1, a_minus=0.12, tau_plus=10.0, tau_minus=5.0, soft_bounds=soft)
    scale = 0.5 if soft else 1.0  # (w_max - w) = (w - w_min) = 0.5 at w = 0.5
    for lag in (1, 3, 8):
        ltp = _pair_change(10, 10 + lag, params)
        ltd = _pair_change(10 + lag, 10, params)
        assert ltp > 0 > ltd
        assert ltp == pytest.approx(scale * 0.1 * math.exp(-lag / 10.0), rel=1e-5)
        assert ltd == pytest.approx(-scale * 0.12 * math.exp(-lag / 5.0), rel=1e-5)
    assert _pair_change(10, 11, params) > _pair_change(10, 15, params)  # closer pairs potentiate more
    assert _pair_change(10, 10, params) > 0                             # same step counts as causal


def test_stdp_module_updates_and_clips() -> None:
    lin = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(0.5)
    rule = STDP(lin, STDPParams(a_plus=0.5, a_minus=0.5, soft_bounds=False, w_max=0.8), lr=1.0)
    pre = torch.tensor([[1.0, 0.0]])
    rule.step(pre, torch.zeros(1, 1))
    rule.step(torch.zeros(1, 2), torch.ones(1, 1))  # input 0 fired before the post spike
    w = lin.weight.detach()
    assert w[0, 0] == pytest.approx(0.8)  # potentiated, clipped at w_max
    assert w[0, 1] == pytest.approx(0.5)  # silent input unchanged


def test_reward_modulated_stdp_sign_follows_reward() -> None:
    results = []
    for reward in (1.0, -1.0):
        lin = nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            lin.weight.fill_(0.5)
        rule = STDP(lin, STDPParams(a_plus=0.1, a_minus=0.1), lr=1.0, reward_modulated=True)
        rule.step(torch.ones(1, 1), torch.zeros(1, 1))
        rule.step(torch.zeros(1, 1), torch.ones(1, 1))
        assert float(lin.weight.detach()) == 0.5  # no change before the reward
        rule.reward(reward)
        results.append(float(lin.weight.detach()) - 0.5)
    assert results[0] > 0 > results[1]
    with pytest.raises(ValueError, match="reward_modulated"):
        STDP(nn.Linear(1, 1)).reward(1.0)


def test_stdp_bad_input() -> None:
    with pytest.raises(ValueError, match="tau_plus"):
        STDPParams(tau_plus=0.0)
    with pytest.raises(ValueError, match="batch"):
        stdp_init(torch.zeros(2, 3), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="weight"):
        stdp_step(torch.zeros(3, 3), torch.zeros(1, 3), torch.zeros(1, 4),
                  stdp_init(torch.zeros(1, 3), torch.zeros(1, 4)), STDPParams())
    with pytest.raises(TypeError, match="synapse"):
        STDP(nn.Conv1d(1, 1, 1))  # type: ignore[arg-type]


def test_synaptic_scaling_and_normalisation() -> None:
    w = torch.ones(3, 4)
    scaled = synaptic_scaling(w, torch.tensor([0.2, 0.1, 0.0]), target_rate=0.1, eta=0.5)
    assert scaled[0, 0] < 1.0 and scaled[1, 0] == 1.0 and scaled[2, 0] > 1.0
    normed = normalize_weights(torch.rand(3, 4), total=2.0)
    torch.testing.assert_close(normed.abs().sum(1), torch.full((3,), 2.0))
    with pytest.raises(ValueError, match="rates"):
        synaptic_scaling(w, torch.zeros(2), 0.1)


def test_threshold_homeostasis_moves_rates_to_target() -> None:
    torch.manual_seed(0)
    layer = nm.LIF(beta=0.9, threshold=0.2, num_neurons=5)
    drive = torch.rand(50, 8, 5) * torch.linspace(0.05, 0.5, 5)
    start = firing_rates(layer(drive))
    for _ in range(150):
        nm.reset(layer)
        rates = firing_rates(layer(drive))
        adapt_threshold(layer, rates, target_rate=0.05, eta=0.5)
    nm.reset(layer)
    end = firing_rates(layer(drive))
    assert (end - 0.05).abs().max() < (start - 0.05).abs().max()
    assert (end - 0.05).abs().max() < 0.03
    assert homeostatic_threshold(torch.ones(2), torch.tensor([0.0, 1.0]), 0.5, eta=1.0).tolist() == [0.5, 1.5]
    with pytest.raises(ValueError, match="per-neuron"):
        adapt_threshold(nm.LIF(), torch.zeros(3), 0.1)


def test_activity_pruning_removes_unused_inputs() -> None:
    torch.manual_seed(0)
    lin = nn.Linear(6, 3)
    pruner = ActivityPruner(lin, momentum=0.5)
    x = torch.zeros(10, 6)
    x[:, :3] = 1.0  # only the first three inputs are ever active
    lin(x)
    pruner.observe_post(torch.tensor([[1.0, 1.0, 0.0]]))
    mask = pruner.prune(0.5)
    assert not mask[:, 3:].any() and mask[:, :3].all()
    assert pruner.sparsity() == pytest.approx(0.5)
    assert (lin.weight[:, 3:] == 0).all()
    lin(x).sum().backward()
    assert (lin.weight.grad[:, 3:] == 0).all()
    mask = pruner.prune(0.0, min_post_rate=0.5)
    assert not mask[2].any() and mask[:2, :3].all()
    pruner.remove()
    assert prune_mask(torch.tensor([3.0, 1.0, 2.0]), 1 / 3).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="fraction"):
        prune_mask(torch.zeros(3), 1.5)
