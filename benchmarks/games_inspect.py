"""Look inside a single-lifetime checkpoint: what the agent does now, and what its TD updates do.

    # one test game with the weights frozen: policy, value, readout traces per population, parameter norms
    python benchmarks/games_inspect.py play docs/figures/games/checkpoints/pong_relative_lif_s1_2700203.npz
    # continue a copy of the lifetime to --until env steps, logging every TD update of the critic
    python benchmarks/games_inspect.py trace docs/figures/games/checkpoints/pong_relative_lif_s1_2700203.npz \
        --until 2815000 --log /tmp/trace.npy

    # a new lifetime from birth: firing rate of each LIF population (spikes per unit per sim step) per window
    python benchmarks/games_inspect.py firing --game pong_relative --env-steps 300000 --seed 100 \
        --critic-features fixed

For ``play`` and ``trace`` the game, seed and agent configuration are read from the checkpoint; ``firing`` uses the
game's defaults of ``neuromorph learn``. ``trace`` continues the same lifetime
(``run_lifetime(..., resume=True)`` on a copy, so the checkpoint is left as it is) and prints the episodes it
played and, from the log, the first excursion of the critic's readout bias beyond ``--bias-limit``.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from neuromorph.cli.learn import GAME_DEFAULTS
from neuromorph.learning.agents import CRITIC_FEATURES, StreamingActorCritic
from neuromorph.tasks.games import run_lifetime
from neuromorph.tasks.games.checkpoint import load_checkpoint
from neuromorph.tasks.games.envs import GAMES, make_env

# columns of the trace log, one row per TD update
TRACE_COLUMNS = ("agent_step", "reward", "value", "next_value", "delta", "policy_max", "b_v", "w_v_l1")


def load_agent(path: str) -> tuple[StreamingActorCritic, dict[str, Any]]:
    """The agent of a lifetime checkpoint, and the checkpoint's result record (game, seed, scores, ...)."""
    arrays, meta = load_checkpoint(path)
    state = {**arrays, **meta["agent"]}
    config = dict(state["config"])
    n_features, n_actions = config.pop("n_features"), config.pop("n_actions")
    agent = StreamingActorCritic(n_features, n_actions, seed=0, **config)
    agent.load_state_dict(state)
    return agent, meta["result"]


def play(agent: StreamingActorCritic, game: str, seed: int = 123, max_steps: int = 3000) -> dict[str, Any]:
    """One game (up to ``max_steps`` env steps) with the weights restored after every step, so they do not learn;
    the running observation statistics still take in the game's observations, as they do in :meth:`act`."""
    H = agent.config.hidden
    env = make_env(game)
    obs, _ = env.reset(seed=seed)
    agent.begin_episode()
    policies, values, actor_trace, critic_trace, actions = [], [], [], [], []
    reward, score = None, 0.0
    for _ in range(max_steps):
        frozen = {k: v.copy() for k, v in agent.params.items()}
        action = agent.act(obs, reward)
        for k, v in agent.params.items():
            v[...] = frozen[k]
        policies.append(agent.last_policy.copy())
        values.append(agent._value)
        actor_trace.append(float(agent.state["s_hat"][:H].mean()))
        critic_trace.append(float(agent.state["s_hat"][agent.critic_rows].mean()))
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(GAMES[game].actions[action])
        score += float(reward)
        if terminated or truncated:
            break
    env.close()
    pi = np.array(policies, dtype=np.float64)
    p = agent.params
    return {
        "env_steps": len(actions),
        "score": score,
        "policy_mean": pi.mean(0).round(3).tolist(),
        "policy_max_per_action": pi.max(0).round(3).tolist(),
        "action_counts": np.bincount(actions, minlength=pi.shape[1]).tolist(),
        "value_mean": round(float(np.mean(values)), 3),
        "value_sd": round(float(np.std(values)), 3),
        "readout_trace_actor": round(float(np.mean(actor_trace)), 4),
        "readout_trace_critic": round(float(np.mean(critic_trace)), 4),
        "norm_w1_actor": round(float(np.linalg.norm(p["w1"][:H])), 2),
        "norm_w1_critic": round(float(np.linalg.norm(p["w1"][agent.critic_rows])), 2),
        "norm_w_pi": round(float(np.linalg.norm(p["w_pi"])), 2),
        "b_pi": p["b_pi"].astype(np.float64).round(3).tolist(),
        "norm_w_v": round(float(np.linalg.norm(p["w_v"])), 2),
        "b_v": round(float(p["b_v"][0]), 3),
    }


