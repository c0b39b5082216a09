"""The two games of the single-lifetime benchmark and how the agent sees them.

- ``flappy``: ``FlappyBird-v0`` (flappy-bird-gymnasium 0.4.0) with ``use_lidar=False``: 12 features (pipe
  positions, bird height, velocity, rotation), actions {0: nothing, 1: flap}; reward +0.1 per frame alive,
  +1 per pipe, -1 on death (-0.5 touching the top); the episode score is the number of pipes passed.
- ``pong``: ``ALE/Pong-v5`` (ale-py 0.12.1, ROMs in the wheel) with ``obs_type="ram"``: the 128 RAM bytes as
  features, the v5 defaults (frame skip 4, sticky actions 0.25); the agent chooses among NOOP, RIGHT (paddle up)
  and LEFT (paddle down) (the FIRE variants of the minimal action set duplicate them in Pong); the episode
  score is the game score, own points minus the opponent's (-21 .. 21).

>>> GAMES["pong"].actions
(0, 2, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GameSpec:
    """How one game is made and scored. ``actions[i]`` is the env action of agent action ``i``.

    >>> spec = GAMES["flappy"]
    >>> spec.env_id, spec.n_features, spec.actions
    ('FlappyBird-v0', 12, (0, 1))
    """

    name: str
    env_id: str
    n_features: int
    actions: tuple[int, ...]
    score: str  # "info_score": info["score"] at the end; "reward_sum": sum of rewards
    make_kwargs: tuple[tuple[str, Any], ...] = ()


GAMES: dict[str, GameSpec] = {
    "flappy": GameSpec("flappy", "FlappyBird-v0", 12, (0, 1), "info_score", (("use_lidar", False),)),
    "pong": GameSpec("pong", "ALE/Pong-v5", 128, (0, 2, 3), "reward_sum", (("obs_type", "ram"),)),
}


def game_spec(name: str) -> GameSpec:
    if name not in GAMES:
        raise ValueError(f"game must be one of {sorted(GAMES)}, got {name!r}")
    return GAMES[name]


def make_env(name: str) -> Any:
    """A gymnasium env of game ``name``; raises an ImportError naming the ``rl`` extra if it is missing.

    >>> env = make_env("flappy")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape == (GAMES["flappy"].n_features,)
    True
    >>> env.close()
    """
    spec = game_spec(name)
    try:
        import gymnasium as gym

        if name == "flappy":
            import flappy_bird_gymnasium  # noqa: F401  (registers FlappyBird-v0)
        else:
            import ale_py

            gym.register_envs(ale_py)
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise ImportError(f"game {name!r} needs the rl extra: pip install 'neuromorph[rl]' ({err})") from err
    return gym.make(spec.env_id, **dict(spec.make_kwargs))
