"""Standard non-spiking RL reference for the single-lifetime games: Stable-Baselines3 PPO (or DQN) with the
library's default hyper-parameters, on the env the spiking agent sees, for the same env-step budget.

    pip install "neuromorph[reference]"        # stable-baselines3 on the installed torch
    OMP_NUM_THREADS=1 python benchmarks/games_reference.py --game flappy --algo ppo --env-steps 1000000 \\
        --seed 0 --out runs/flappy_ppo_s0

This is a reference, not a tuned competitor: ``MlpPolicy`` with the SB3 defaults (PPO: 2048-step rollouts,
10 epochs of minibatches of 64, Adam 3e-4, gamma 0.99, GAE lambda 0.95, clip 0.2, two hidden layers of 64 tanh
units for the actor and the critic; DQN: replay buffer of 1M transitions, batch 32, one update every 4 steps,
target network every 10k steps, epsilon 1 -> 0.05 over the first 10 % of the budget), one env, no tuning.
It is **not** single-lifetime learning in the sense of ``neuromorph learn``: PPO learns from batches of 2048
steps and revisits each of them 10 times, DQN replays stored transitions; it is the field's standard
reference at the same env-step budget.

What is the same as ``neuromorph learn flappy|pong`` (:func:`neuromorph.tasks.games.run_lifetime`): the env
(:func:`~neuromorph.tasks.games.envs.make_env`), the agent's action set (``GAMES[game].actions``, exposed as
``Discrete(len(actions))``), the episode seeding (episode ``e`` starts with ``env.reset(seed=seed * 1_000_003 +
e)``), the episode score (Flappy Bird: ``info["score"]`` at the episode end; Pong: the sum of rewards), the
budget (exactly ``--env-steps`` env steps: training stops at that step, mid-rollout if need be; the unfinished
last episode counts its steps but has no score), the RSS samples (step 0 and every 100k steps) and the JSON
keys of :class:`~neuromorph.tasks.games.lifetime.LifetimeResult`. ``env_s`` is the time inside ``env.step`` /
``env.reset``; ``agent_s`` is the rest of the wall time (acting, training, SB3's bookkeeping). Pong's RAM bytes
are divided by 255 (the MLP gets inputs in [0, 1]; SB3 does not scale non-image observations itself).

``python benchmarks/games_baselines.py OUT/result.json ...`` collates the result with the lifetimes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

from neuromorph.cli._args import non_negative_int, positive_int
from neuromorph.tasks.games.curves import save_run
from neuromorph.tasks.games.envs import game_spec, make_env
from neuromorph.tasks.games.lifetime import (
    LifetimeResult,
    _episode_score,
    episode_seed,
    peak_rss_mb,
    random_policy_scores,
    rss_mb,
)
from neuromorph.utils import check_non_negative_int, check_positive_int, progress

ALGOS = ("ppo", "dqn")


def _recording_env(game: str, seed: int, result: LifetimeResult, rss_every: int) -> Any:
    """``make_env(game)`` wrapped so that SB3 sees the agent's action set and the lifetime's episode seeding,
    and every step is recorded into ``result`` (scores, episode end steps, env time, RSS samples)."""
    import gymnasium as gym

    spec = game_spec(game)
    clock = time.perf_counter
    lifetime_seed = seed  # reset() below takes SB3's own ``seed`` argument, which the lifetime's seeding overrides

    class LifetimeRecorder(gym.Wrapper):
        def __init__(self, env: Any) -> None:
            super().__init__(env)
            self.action_space = gym.spaces.Discrete(len(spec.actions))
            space = env.observation_space
            self.scale_bytes = space.dtype == np.uint8
            if self.scale_bytes:
                self.observation_space = gym.spaces.Box(0.0, 1.0, space.shape, np.float32)
            self.episode, self.reward_sum = 0, 0.0

        def _obs(self, obs: Any) -> Any:
            return obs.astype(np.float32) / 255.0 if self.scale_bytes else obs

        def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
            # the SB3 vec env passes its own seed (or none) here; the lifetime's seeding wins
            t0 = clock()
            obs, info = self.env.reset(seed=episode_seed(lifetime_seed, self.episode), options=options)
            result.env_s += clock() - t0
            self.reward_sum = 0.0
            if not result.rss_mb:
                result.rss_mb.append([0.0, rss_mb()])
            return self._obs(obs), info

        def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
            t0 = clock()
            obs, reward, terminated, truncated, info = self.env.step(spec.actions[int(action)])
            result.env_s += clock() - t0
            result.env_steps += 1
            self.reward_sum += float(reward)
            if result.env_steps % rss_every == 0:
                result.rss_mb.append([float(result.env_steps), rss_mb()])
                result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb())
            if terminated or truncated:
                result.episode_scores.append(_episode_score(spec.score, info, self.reward_sum))
                result.episode_end_steps.append(result.env_steps)
                self.episode += 1
            return self._obs(obs), reward, terminated, truncated, info

    return LifetimeRecorder(make_env(game))


def _hyper_parameters(model: Any, algo: str) -> dict[str, Any]:
    """The SB3 settings the run used, read back from the model (all library defaults)."""
    names = {
        "ppo": ("n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm"),
        "dqn": (
            "buffer_size",
            "learning_starts",
            "batch_size",
            "tau",
            "gamma",
            "train_freq",
            "gradient_steps",
            "target_update_interval",
            "exploration_fraction",
            "exploration_initial_eps",
            "exploration_final_eps",
            "max_grad_norm",
        ),
    }[algo]
    config: dict[str, Any] = {}
    for name in names:
        value = getattr(model, name)
        if hasattr(value, "frequency"):  # DQN's TrainFreq(frequency, unit)
            value = [value.frequency, value.unit.value]
        config[name] = list(value) if isinstance(value, tuple) else value
    if algo == "ppo":
        config["clip_range"] = float(model.clip_range(1.0))
    config["learning_rate"] = float(model.lr_schedule(1.0))
    policy = model.policy
    config["net_arch"] = policy.net_arch if isinstance(policy.net_arch, list) else dict(policy.net_arch)
    config["activation_fn"] = policy.activation_fn.__name__
    config["optimizer"] = type(policy.optimizer).__name__
    return json.loads(json.dumps(config, default=str))


def run_reference(
    game: str,
    env_steps: int,
    seed: int = 0,
    algo: str = "ppo",
    rss_every: int = 100_000,
    show_progress: bool | None = None,
) -> LifetimeResult:
    """Train SB3 ``algo`` with its default hyper-parameters for exactly ``env_steps`` env steps of ``game``.

    >>> result = run_reference("flappy", env_steps=300, seed=0, show_progress=False)  # doctest: +SKIP
    >>> result.env_steps, result.policy  # doctest: +SKIP
    (300, 'ppo (stable-baselines3)')
    """
    check_positive_int("env_steps", env_steps)
    check_positive_int("rss_every", rss_every)
    check_non_negative_int("seed", seed)
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {ALGOS}, got {algo!r}")
    game_spec(game)
    try:
        import stable_baselines3
        import torch
        from stable_baselines3 import DQN, PPO
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.vec_env import DummyVecEnv
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError(f"the reference needs: pip install 'neuromorph[reference]' ({err})") from err

    torch.set_num_threads(1)  # one env, small MLP: threads only add synchronisation on the shared machine
    result = LifetimeResult(game=game, seed=seed, policy=f"{algo} (stable-baselines3)")
    env = DummyVecEnv([lambda: _recording_env(game, seed, result, rss_every)])
    model = (PPO if algo == "ppo" else DQN)("MlpPolicy", env, seed=seed, verbose=0, device="cpu")
    result.config = {
        "unit": "mlp",
        "algo": algo,
        "library": f"stable-baselines3 {stable_baselines3.__version__}",
        "policy": "MlpPolicy",
        "hyper_parameters": "SB3 defaults, untuned",
        **_hyper_parameters(model, algo),
    }
    ticker = iter(progress(range(env_steps), desc=f"{game} {algo}", enable=show_progress, unit="step", mininterval=1))

    class StopAtBudget(BaseCallback):
        """Stops training after exactly ``env_steps`` env steps (SB3 checks after every env step)."""

        def _on_step(self) -> bool:
            next(ticker, None)
            return result.env_steps < env_steps

    wall0 = time.perf_counter()
    model.learn(total_timesteps=env_steps + 10 * getattr(model, "n_steps", 1), callback=StopAtBudget())
    result.wall_s = time.perf_counter() - wall0
    result.agent_s = result.wall_s - result.env_s
    result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb())
    env.close()
    if result.env_steps != env_steps:  # pragma: no cover - a change in SB3's loop would show here
        raise RuntimeError(f"SB3 ran {result.env_steps} env steps, {env_steps} were asked for")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", choices=("flappy", "pong"), default="flappy")
    parser.add_argument("--algo", choices=ALGOS, default="ppo")
    parser.add_argument("--env-steps", type=positive_int, default=None, help="default 1M (flappy), 3M (pong)")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--out", default=None, help="folder for result.json, curve.json, curve.png")
    parser.add_argument("--json", default=None, help="result JSON (default OUT/result.json)")
    parser.add_argument(
        "--random-episodes",
        type=non_negative_int,
        default=None,
        help="random-policy episodes for the reference line (default 100 flappy, 10 pong; 0: none)",
    )
    parser.add_argument("--progress", action="store_true", help="force the progress bar")
    args = parser.parse_args(argv)
    env_steps = args.env_steps or (1_000_000 if args.game == "flappy" else 3_000_000)
    random_episodes = args.random_episodes
    if random_episodes is None:
        random_episodes = 100 if args.game == "flappy" else 10
    out = args.out or os.path.join("runs", f"{args.game}_{args.algo}_s{args.seed}")
    json_path = args.json or os.path.join(out, "result.json")

    result = run_reference(args.game, env_steps, args.seed, args.algo, show_progress=True if args.progress else None)
    random_level = None
    if random_episodes:
        scores = random_policy_scores(args.game, random_episodes, seed=10_000 + args.seed)
        random_level = float(np.mean(scores))
    save_run(result, out, json_path, result.policy, random_level, random_episodes,
             {"game": args.game, "policy": result.policy})
    return 0


if __name__ == "__main__":
    sys.exit(main())
