"""The fused streaming actor-critic against the library's graph-free online learner (the definition)."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from neuromorph import LIF, LeakyIntegrator
from neuromorph.learning.agents import ReturnScaler, RunningNorm, StreamingActorCritic, bounded_step_size
from neuromorph.learning.online import OnlineLearner


def _reference(agent: StreamingActorCritic) -> tuple[nn.Module, nn.Module]:
    """Actor and critic as torch modules with the agent's weights (float64); with shared critic features the
    critic's hidden layer is a copy of the actor's."""
    cfg, p, H = agent.config, agent.params, agent.config.hidden
    nets = []
    for rows, w_out, b_out in ((slice(0, H), p["w_pi"], p["b_pi"]), (agent.critic_rows, p["w_v"], p["b_v"])):
        net = nn.Sequential(nn.Linear(agent.n_in, H), LIF(beta=cfg.beta, threshold=cfg.threshold),
                            nn.Linear(H, w_out.shape[0]), LeakyIntegrator(beta=cfg.readout_beta)).double()
        with torch.no_grad():
            net[0].weight.copy_(torch.from_numpy(p["w1"][rows]))
            net[0].bias.copy_(torch.from_numpy(p["b1"][rows]))
            net[2].weight.copy_(torch.from_numpy(w_out))
            net[2].bias.copy_(torch.from_numpy(b_out))
        nets.append(net)
    return nets[0], nets[1]


def _agent(unit: str = "lif", **kw) -> StreamingActorCritic:
    agent = StreamingActorCritic(3, 2, seed=1, hidden=6, n_pop=4, sim_steps=3, unit=unit, dtype=np.float64,
                                 entropy=0.0, init_scale=3.0, **kw)
    rng = np.random.default_rng(2)
    agent.params["w_pi"][...] = rng.normal(0, 1, agent.params["w_pi"].shape)
    agent.params["w_v"][...] = rng.normal(0, 1, agent.params["w_v"].shape)
    agent.params["b1"][...] = rng.normal(0, 0.3, agent.params["b1"].shape)
    return agent


@pytest.mark.parametrize("critic_features", ["learned", "shared"])
def test_forward_and_gradients_match_online_learner_over_a_stream(critic_features):
    """Shared features: one population, whose input-layer gradient is the sum of the actor's and the critic's."""
    agent = _agent("lif", critic_features=critic_features)
    actor, critic = _reference(agent)
    rng = np.random.default_rng(3)
    K = agent.config.sim_steps
    learners = [OnlineLearner(net, torch.zeros(K, 1, agent.n_in, dtype=torch.float64)) for net in (actor, critic)]
    for learner in learners:
        learner.__enter__()
    try:
        spikes_seen = 0.0
        for _ in range(8):  # one stream: no reset between env steps, on either side
            rates = agent.encode(rng.normal(0, 1, 3))
            x = agent.input_spikes(rates)
            logits, value = agent.forward(x)
            g_logits, g_value = rng.normal(0, 1, 2), float(rng.normal())
            grads = agent.gradients(g_logits, g_value)
            xt = torch.from_numpy(x).unsqueeze(1)
            ref_logits = learners[0](xt)[-1, 0]
            ref_value = learners[1](xt)[-1, 0, 0]
            spikes_seen += float(x.sum())
            np.testing.assert_allclose(logits, ref_logits.detach().numpy(), rtol=1e-10, atol=1e-12)
            assert math.isclose(value, float(ref_value.detach()), rel_tol=1e-10, abs_tol=1e-12)
            for net in (actor, critic):
                net.zero_grad(set_to_none=True)
            (ref_logits @ torch.from_numpy(g_logits) + g_value * ref_value).backward()
            H = agent.config.hidden
            for name, attr in (("w1", "weight"), ("b1", "bias")):
                expected = np.zeros_like(grads[name])
                expected[:H] += getattr(actor[0], attr).grad.numpy()
                expected[agent.critic_rows] += getattr(critic[0], attr).grad.numpy()
                np.testing.assert_allclose(grads[name], expected, rtol=1e-6, atol=1e-10)
            np.testing.assert_allclose(grads["w_pi"], actor[2].weight.grad.numpy(), rtol=1e-6, atol=1e-10)
            np.testing.assert_allclose(grads["b_pi"], actor[2].bias.grad.numpy(), rtol=1e-6, atol=1e-10)
            np.testing.assert_allclose(grads["w_v"], critic[2].weight.grad.numpy(), rtol=1e-6, atol=1e-10)
            np.testing.assert_allclose(grads["b_v"], critic[2].bias.grad.numpy(), rtol=1e-6, atol=1e-10)
        assert spikes_seen > 0
    finally:
        for learner in learners:
            learner.__exit__(None, None, None)


def test_tanh_gradients_follow_the_online_rule_of_one_step():
    """Non-spiking units, first env step: the readout gradient is exact (trace of K identical steps); the hidden
    layer gets the learning signal of the last sim step only (e-prop), i.e. the autograd gradient of
    ``W_out h + b_out`` at that step."""
    agent = _agent("tanh")
    rates = agent.encode(np.array([0.3, -1.0, 2.0]))
    logits, value = agent.forward(rates[None, :])
    g_logits, g_value = np.array([0.7, -0.2]), 0.4
    grads = agent.gradients(g_logits, g_value)
    K, bo, H = agent.config.sim_steps, agent.config.readout_beta, agent.config.hidden
    scale = sum(bo ** k for k in range(K))
    w1 = torch.from_numpy(agent.params["w1"]).requires_grad_()
    b1 = torch.from_numpy(agent.params["b1"]).requires_grad_()
    w_pi = torch.from_numpy(agent.params["w_pi"]).requires_grad_()
    h = torch.tanh(w1 @ torch.from_numpy(rates) + b1)
    last_pi = w_pi @ h[:H] + torch.from_numpy(agent.params["b_pi"])
    last_v = torch.from_numpy(agent.params["w_v"]) @ h[H:] + torch.from_numpy(agent.params["b_v"])
    np.testing.assert_allclose(logits, scale * last_pi.detach().numpy(), rtol=1e-12)
    assert value == pytest.approx(scale * float(last_v.detach()[0]), rel=1e-12)
    (last_pi @ torch.from_numpy(g_logits) + g_value * last_v[0]).backward()
    np.testing.assert_allclose(grads["w1"], w1.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads["b1"], b1.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grads["w_pi"], scale * w_pi.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_act_accumulates_the_log_policy_and_value_gradients_into_traces():
    agent = _agent()
    d = agent.config.gamma * agent.config.lam
    rng = np.random.default_rng(5)
    expected = None
    for t in range(5):
        action = agent.act(rng.normal(0, 1, 3), None if t == 0 else 0.1)
        g = -agent.last_policy.copy()
        g[action] += 1.0
        grads = agent.gradients(g, 1.0)
        expected = grads if expected is None else {k: d * expected[k] + grads[k] for k in grads}
        for name, z in agent.traces.items():
            np.testing.assert_allclose(z, expected[name], rtol=1e-9, atol=1e-12, err_msg=name)
        true_l1 = (sum(np.abs(agent.traces[k]).sum() for k in ("w_pi", "b_pi"))
                   + np.abs(agent.traces["w1"][:6]).sum() + np.abs(agent.traces["b1"][:6]).sum())
        assert agent._l1[0] >= true_l1 - 1e-9  # the step-size bound uses an upper bound of ||z||_1


def test_td_update_moves_value_towards_the_target():
    agent = StreamingActorCritic(2, 2, seed=0, hidden=16, unit="tanh", dtype=np.float64)
    obs = np.array([0.5, -0.5])
    values = []
    for _ in range(200):  # a one-step episode with reward 1: V(s) -> 1
        agent.act(obs)
        values.append(agent._value)
        agent.end_episode(1.0, terminated=True)
    assert abs(values[-1] - 1.0) < 0.1 < abs(values[0] - 1.0)


def test_learns_a_two_armed_bandit_policy():
    agent = StreamingActorCritic(1, 2, seed=0, hidden=16, unit="lif")
    picks, first_policy = [], None
    for _ in range(400):
        a = agent.act(np.array([0.0]))
        first_policy = agent.last_policy.copy() if first_policy is None else first_policy
        picks.append(a)
        agent.end_episode(1.0 if a == 1 else 0.0)
    np.testing.assert_allclose(first_policy, [0.5, 0.5])  # zero readout: uniform at birth
    assert np.mean(picks[-100:]) > 0.9 and agent.last_policy[1] > 0.9


def _readout_value(agent: StreamingActorCritic) -> float:
    """The value under the current readout for the stream so far: ``w_V . s_hat + b_V c_o``."""
    st, p = agent.state, agent.params
    return float(p["w_v"][0] @ st["s_hat"][agent.critic_rows]) + float(p["b_v"][0]) * st["c_o"]


@pytest.mark.parametrize("critic_features", ["learned", "shared"])
@pytest.mark.parametrize("unit", ["lif", "tanh"])
def test_refresh_value_keeps_the_value_on_the_current_readout(unit, critic_features):
    fresh = _agent(unit, refresh_value=True, critic_features=critic_features)
    stale = _agent(unit, critic_features=critic_features)
    rng = np.random.default_rng(7)
    gaps = []
    for t in range(30):
        obs, reward = rng.normal(0, 1, 3), None if t == 0 else float(rng.normal())
        fresh.act(obs, reward)
        stale.act(obs, reward)
        # the stored V(S_t) and the readout state equal the value under the readout after the last update
        assert fresh._value == pytest.approx(_readout_value(fresh), abs=1e-10)
        assert fresh.state["y"][-1] == pytest.approx(_readout_value(fresh), abs=1e-10)
        gaps.append(abs(stale._value - _readout_value(stale)))
    assert max(gaps) > 1e-3  # without the refresh the stored value lags the readout's updates


def test_refresh_value_breaks_the_bootstrapped_bias_loop():
    """A silent critic (no hidden spikes): V = b_V c_o. On a reward-free stream the bias should decay towards 0;
    with the stale V(S_t) every update's own change re-enters the next TD error as + gamma dV."""
    largest, last = {}, {}
    for refresh in (False, True):
        agent = StreamingActorCritic(1, 2, seed=0, hidden=4, n_pop=2, sim_steps=2, gamma=0.99, lam=0.9,
                                     kappa_critic=0.75, entropy=0.0, refresh_value=refresh, dtype=np.float64)
        agent.params["w1"][...] = -10.0  # no input spikes ever reach threshold: the critic readout is its bias
        agent.params["b_v"][...] = 0.5
        agent.act(np.zeros(1))
        trajectory = []
        for _ in range(300):
            agent.act(np.zeros(1), 0.0)
            trajectory.append(float(agent.params["b_v"][0]))
        largest[refresh], last[refresh] = np.abs(trajectory).max(), abs(trajectory[-1])
    assert largest[False] > 10.0  # stale: the bias runs away (it swings between about +-80 here)
    assert largest[True] < 1.0 and last[True] < 0.01  # refreshed: it decays towards the target 0