@contextlib.contextmanager
def patched(name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    """Inside the block, ``StreamingActorCritic.<name>`` is ``wrap(original)``; the original is restored on exit,
    also when the block raises."""
    original = getattr(StreamingActorCritic, name)
    setattr(StreamingActorCritic, name, wrap(original))
    try:
        yield
    finally:
        setattr(StreamingActorCritic, name, original)


def trace(path: str, until: int) -> tuple[np.ndarray, Any]:
    """Continue a copy of the lifetime in ``path`` to ``until`` env steps; one row of :data:`TRACE_COLUMNS` per
    TD update."""
    _, result = load_agent(path)
    rows: list[tuple[float, ...]] = []

    def logging(original: Callable[..., float]) -> Callable[..., float]:
        def logged(self: StreamingActorCritic, reward: float, next_value: float, terminated: bool) -> float:
            value_before = self._value
            refreshed = original(self, reward, next_value, terminated)
            rows.append((self.steps, reward, value_before, next_value, self.last_delta, float(self.last_policy.max()),
                         float(self.params["b_v"][0]), float(np.abs(self.params["w_v"]).sum())))
            return refreshed

        return logged

    with tempfile.TemporaryDirectory() as folder, patched("_td_update", logging):
        copy = os.path.join(folder, "checkpoint.npz")
        shutil.copy(path, copy)
        config = {k: v for k, v in result["config"].items() if k not in ("n_features", "n_actions")}
        lifetime = run_lifetime(result["game"], until, seed=result["seed"], checkpoint=copy, resume=True,
                                checkpoint_every=10**12, agent_config=config, show_progress=False)
    return np.array(rows), lifetime


def firing(game: str, env_steps: int, seed: int, every: int, **config: Any) -> list[dict[str, float]]:
    """A new lifetime of ``env_steps`` with ``neuromorph learn``'s defaults for ``game`` (updated by ``config``);
    one row per ``every`` agent steps: mean spikes per unit per sim step of the actor and the critic population,
    and the critic's readout (``|w_V|`` mean, ``b_V``) at the window's end."""
    agent_config = {**GAME_DEFAULTS[game], **config}
    if agent_config.get("unit", "lif") != "lif":
        raise ValueError(f"unit: firing rates need spiking units, got {agent_config['unit']!r}")
    rows: list[dict[str, float]] = []
    window = {"steps": 0, "actor": 0.0, "critic": 0.0}

    def counting(original: Callable[..., tuple[np.ndarray, float]]) -> Callable[..., tuple[np.ndarray, float]]:
        def counted(self: StreamingActorCritic, x: np.ndarray) -> tuple[np.ndarray, float]:
            out = original(self, x)
            H, spikes = self.config.hidden, self.last_spikes
            window["steps"] += 1
            window["actor"] += float(spikes[:H].mean())
            window["critic"] += float(spikes[self.critic_rows].mean())
            if window["steps"] == every:
                rows.append({"agent_steps": self.steps + 1, "actor_rate": window["actor"] / every,
                             "critic_rate": window["critic"] / every,
                             "w_v_abs_mean": float(np.abs(self.params["w_v"]).mean()),
                             "b_v": float(self.params["b_v"][0])})
                window.update(steps=0, actor=0.0, critic=0.0)
            return out

        return counted

    with patched("forward", counting):
        run_lifetime(game, env_steps, seed=seed, agent_config=agent_config, show_progress=False)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    p_play = sub.add_parser("play", help="one test game with learning frozen")
    p_play.add_argument("checkpoints", nargs="+")
    p_play.add_argument("--env-seed", type=int, default=123)
    p_trace = sub.add_parser("trace", help="continue a copy of the lifetime, logging every TD update")
    p_trace.add_argument("checkpoint")
    p_trace.add_argument("--until", type=int, required=True, help="env steps to continue to")
    p_trace.add_argument("--log", default=None, help=".npy file for the per-update log")
    p_trace.add_argument("--bias-limit", type=float, default=2.0)
    p_firing = sub.add_parser("firing", help="firing rates of the two populations over a new lifetime")
    p_firing.add_argument("--game", choices=sorted(GAME_DEFAULTS), default="pong_relative")
    p_firing.add_argument("--env-steps", type=int, default=300_000)
    p_firing.add_argument("--seed", type=int, default=100)
    p_firing.add_argument("--every", type=int, default=50_000, help="agent steps per row")
    p_firing.add_argument("--critic-features", choices=CRITIC_FEATURES, default="learned")
    args = parser.parse_args(argv)
    if args.mode == "firing":
        print("agent steps | actor spikes/unit/sim step | critic spikes/unit/sim step | mean |w_V| | b_V")
        for row in firing(args.game, args.env_steps, args.seed, args.every, critic_features=args.critic_features):
            print(f"{row['agent_steps']:>11} | {row['actor_rate']:.4f} | {row['critic_rate']:.4f} | "
                  f"{row['w_v_abs_mean']:.4f} | {row['b_v']:.3f}")
        return 0
    if args.mode == "play":
        for path in args.checkpoints:
            agent, result = load_agent(path)
            print(path, f"({result['game']}, seed {result['seed']}, {result['env_steps']} env steps)")
            print(" ", play(agent, result["game"], seed=args.env_seed))
        return 0
    rows, lifetime = trace(args.checkpoint, args.until)
    if args.log:
        np.save(args.log, rows)
    print(f"{len(rows)} TD updates; last episodes {lifetime.episode_scores[-8:]} ending at env steps "
          f"{lifetime.episode_end_steps[-8:]}")
    steps, w_v_l1 = rows[:, 0], rows[:, TRACE_COLUMNS.index("w_v_l1")]
    outside = np.abs(rows[:, TRACE_COLUMNS.index("b_v")]) > args.bias_limit
    starts = np.flatnonzero(outside & ~np.concatenate([[False], outside[:-1]]))
    print(f"{starts.size} excursions of |b_v| beyond {args.bias_limit}, starting at agent steps "
          f"{steps[starts].astype(int).tolist()}")
    for block in range(int(steps[0]) // 10_000 * 10_000, int(steps[-1]) + 1, 10_000):
        inside = (steps >= block) & (steps < block + 10_000)
        if inside.any():
            print(f"  agent steps {block}-{block + 9_999}: largest ||w_v||_1 {w_v_l1[inside].max():.1f}")
    if starts.size:
        first = int(starts[0])
        print(f"first |b_v| > {args.bias_limit} at agent step {int(rows[first, 0])}; the 40 updates before it, "
              "every 4th:")
        for row in rows[max(first - 40, 0) : first + 1 : 4]:
            values = ", ".join(f"{name} {value:.3g}" for name, value in zip(TRACE_COLUMNS[1:], row[1:]))
            print(f"  agent step {int(row[0])}: {values}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
