"""Closed-loop demo: a spiking actor-critic learning CartPole online with three-factor eligibility traces.

Network (all spiking except the two leaky-integrator readouts)::

    obs (4) --population code (n_pop Gaussian fields per dim)--> currents c (4 n_pop)
    c --Linear--> LIF hidden (H) --Linear--> LeakyIntegrator actor (2 logits)
                                 \\-Linear--> LeakyIntegrator critic (1 value)

At every environment step the network is reset and run for ``sim_steps`` steps on the constant current
``c`` (one chunk); the readouts at the last step give ``pi(a|s) = softmax(logits)`` and ``V(s)``. The
gradients of ``log pi(a_t|s_t)`` and ``V(s_t)`` are computed by :class:`~neuromorph.learning.online.OnlineLearner`
(eligibility traces inside the spiking network, no graph through time) and feed parameter-space eligibility
traces (:class:`~neuromorph.learning.reward.EligibilityTrace`); the TD error is the third factor::

    delta_t = r_t + gamma V(s_{t+1}) (1 - terminated) - V(s_t)
    z_pi <- gamma lambda z_pi + d log pi(a_t|s_t)/dtheta,    z_V <- gamma lambda z_V + dV(s_t)/dtheta
    theta <- theta + Adam-step along delta_t (z_pi + z_V) + entropy_coef d H(pi(.|s_t))/dtheta

(Adam with ``actor_lr`` for the hidden layer and the actor, ``critic_lr`` for the critic readout.)

Observation scaling for the population code: cart position / 2.4, velocity / 3, pole angle / 0.21,
angular velocity / 3.5, clipped to [-1, 1]; preferred values evenly spaced on [-1, 1].
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import torch
from torch import Tensor, nn

from neuromorph.encoding import gaussian_rates
from neuromorph.learning.online import OnlineLearner
from neuromorph.learning.reward import EligibilityTrace
from neuromorph.neurons import LIF, LeakyIntegrator
from neuromorph.utils import check_positive_int

OBS_SCALE = (2.4, 3.0, 0.21, 3.5)


def population_currents(obs: Tensor, n_pop: int, gain: float = 1.0) -> Tensor:
    """``[B, 4]`` observations -> ``[B, 4 * n_pop]`` Gaussian receptive-field currents (module docstring)."""
    scale = torch.tensor(OBS_SCALE, dtype=obs.dtype)
    z = (obs / scale).clamp(-1.0, 1.0)
    preferred = torch.linspace(-1.0, 1.0, n_pop, dtype=obs.dtype)
    sigma = 2.0 / (n_pop - 1)
    return gain * gaussian_rates(z, preferred, sigma).reshape(obs.shape[0], -1)


class SpikingActorCritic(nn.Module):
    """Population input -> LIF hidden -> leaky-integrator actor (2) and critic (1) readouts."""

    def __init__(
        self, n_pop: int = 10, hidden: int = 64, beta: float = 0.8, readout_beta: float = 0.8, n_actions: int = 2
    ) -> None:
        super().__init__()
        if n_pop < 2 or hidden < 1:
            raise ValueError(f"n_pop must be >= 2 and hidden >= 1, got n_pop={n_pop}, hidden={hidden}")
        self.n_pop = n_pop
        self.body = nn.Sequential(nn.Linear(4 * n_pop, hidden), LIF(beta=beta, threshold=1.0))
        self.actor = nn.Sequential(nn.Linear(hidden, n_actions), LeakyIntegrator(beta=readout_beta))
        self.critic = nn.Sequential(nn.Linear(hidden, 1), LeakyIntegrator(beta=readout_beta))
        with torch.no_grad():
            cast(nn.Linear, self.body[0]).weight.mul_(3.0)
            cast(nn.Linear, self.actor[0]).weight.mul_(0.1)
            cast(nn.Linear, self.critic[0]).weight.mul_(0.1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        spikes = self.body(x)
        return self.actor(spikes), self.critic(spikes).squeeze(-1)


@dataclass
class CartPoleResult:
    returns: list[float] = field(default_factory=list)
    solved_at: int | None = None  # episode (1-based) where the 100-episode mean first reached the target
    best_avg100: float = 0.0
    seconds: float = 0.0
    model: nn.Module | None = None  # the agent after its lifetime


def train_cartpole(
    episodes: int = 600,
    seed: int = 0,
    sim_steps: int = 6,
    hidden: int = 64,
    n_pop: int = 10,
    gamma: float = 0.99,
    lam: float = 0.8,
    actor_lr: float = 1e-3,
    critic_lr: float = 1e-2,
    entropy_coef: float = 0.01,
    target: float = 195.0,
    env_id: str = "CartPole-v0",
    stop_when_solved: bool = True,
    verbose: bool = False,
) -> CartPoleResult:
    """Train :class:`SpikingActorCritic` online on ``env_id`` (gymnasium classic control, no downloads).

    Returns every episode's return, the first episode at which the mean of the last 100 returns reached
    ``target`` (``None`` if never) and the best 100-episode mean.
    """
    import gymnasium as gym

    for name, count in (("episodes", episodes), ("sim_steps", sim_steps)):
        check_positive_int(name, count)
    torch.manual_seed(seed)
    with warnings.catch_warnings():  # CartPole-v0 (200-step episodes) is chosen on purpose
        warnings.filterwarnings("ignore", message=".*out of date.*")
        env = gym.make(env_id)
    model = SpikingActorCritic(n_pop=n_pop, hidden=hidden)
    params = list(model.parameters())
    z_pi = EligibilityTrace(params, gamma * lam)
    z_v = EligibilityTrace(params, gamma * lam)
    critic_ids = {id(p) for p in model.critic.parameters()}
    optimizer = torch.optim.Adam(
        [
            {"params": [p for p in params if id(p) not in critic_ids], "lr": actor_lr},
            {"params": list(model.critic.parameters()), "lr": critic_lr},
        ]
    )

    def currents(obs: np.ndarray) -> Tensor:
        x = population_currents(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0), n_pop)
        return x.unsqueeze(0).expand(sim_steps, *x.shape)

    learner = OnlineLearner(model, currents(np.zeros(4, dtype=np.float32)))
    result = CartPoleResult()
    start = time.perf_counter()

    def act(obs: np.ndarray) -> tuple[int, tuple, tuple, tuple, float]:
        """Run the network on one observation; sample an action; gradients of log pi(a|s) and V(s)."""
        learner.reset()
        logits_seq, value_seq = learner(currents(obs))
        logits, value = logits_seq[-1], value_seq[-1]
        dist = torch.distributions.Categorical(logits=logits[0])
        action = dist.sample()
        g_pi = torch.autograd.grad(dist.log_prob(action), params, retain_graph=True, allow_unused=True)
        g_h = torch.autograd.grad(dist.entropy(), params, retain_graph=True, allow_unused=True)
        g_v = torch.autograd.grad(value[0], params, allow_unused=True)
        return int(action), g_pi, g_h, g_v, float(value.detach()[0])

    with learner:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed * 100_000 + episode)
            z_pi.reset()
            z_v.reset()
            action, g_pi, g_h, g_v, value = act(obs)
            total, done = 0.0, False
            while not done:
                z_pi.accumulate(g_pi)
                z_v.accumulate(g_v)
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
                v_next = 0.0
                if not terminated:
                    action, g_pi_next, g_h_next, g_v_next, v_next = act(obs)
                delta = float(reward) + gamma * v_next - value
                value = v_next
                optimizer.zero_grad(set_to_none=True)
                z_pi.set_grad(delta)
                z_v.set_grad(delta)
                for p, g in zip(params, g_h):  # entropy bonus of the current step (no trace)
                    if g is not None:
                        p.grad = p.grad - entropy_coef * g
                optimizer.step()
                if not terminated:
                    g_pi, g_h, g_v = g_pi_next, g_h_next, g_v_next
            result.returns.append(total)
            avg = float(np.mean(result.returns[-100:]))
            if len(result.returns) >= 100:
                result.best_avg100 = max(result.best_avg100, avg)
                if avg >= target and result.solved_at is None:
                    result.solved_at = episode + 1
            if verbose and (episode + 1) % 20 == 0:
                print(
                    f"episode {episode + 1:4d}  return {total:6.1f}  avg(last 100) {avg:6.1f}  "
                    f"{time.perf_counter() - start:6.0f}s",
                    flush=True,
                )
            if stop_when_solved and result.solved_at is not None:
                break
    env.close()
    result.seconds = time.perf_counter() - start
    result.model = model
    return result
