"""The two games of the single-lifetime benchmark and how the agent sees them.

- ``flappy``: ``FlappyBird-v0`` (flappy-bird-gymnasium 0.4.0) with ``use_lidar=False``: 12 features (pipe
  positions, bird height, velocity, rotation), actions {0: nothing, 1: flap}; reward +0.1 per frame alive,
  +1 per pipe, -1 on death (-0.5 touching the top); the episode score is the number of pipes passed.
- ``pong``: ``ALE/Pong-v5`` (ale-py 0.12.1, ROMs in the wheel) with ``obs_type="ram"``: the 128 RAM bytes as
  features, the v5 defaults (frame skip 4, sticky actions 0.25); the agent chooses among NOOP, RIGHT (paddle up)
  and LEFT (paddle down) (the FIRE variants of the minimal action set duplicate them in Pong); the episode
  score is the game score, own points minus the opponent's (-21 .. 21).
- ``pong_objects``: the same Pong, seen through six numbers read from the RAM (:class:`PongObjects`): the ball's
  x and y, both paddles' y, and the ball's displacement since the previous env step.
- ``pong_relative``: ``pong_objects`` plus the ball's height above the own paddle (:class:`PongRelative`).

>>> GAMES["pong"].actions
(0, 2, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Pong RAM addresses of the AtariARI annotations (Anand et al. 2019, "Unsupervised state representation learning
# in Atari", ram_annotations.py): ball x 49, ball y 54, player (right, green) paddle y 51, enemy paddle y 50
PONG_RAM = {"ball_x": 49, "ball_y": 54, "player_y": 51, "enemy_y": 50}


class PongObjects:
    """Pong's RAM (128 bytes) -> six object features: ``[ball_x, ball_y, player_y, enemy_y, dx, dy]``.

    The positions are the RAM bytes of :data:`PONG_RAM` (AtariARI annotations); ``dx, dy`` are the ball's
    displacement since the previous observation (0 at the first observation of an episode), which a single frame
    of positions does not hold. No other game knowledge is added: the agent still has to learn that the ball's
    height relative to its paddle matters.

    >>> view = PongObjects()
    >>> ram = np.zeros(128, np.uint8); ram[[49, 54, 51, 50]] = (100, 80, 90, 70)
    >>> view.reset(ram).tolist()
    [100.0, 80.0, 90.0, 70.0, 0.0, 0.0]
    >>> ram[[49, 54]] = (96, 83)
    >>> view(ram).tolist()
    [96.0, 83.0, 90.0, 70.0, -4.0, 3.0]
    """

    n_features = 6
    _index = np.array(list(PONG_RAM.values()))

    def __init__(self) -> None:
        self._last_ball = np.zeros(2)

    def reset(self, ram: np.ndarray) -> np.ndarray:
        """Features of the first observation of an episode (zero displacement)."""
        self._last_ball = np.asarray(ram, dtype=np.float64)[self._index[:2]]
        return self(ram)

    def __call__(self, ram: np.ndarray) -> np.ndarray:
        ram = np.asarray(ram, dtype=np.float64)
        if ram.shape != (128,):
            raise ValueError(f"ram must be the 128 Pong RAM bytes, got shape {ram.shape}")
        positions = ram[self._index]
        moved = positions[:2] - self._last_ball
        self._last_ball = positions[:2]
        return np.concatenate([positions, moved])


class PongRelative(PongObjects):
    """:class:`PongObjects` plus a seventh feature, the ball's height relative to the own paddle,
    ``ball_y - player_y``: the one comparison a Pong policy needs, given instead of learned.

    >>> view = PongRelative()
    >>> ram = np.zeros(128, np.uint8); ram[[49, 54, 51, 50]] = (100, 80, 90, 70)
    >>> view.reset(ram).tolist()
    [100.0, 80.0, 90.0, 70.0, 0.0, 0.0, -10.0]
    """

    n_features = 7

    def __call__(self, ram: np.ndarray) -> np.ndarray:
        features = super().__call__(ram)
        return np.append(features, features[1] - features[2])


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
    view: type | None = None  # observation -> features (a class like PongObjects: reset(obs), __call__(obs))


def _pong(name: str, view: type[PongObjects] | None = None) -> GameSpec:
    """``ALE/Pong-v5`` on its RAM, seen through ``view`` (``None``: the 128 bytes themselves)."""
    n_features = 128 if view is None else view.n_features
    return GameSpec(name, "ALE/Pong-v5", n_features, (0, 2, 3), "reward_sum", (("obs_type", "ram"),), view)


GAMES: dict[str, GameSpec] = {
    "flappy": GameSpec("flappy", "FlappyBird-v0", 12, (0, 1), "info_score", (("use_lidar", False),)),
    "pong": _pong("pong"),
    "pong_objects": _pong("pong_objects", PongObjects),
    "pong_relative": _pong("pong_relative", PongRelative),
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
    env = gym.make(spec.env_id, **dict(spec.make_kwargs))
    return env if spec.view is None else _with_view(env, spec.view())


def _with_view(env: Any, view: Any) -> Any:
    """``env`` as a gymnasium env whose observations pass through ``view`` (its ``observation_space`` is a
    ``Box`` of ``view.n_features`` numbers, so any gymnasium consumer can use it)."""
    import gymnasium as gym

    class Viewed(gym.ObservationWrapper):
        def __init__(self) -> None:
            super().__init__(env)
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (view.n_features,), np.float64)

        def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
            obs, info = self.env.reset(**kwargs)
            return view.reset(obs), info

        def observation(self, observation: Any) -> np.ndarray:
            return view(observation)

    return Viewed()
