"""Agent throughput against the game's own speed, interleaved in one process (ratios survive machine load).

    python benchmarks/games_throughput.py --game flappy --rounds 5 --steps 3000

Each round times ``steps`` env steps of a random policy (emulator alone), then ``steps`` agent steps
(``act`` with learning: encode, forward, TD update, traces) on the observations and rewards recorded in that
round, with the agent's default configuration for the game (``neuromorph learn GAME``). ``--core`` also times the
same network and rule run through the library's general :class:`~neuromorph.learning.online.OnlineLearner`
(torch, one chunk of ``sim_steps`` per env step, one backward of ``log pi + V``, parameter traces; no env) to
show why the agent uses its fused numpy path; ``--chain`` times the same network and rule on the compiled
:class:`~neuromorph.learning.streaming.StreamingChain`. Prints the median over rounds of both speeds and of their
ratio; ``--reference-env-sps`` converts the ratio into an estimate of the
agent's speed on a machine where the env runs at that speed (e.g. the unloaded 2-core figures in
``shared/notes/reference-facts.md``: Flappy ~74k, Pong ~5k env steps/s).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from neuromorph.cli.learn import GAME_DEFAULTS
from neuromorph.learning.agents import StreamingActorCritic
from neuromorph.tasks.games.envs import GAMES, make_env


def _core_steps_per_s(agent: StreamingActorCritic, observations: list) -> float:
    """Env steps per second of the same actor-critic through OnlineLearner (forward, backward, traces)."""
    import torch
    from torch import nn

    from neuromorph import LIF, LeakyIntegrator
    from neuromorph.learning.online import OnlineLearner

    torch.set_num_threads(1)
    cfg = agent.config

    class ActorCritic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.actor = nn.Sequential(nn.Linear(agent.n_in, cfg.hidden), LIF(beta=cfg.beta),
                                       nn.Linear(cfg.hidden, cfg.n_actions), LeakyIntegrator(cfg.readout_beta))
            self.critic = nn.Sequential(nn.Linear(agent.n_in, cfg.hidden), LIF(beta=cfg.beta),
                                        nn.Linear(cfg.hidden, 1), LeakyIntegrator(cfg.readout_beta))

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.actor(x), self.critic(x)

    model = ActorCritic()
    params = list(model.parameters())
    traces = [torch.zeros_like(p) for p in params]
    decay = cfg.gamma * cfg.lam
    chunks = [torch.from_numpy(agent.input_spikes(agent.encode(o, update=False))).unsqueeze(1)
              for o in observations]
    learner = OnlineLearner(model, chunks[0])
    with learner:
        start = time.perf_counter()
        for x in chunks:
            logits, value = learner(x)
            log_pi = torch.log_softmax(logits[-1, 0], -1)
            (log_pi[int(torch.argmax(log_pi))] + value[-1, 0, 0]).backward()
            with torch.no_grad():
                for z, p in zip(traces, params):
                    z.mul_(decay).add_(p.grad)
                    p.add_(z, alpha=1e-4)
                    p.grad = None
        return len(chunks) / (time.perf_counter() - start)


def _chain_steps_per_s(agent: StreamingActorCritic, observations: list) -> float:
    """Env steps per second of the same network and rule on the core's compiled :class:`StreamingChain`.

    One chain ``Linear(n_in, 2H) -> LIF -> Linear(2H, A + 1) -> LI`` holds actor and critic (readout
    block-diagonal); the eligibility trace lives in ``.grad`` (``grad *= gamma lambda`` then
    ``chain.backward(g)``), the TD update adds ``a delta grad`` per block, and the entropy gradient is a second
    backward into a swapped-in buffer. Encoding and input spikes are the agent's own (numpy)."""
    import torch
    from torch import nn

    from neuromorph import LIF, LeakyIntegrator
    from neuromorph.learning.streaming import StreamingChain

    torch.set_num_threads(1)
    cfg, H, A = agent.config, agent.config.hidden, agent.config.n_actions
    model = nn.Sequential(nn.Linear(agent.n_in, 2 * H), LIF(beta=cfg.beta, threshold=cfg.threshold),
                          nn.Linear(2 * H, A + 1), LeakyIntegrator(beta=cfg.readout_beta))
    for p in model.parameters():
        p.requires_grad_(False)
    chain = StreamingChain(model)
    params = list(model.parameters())
    entropy = [torch.zeros_like(p) for p in params]
    decay, rng = cfg.gamma * cfg.lam, np.random.default_rng(0)
    start = time.perf_counter()
    for obs in observations:
        x = torch.from_numpy(agent.input_spikes(agent.encode(obs, update=False)))
        for k in range(cfg.sim_steps):
            y = chain.step(x[k:k + 1])
        logits, value = y[0, :A].numpy(), float(y[0, A])
        delta = 0.1 + 0.0 * value     # (the update values are irrelevant to the timing; kept finite)
        for p in params:       # TD update with the previous trace and entropy gradient, per block
            if p.grad is not None:
                p.add_(p.grad, alpha=1e-7 * delta)
        for p, e in zip(params, entropy):
            p.add_(e, alpha=1e-6)
        pi = np.exp(logits - logits.max())
        pi /= pi.sum()
        action = int(rng.choice(A, p=pi))
        g = -pi
        g[action] += 1.0
        grads = [p.grad for p in params]
        for p, e in zip(params, entropy):
            p.grad = e.zero_()
        chain.backward(torch.from_numpy(np.append(g, 0.0).astype(np.float32))[None])
        for p, z in zip(params, grads):
            p.grad = z.mul_(decay) if z is not None else None
        chain.backward(torch.from_numpy(np.append(g, 1.0).astype(np.float32))[None])
    return len(observations) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", choices=sorted(GAMES), default="flappy")
    parser.add_argument("--unit", choices=("lif", "tanh", "relu"), default="lif")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--reference-env-sps", type=float, default=None)
    parser.add_argument("--core", action="store_true", help="also time the OnlineLearner path (module docstring)")
    parser.add_argument("--chain", action="store_true", help="also time the same agent on StreamingChain")
    args = parser.parse_args(argv)
    spec = GAMES[args.game]
    env = make_env(args.game)
    agent = StreamingActorCritic(spec.n_features, len(spec.actions), seed=0, unit=args.unit,
                                 **GAME_DEFAULTS[args.game])
    rng = np.random.default_rng(0)
    env_sps, agent_sps, core_sps, chain_sps = [], [], [], []
    obs, _ = env.reset(seed=0)
    with threadpool_limits(1):
        for _ in range(args.rounds):
            record = []
            start = time.perf_counter()
            for _ in range(args.steps):
                obs, reward, terminated, truncated, _ = env.step(spec.actions[rng.integers(len(spec.actions))])
                record.append((obs, float(reward), terminated or truncated))
                if terminated or truncated:
                    obs, _ = env.reset()
            env_sps.append(args.steps / (time.perf_counter() - start))
            start = time.perf_counter()
            agent.begin_episode()
            agent.act(record[0][0])
            for o, r, done in record[1:]:
                if done:
                    agent.end_episode(r, terminated=True)
                    agent.act(o)
                else:
                    agent.act(o, r)
            agent_sps.append(args.steps / (time.perf_counter() - start))
            agent.end_episode(0.0)
            if args.chain:
                chain_sps.append(_chain_steps_per_s(agent, [o for o, _, _ in record]))
            if args.core:
                core_sps.append(_core_steps_per_s(agent, [o for o, _, _ in record[: args.steps // 10]]))
    ratio = float(np.median(np.array(agent_sps) / np.array(env_sps)))
    if args.chain:
        print(f"same network and rule on StreamingChain (compiled, 1 thread): {np.median(chain_sps):.0f} steps/s, "
              f"chain/fused = {float(np.median(np.array(chain_sps) / np.array(agent_sps))):.3f}")
    if args.core:
        print(f"same network through OnlineLearner (torch, 1 thread): {np.median(core_sps):.0f} steps/s")
    print(f"{args.game} ({args.unit}): env alone {np.median(env_sps):.0f} steps/s, agent alone "
          f"{np.median(agent_sps):.0f} steps/s (median of {args.rounds} interleaved rounds); agent/env = {ratio:.3f}")
    if args.reference_env_sps:
        agent_est = ratio * args.reference_env_sps
        both = 1.0 / (1.0 / agent_est + 1.0 / args.reference_env_sps)
        print(f"with the env at {args.reference_env_sps:.0f} steps/s: agent ~{agent_est:.0f} steps/s, "
              f"agent + env ~{both:.0f} steps/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
