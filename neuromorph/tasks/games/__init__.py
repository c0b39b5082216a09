"""Single-lifetime learning in games (Flappy Bird, Pong): environments, the lifetime loop with atomic
checkpoints, baselines and learning curves. See ``docs/games.md``."""

from neuromorph.tasks.games.envs import GAMES, GameSpec, make_env
from neuromorph.tasks.games.lifetime import LifetimeResult, random_policy_scores, run_lifetime

__all__ = ["GAMES", "GameSpec", "make_env", "LifetimeResult", "random_policy_scores", "run_lifetime"]
