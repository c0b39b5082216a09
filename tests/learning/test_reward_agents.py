"""Three-factor eligibility traces, the CartPole agent and the unsupervised STDP layer."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from neuromorph.tasks.cartpole import SpikingActorCritic, population_currents, train_cartpole
from neuromorph.learning.reward import EligibilityTrace, RunningBaseline
from neuromorph.learning.unsupervised import STDPWinnerTakeAll, wta_step


def test_eligibility_trace_three_factor_update() -> None:
    p = nn.Parameter(torch.zeros(2))
    trace = EligibilityTrace([p], decay=0.5)
    trace.accumulate([torch.tensor([1.0, 0.0])])
    trace.accumulate([torch.tensor([0.0, 2.0])])
    torch.testing.assert_close(trace.traces[0], torch.tensor([0.5, 2.0]))
    trace.apply(modulator=2.0, lr=0.1)
    torch.testing.assert_close(p.detach(), torch.tensor([0.1, 0.4]))
    trace.set_grad(2.0)  # a minimising optimiser step moves along +modulator * z
    torch.optim.SGD([p], lr=0.1).step()
    torch.testing.assert_close(p.detach(), torch.tensor([0.2, 0.8]))
    trace.accumulate_from((p * torch.tensor([3.0, 4.0])).sum())
    torch.testing.assert_close(trace.traces[0], torch.tensor([3.25, 5.0]))
    with pytest.raises(ValueError, match="decay"):
        EligibilityTrace([p], decay=1.5)
    with pytest.raises(ValueError, match="grads"):
        trace.accumulate([])


def test_running_baseline() -> None:
    b = RunningBaseline(rate=0.5)
    assert b.update(2.0) == 0.0
    assert b.update(4.0) == pytest.approx(2.0)
    assert b.value == pytest.approx(3.0)


def test_population_currents_peak_at_preferred_value() -> None:
    obs = torch.tensor([[0.0, 3.0, -0.21, 0.0]])
    c = population_currents(obs, n_pop=5).reshape(4, 5)
    assert c.shape == (4, 5)
    assert c.argmax(1).tolist() == [2, 4, 0, 2]
    assert SpikingActorCritic(n_pop=5)(c.reshape(1, 1, -1))[0].shape == (1, 1, 2)


def test_cartpole_runs_episodes_deterministically_and_learns_in_place() -> None:
    torch.manual_seed(0)
    before = [p.detach().clone() for p in SpikingActorCritic(n_pop=10, hidden=16).parameters()]
    runs = [train_cartpole(episodes=3, seed=0, sim_steps=3, hidden=16, stop_when_solved=False) for _ in range(2)]
    assert runs[0].returns == runs[1].returns             # one seed, one lifetime: reproducible
    assert len(runs[0].returns) == 3 and all(float(r).is_integer() for r in runs[0].returns)
    assert runs[0].solved_at is None and runs[0].best_avg100 == 0.0   # fewer than 100 episodes: no average yet
    after = list(runs[0].model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))  # the weights moved while it played
    with pytest.raises(ValueError, match="episodes"):
        train_cartpole(episodes=0)


@pytest.mark.slow
def test_cartpole_agent_learns() -> None:
    """40 episodes must clearly improve on the first ten (random policy ~ 20 steps)."""
    torch.set_num_threads(1)
    result = train_cartpole(episodes=40, seed=0, stop_when_solved=False)
    assert sum(result.returns[-10:]) > 2 * sum(result.returns[:10])


def test_wta_step_one_winner() -> None:
    weight = torch.eye(3)
    x = torch.tensor([[0.5, 2.0, 1.5], [0.1, 0.1, 0.1]])
    spikes, v = wta_step(x, torch.zeros(2, 3), weight, torch.ones(3), beta=0.9)
    assert spikes.tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert v[0].abs().sum() == 0 and torch.allclose(v[1], x[1])


def test_stdp_wta_specialises_on_two_patterns() -> None:
    torch.manual_seed(0)
    a = torch.tensor([1.0] * 4 + [0.0] * 4)
    b = 1 - a
    layer = STDPWinnerTakeAll(8, n_neurons=4, theta0=0.5, seed=1)
    for _ in range(30):
        x = torch.stack([a, b] * 8)
        layer.run((torch.rand(20, 16, 8) < 0.5 * x).float(), learn=True)
    counts_a = layer.run((torch.rand(30, 1, 8) < 0.5 * a).float())[0]
    counts_b = layer.run((torch.rand(30, 1, 8) < 0.5 * b).float())[0]
    assert counts_a.argmax() != counts_b.argmax()
    w = layer.weight
    assert w[counts_a.argmax(), :4].sum() > w[counts_a.argmax(), 4:].sum()
