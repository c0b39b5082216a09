"""Agent throughput against the game's own speed, interleaved in one process (ratios survive machine load).

    python benchmarks/games_throughput.py --game flappy --rounds 5 --steps 3000

Each round times ``steps`` env steps of a random policy (emulator alone), then ``steps`` agent steps
(``act`` with learning: encode, forward, TD update, traces) on the observations and rewards recorded in that
round, with the agent's default configuration for the game (``neuromorph learn GAME``). Prints the median over
rounds of both speeds and of their ratio; ``--reference-env-sps`` converts the ratio into an estimate of the
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", choices=sorted(GAMES), default="flappy")
    parser.add_argument("--unit", choices=("lif", "tanh", "relu"), default="lif")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--reference-env-sps", type=float, default=None)
    args = parser.parse_args(argv)
    spec = GAMES[args.game]
    env = make_env(args.game)
    agent = StreamingActorCritic(spec.n_features, len(spec.actions), seed=0, unit=args.unit,
                                 **GAME_DEFAULTS[args.game])
    rng = np.random.default_rng(0)
    env_sps, agent_sps = [], []
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
    ratio = float(np.median(np.array(agent_sps) / np.array(env_sps)))
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