@pytest.mark.parametrize("unit", ["lif", "tanh"])
def test_fixed_critic_features_learn_only_the_value_readout(unit):
    """critic_features="fixed": the critic's input rows keep their initial weights (no trace, no update) while the
    actor and the value readout learn; the first update of the actor equals the learned-critic agent's (same TD
    error, and the actor's step bound does not see the critic)."""
    fixed, learned = _agent(unit, critic_features="fixed"), _agent(unit)
    H, rng = fixed.config.hidden, np.random.default_rng(5)
    start = {k: v.copy() for k, v in fixed.params.items()}
    for t in range(40):
        obs, reward = rng.normal(0, 1, 3), None if t == 0 else float(rng.normal())
        fixed.act(obs, reward)
        learned.act(obs, reward)
        if t == 1:
            for name in ("w1", "b1"):
                np.testing.assert_allclose(fixed.params[name][:H], learned.params[name][:H], rtol=1e-12)
            assert not np.allclose(learned.params["w1"][H:], start["w1"][H:])
    for name in ("w1", "b1"):
        np.testing.assert_array_equal(fixed.params[name][H:], start[name][H:])
        assert not np.any(fixed.traces[name][H:])
        assert not np.allclose(fixed.params[name][:H], start[name][:H])
    assert not np.allclose(fixed.params["w_v"], start["w_v"]) and fixed.params["b_v"][0] != start["b_v"][0]
    with pytest.raises(ValueError, match="critic_features must be one of"):
        StreamingActorCritic(3, 2, critic_features="frozen")


