"""One agent, one continuous lifetime in one game, with atomic checkpoints and an exact resume.

The loop: ``begin_episode``; ``a = agent.act(obs)``; then for every env step ``obs, r = env.step(a)`` and either
``a = agent.act(obs, r)`` or, at the end of the episode, ``agent.end_episode(r, terminated, obs)``. Episode ``e``
starts with ``env.reset(seed=seed * 1_000_003 + e)``, so the lifetime is a deterministic function of the seed.

**Checkpoints** are written at the first episode boundary after every ``checkpoint_every`` env steps: the agent's
weights, running statistics and RNG state, the counters, the episode scores and the RSS
samples. Between episodes the agent holds no neuron state or traces, so resuming from a checkpoint continues the
lifetime exactly (bit for bit) as if it had never stopped; only the steps after the last checkpoint are redone.
``wall_s`` is the wall time of the lifetime that the result contains (redone steps count once).

**Memory**: the resident set size is sampled at the first step and every ``rss_every`` env steps;
``peak_rss_mb`` is the process's peak (``ru_maxrss``).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
from threadpoolctl import threadpool_limits

from neuromorph.learning.agents import AgentConfig, StreamingActorCritic
from neuromorph.tasks.games.checkpoint import load_checkpoint, save_checkpoint
from neuromorph.tasks.games.envs import game_spec, make_env
from neuromorph.utils import check_non_negative_int, check_positive_int, progress

EPISODE_SEED_STRIDE = 1_000_003


def episode_seed(seed: int, episode: int) -> int:
    """The ``env.reset`` seed of episode ``episode`` of the lifetime ``seed``: ``seed * 1_000_003 + episode``.

    >>> episode_seed(2, 5)
    2000011
    """
    return seed * EPISODE_SEED_STRIDE + episode


def rss_mb() -> float:
    """Resident set size of this process in MiB (``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class LifetimeResult:
    """What a lifetime produced (the ``--json`` file of ``neuromorph learn flappy|pong``).

    >>> result = run_lifetime("flappy", env_steps=60, seed=0, policy="random", show_progress=False)
    >>> result.env_steps, result.policy, len(result.episode_scores) == len(result.episode_end_steps)
    (60, 'random', True)
    """

    game: str
    seed: int
    policy: str
    env_steps: int = 0
    episode_scores: list[float] = field(default_factory=list)
    episode_end_steps: list[int] = field(default_factory=list)  # env steps done when each episode ended
    wall_s: float = 0.0
    agent_s: float = 0.0  # time inside the agent (act / end_episode)
    env_s: float = 0.0  # time inside env.step / env.reset
    rss_mb: list[list[float]] = field(default_factory=list)  # [env_steps, MiB] samples
    peak_rss_mb: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)
    resumed_from: list[int] = field(default_factory=list)  # env steps of the checkpoints resumed from

    def last_mean(self, n: int = 100) -> float:
        """Mean score of the last ``n`` episodes (NaN without episodes)."""
        return float(np.mean(self.episode_scores[-n:])) if self.episode_scores else float("nan")

    def summary(self) -> dict[str, Any]:
        steps = max(self.env_steps, 1)
        samples = [mb for s, mb in self.rss_mb if s >= 100_000]
        growth = (max(samples) / samples[0] - 1.0) if len(samples) >= 2 else float("nan")
        return {
            "episodes": len(self.episode_scores),
            "mean_last_100": self.last_mean(100),
            "steps_per_s": steps / max(self.wall_s, 1e-9),
            "agent_steps_per_s": steps / max(self.agent_s, 1e-9),
            "env_steps_per_s": steps / max(self.env_s, 1e-9),
            "rss_growth_from_100k": growth,
            "peak_rss_mb": self.peak_rss_mb,
        }

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["summary"] = self.summary()
        return out


def _episode_score(kind: str, info: dict, reward_sum: float) -> float:
    return float(info["score"]) if kind == "info_score" else float(reward_sum)