@pytest.mark.parametrize("unit", ["lif", "tanh"])
def test_shared_critic_features_stop_the_value_gradient_at_the_readout(unit):
    """critic_features="shared": one population of ``hidden`` units feeds both readouts. Against a learned-critic
    agent whose critic population is an exact copy of its actor's (so both see the same value and TD error),
    the shared input layer moves exactly like that agent's actor rows: the TD error trains only the value
    readout."""
    shared, twin = _agent(unit, critic_features="shared"), _agent(unit)
    H = shared.config.hidden
    assert shared.params["w1"].shape == (H, shared.n_in) and shared.state["s_hat"].shape == (H,)
    for name in ("w1", "b1"):
        twin.params[name][:H] = twin.params[name][H:] = shared.params[name]
    for name in ("w_pi", "b_pi", "w_v", "b_v"):
        twin.params[name][...] = shared.params[name]
    shared.rng, twin.rng = np.random.default_rng(9), np.random.default_rng(9)
    start = {k: v.copy() for k, v in shared.params.items()}
    rng = np.random.default_rng(5)
    for t in range(2):
        obs, reward = rng.normal(0, 1, 3), None if t == 0 else float(rng.normal())
        assert shared.act(obs, reward) == twin.act(obs, reward)
        assert shared._value == pytest.approx(twin._value, rel=1e-12)
    assert shared.last_delta != 0.0
    for name in ("w1", "b1", "w_pi", "b_pi"):
        np.testing.assert_allclose(shared.params[name], twin.params[name][: len(shared.params[name])], rtol=1e-12)
    assert not np.allclose(shared.params["w1"], start["w1"])  # the policy gradient moved the shared units
    assert not np.allclose(twin.params["w1"][H:], twin.params["w1"][:H])  # the twin's critic rows took the TD step
    assert not np.allclose(shared.params["w_v"], start["w_v"]) and shared.params["b_v"][0] != start["b_v"][0]