def random_policy_scores(game: str, episodes: int, seed: int = 0) -> list[float]:
    """Scores of a uniformly random policy over the agent's actions, ``episodes`` episodes.

    >>> scores = random_policy_scores("flappy", episodes=2, seed=0)
    >>> len(scores), all(s >= 0 for s in scores)
    (2, True)
    """
    check_positive_int("episodes", episodes)
    spec = game_spec(game)
    env = make_env(game)
    rng = np.random.default_rng(seed)
    scores = []
    for episode in range(episodes):
        env.reset(seed=episode_seed(seed, episode))
        total, done, info = 0.0, False, {}
        while not done:
            _, reward, terminated, truncated, info = env.step(spec.actions[rng.integers(len(spec.actions))])
            total += float(reward)
            done = terminated or truncated
        scores.append(_episode_score(spec.score, info, total))
    env.close()
    return scores


class _Random:
    """Uniform random policy with the agent's interface (for the random baseline on the same loop)."""

    def __init__(self, n_actions: int, seed: int) -> None:
        self.n_actions, self.rng, self.steps = n_actions, np.random.default_rng(seed), 0

    def begin_episode(self) -> None:
        pass

    def act(self, obs: Any, reward: float | None = None) -> int:
        self.steps += 1
        return int(self.rng.integers(self.n_actions))

    def end_episode(self, reward: float, terminated: bool = True, last_obs: Any = None) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {"steps": np.array(self.steps), "rng": self.rng.bit_generator.state, "config": {}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.rng.bit_generator.state = state["rng"]


def _save(path: str, agent: Any, result: LifetimeResult, episode: int) -> None:
    state = agent.state_dict()
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    meta = {
        "agent": {k: v for k, v in state.items() if not isinstance(v, np.ndarray)},
        "result": asdict(result),
        "episode": episode,
    }
    save_checkpoint(path, arrays, meta)


def run_lifetime(
    game: str,
    env_steps: int,
    seed: int = 0,
    policy: str = "agent",
    checkpoint: str | None = None,
    resume: bool = False,
    checkpoint_every: int = 50_000,
    rss_every: int = 100_000,
    agent_config: dict[str, Any] | None = None,
    show_progress: bool | None = None,
    on_checkpoint: Callable[[int], None] | None = None,
) -> LifetimeResult:
    """Run one lifetime of ``env_steps`` env steps of ``game`` (module docstring).

    Args:
        policy: ``"agent"`` (:class:`~neuromorph.learning.agents.StreamingActorCritic` with ``agent_config``,
            e.g. ``{"unit": "tanh"}``) or ``"random"``.
        checkpoint: path of the checkpoint file (``None``: no checkpoints).
        resume: continue from ``checkpoint`` if it exists (a fresh lifetime otherwise).
        on_checkpoint: called with the env step count after each checkpoint is written (tests use it to kill
            the run).

    >>> result = run_lifetime("flappy", env_steps=100, seed=0, agent_config={"hidden": 8}, show_progress=False)
    >>> result.env_steps, result.game, len(result.episode_scores) >= 1
    (100, 'flappy', True)
    """
    check_positive_int("env_steps", env_steps)
    check_positive_int("checkpoint_every", checkpoint_every)
    check_positive_int("rss_every", rss_every)
    check_non_negative_int("seed", seed)
    if policy not in ("agent", "random"):
        raise ValueError(f"policy must be 'agent' or 'random', got {policy!r}")
    if resume and checkpoint is None:
        raise ValueError("resume needs a checkpoint path")
    spec = game_spec(game)
    n_actions = len(spec.actions)
    config = dict(agent_config or {})
    if policy == "agent":
        agent: Any = StreamingActorCritic(spec.n_features, n_actions, seed=seed, **config)
        config = asdict(agent.config)
    else:
        agent = _Random(n_actions, seed)
    result = LifetimeResult(game=game, seed=seed, policy=policy, config=config)
    episode = 0
    if resume and os.path.isfile(checkpoint):  # type: ignore[arg-type]
        arrays, meta = load_checkpoint(checkpoint)  # type: ignore[arg-type]
        saved = meta["result"]
        if policy == "agent":
            saved["config"] = AgentConfig.with_defaults(saved["config"])
        if (saved["game"], saved["seed"], saved["policy"], saved["config"]) != (game, seed, policy, config):
            raise ValueError(
                f"checkpoint {checkpoint} belongs to another run (game, seed, policy, config = "
                f"{saved['game']}, {saved['seed']}, {saved['policy']}, {saved['config']})"
            )
        agent.load_state_dict({**arrays, **meta["agent"]})
        result = LifetimeResult(**saved)
        result.resumed_from.append(result.env_steps)
        episode = int(meta["episode"])
    if result.env_steps >= env_steps:
        return result

    with threadpool_limits(1):  # batch-1 BLAS calls: threads only add synchronisation
        return _run(
            game,
            spec,
            agent,
            result,
            env_steps,
            seed,
            episode,
            checkpoint,
            checkpoint_every,
            rss_every,
            show_progress,
            on_checkpoint,
        )


def _run(
    game: str,
    spec: Any,
    agent: Any,
    result: LifetimeResult,
    env_steps: int,
    seed: int,
    episode: int,
    checkpoint: str | None,
    checkpoint_every: int,
    rss_every: int,
    show_progress: bool | None,
    on_checkpoint: Callable[[int], None] | None,
) -> LifetimeResult:
    env = make_env(game)
    start_steps, wall0 = result.env_steps, time.perf_counter() - result.wall_s
    next_checkpoint = (start_steps // checkpoint_every + 1) * checkpoint_every
    clock = time.perf_counter
    ticker = progress(
        range(start_steps, env_steps),
        desc=f"{game} lifetime",
        total=env_steps - start_steps,
        enable=show_progress,
        unit="step",
        mininterval=1.0,
    )
    steps = start_steps

    def start_episode(index: int) -> tuple[int, float, float]:
        """Reset the env for episode ``index`` and take the first action: ``(action, env s, agent s)``."""
        t0 = clock()
        first_obs, _ = env.reset(seed=episode_seed(seed, index))
        t1 = clock()
        agent.begin_episode()
        first_action = agent.act(first_obs)
        return first_action, t1 - t0, clock() - t1

    # time and reward of the lifetime past the last checkpoint (committed to result at episode ends)
    action, env_s, agent_s = start_episode(episode)
    reward_sum = 0.0
    if not result.rss_mb:
        result.rss_mb.append([float(steps), rss_mb()])
    for _ in ticker:
        t0 = clock()
        obs, reward, terminated, truncated, info = env.step(spec.actions[action])
        t1 = clock()
        steps += 1
        reward_sum += float(reward)
        env_s += t1 - t0
        if steps % rss_every == 0:
            result.rss_mb.append([float(steps), rss_mb()])
            result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb())
        if terminated or truncated:
            agent.end_episode(float(reward), terminated=bool(terminated), last_obs=obs)
            t2 = clock()
            agent_s += t2 - t1
            episode += 1
            result.episode_scores.append(_episode_score(spec.score, info, reward_sum))
            result.episode_end_steps.append(steps)
            result.env_steps, result.env_s, result.agent_s = steps, result.env_s + env_s, result.agent_s + agent_s
            result.wall_s = clock() - wall0
            env_s = agent_s = reward_sum = 0.0
            if checkpoint is not None and steps >= next_checkpoint:
                result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb())
                _save(checkpoint, agent, result, episode)
                next_checkpoint = (steps // checkpoint_every + 1) * checkpoint_every
                if on_checkpoint is not None:
                    on_checkpoint(steps)
            if steps >= env_steps:
                break
            action, env_s, agent_s = start_episode(episode)
        else:
            action = agent.act(obs, float(reward))
            agent_s += clock() - t1
    env.close()
    # the unfinished last episode: its steps count, its learning is kept in memory but not in the checkpoint
    result.env_steps, result.env_s, result.agent_s = steps, result.env_s + env_s, result.agent_s + agent_s
    result.wall_s = clock() - wall0
    result.peak_rss_mb = max(result.peak_rss_mb, peak_rss_mb())
    return result