@pytest.mark.parametrize("scale_reward", [False, True])
def test_state_dict_round_trip_continues_identically(scale_reward):
    a = StreamingActorCritic(3, 2, seed=4, hidden=8, scale_reward=scale_reward)
    rng = np.random.default_rng(0)
    for t in range(20):
        a.act(rng.normal(size=3), None if t == 0 else 0.1)
    a.end_episode(-1.0)
    b = StreamingActorCritic(3, 2, seed=99, hidden=8, scale_reward=scale_reward)
    b.load_state_dict(a.state_dict())
    obs = rng.normal(size=(10, 3))
    acts_a = [a.act(o, None if i == 0 else 0.3) for i, o in enumerate(obs)]
    acts_b = [b.act(o, None if i == 0 else 0.3) for i, o in enumerate(obs)]
    assert acts_a == acts_b
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="unit"):
        StreamingActorCritic(3, 2, unit="sigmoid")
    with pytest.raises(ValueError, match="n_actions"):
        StreamingActorCritic(3, 1)
    with pytest.raises(TypeError, match="refresh_value"):
        StreamingActorCritic(3, 2, refresh_value=1)
    agent = StreamingActorCritic(3, 2)
    with pytest.raises(ValueError, match="3 features"):
        agent.act(np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        agent.act(np.array([0.0, np.nan, 0.0]))
    agent.act(np.zeros(3))
    with pytest.raises(ValueError, match="reward"):
        agent.act(np.zeros(3))
    with pytest.raises(RuntimeError, match="between episodes"):
        agent.state_dict()


def test_running_norm_and_step_bound():
    norm = RunningNorm(2)
    data = np.random.default_rng(0).normal([1.0, -2.0], [2.0, 0.5], size=(500, 2))
    for row in data:
        norm.update(row)
    np.testing.assert_allclose(norm.mean, data.mean(0), rtol=1e-10)
    np.testing.assert_allclose(norm.m2 / norm.count, data.var(0), rtol=1e-10)
    assert bounded_step_size(1.0, 2.0, 0.1, 0.2) == 1.0
    assert bounded_step_size(1.0, 2.0, 3.0, 1.0) == pytest.approx(1 / 6)


def test_return_scaler_divides_by_the_std_of_the_discounted_return():
    gamma, rng = 0.9, np.random.default_rng(5)
    scaler = ReturnScaler(gamma)
    returns, scaled = [], []
    for _episode in range(3):
        scaler.begin_episode()
        g = 0.0
        for r in rng.normal(1.0, 2.0, size=50):
            g = gamma * g + r
            returns.append(g)
            scaled.append((r, scaler.scale(float(r))))
    r, s = scaled[-1]
    assert s == pytest.approx(r / np.std(returns), rel=1e-9)
    assert scaled[0][1] == scaled[0][0]  # one sample: no variance yet, the reward passes unchanged
    with pytest.raises(TypeError, match="scale_reward"):
        StreamingActorCritic(3, 2, scale_reward=1)


@pytest.mark.parametrize("end_mid_block", [False, True])
def test_action_repeat_equals_deciding_on_every_kth_step_with_summed_rewards(end_mid_block):
    """``action_repeat = k``: the same learning as an agent fed only every k-th observation and the summed rewards."""
    k, rng = 3, np.random.default_rng(7)
    n = 13 if end_mid_block else 12  # env steps after the first observation
    obs, rewards = rng.normal(size=(n + 1, 3)), rng.normal(size=n)
    held = StreamingActorCritic(3, 2, seed=3, hidden=8, entropy=0.01, action_repeat=k)
    plain = StreamingActorCritic(3, 2, seed=3, hidden=8, entropy=0.01)
    for agent in (held, plain):
        agent.params["w_pi"][...] = rng.normal(0, 1, agent.params["w_pi"].shape)  # a non-uniform policy
    plain.params["w_pi"][...] = held.params["w_pi"]
    actions = [held.act(obs[0])] + [held.act(obs[t], float(rewards[t - 1])) for t in range(1, n)]
    held.end_episode(float(rewards[n - 1]), terminated=True)
    decisions = [plain.act(obs[0])]
    for t in range(k, n, k):
        decisions.append(plain.act(obs[t], float(rewards[t - k:t].sum())))
    last = (n - 1) // k * k
    plain.end_episode(float(rewards[last:].sum()), terminated=True)
    assert actions == [decisions[t // k] for t in range(n)]  # each decision held for k env steps
    assert held.steps == plain.steps == len(decisions)
    for name in held.params:
        np.testing.assert_allclose(held.params[name], plain.params[name], rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="action_repeat"):
        StreamingActorCritic(3, 2, action_repeat=0)


@pytest.mark.parametrize("critic_features", ["learned", "fixed", "shared"])
@pytest.mark.parametrize("unit", ["lif", "tanh", "relu"])
@pytest.mark.parametrize("step_bound", ["network", "layer"])
def test_one_update_moves_each_bounded_block_by_at_most_one_over_kappa(step_bound, unit, critic_features):
    """The overshooting bound: per update, ``||dtheta||_1 <= 1 / kappa`` over the actor's and the critic's parameters
    ("network"), or over each layer of each ("layer"); also for tanh units, whose outputs (and so the readout
    traces) take both signs."""
    kappa = {"actor": 4.0, "critic": 2.0}
    agent = StreamingActorCritic(3, 2, seed=2, hidden=8, entropy=0.0, kappa_actor=kappa["actor"],
                                 kappa_critic=kappa["critic"], step_bound=step_bound, unit=unit, dtype=np.float64,
                                 critic_features=critic_features)
    H, rng = 8, np.random.default_rng(3)
    agent.params["w_pi"][...] = rng.normal(0, 1, (2, H))
    agent.params["w_v"][...] = rng.normal(0, 1, (1, H))
    blocks = {"actor": {"in": [("w1", slice(0, H)), ("b1", slice(0, H))], "out": [("w_pi", ...), ("b_pi", ...)]},
              "critic": {"in": [("w1", slice(H, 2 * H)), ("b1", slice(H, 2 * H))], "out": [("w_v", ...), ("b_v", ...)]}}
    agent.act(rng.normal(size=3))
    largest = {"actor": 0.0, "critic": 0.0}
    for _ in range(40):
        before = {k: v.copy() for k, v in agent.params.items()}
        agent.act(rng.normal(size=3) * 3, reward=float(rng.normal(0, 5)))
        for net, layers in blocks.items():
            moved = {name: sum(float(np.abs(agent.params[k][rows] - before[k][rows]).sum()) for k, rows in parts)
                     for name, parts in layers.items()}
            per_block = moved.values() if step_bound == "layer" else [sum(moved.values())]
            for value in per_block:
                assert value <= 1.0 / kappa[net] * (1 + 1e-9)
                largest[net] = max(largest[net], value)
    for net in kappa:  # the bound is reached, not vacuous
        assert largest[net] > 0.5 / kappa[net]
    with pytest.raises(ValueError, match="step_bound"):
        StreamingActorCritic(3, 2, step_bound="global")
