"""Screen agent configurations on short single lifetimes (tuning seeds only; the reported seeds are kept apart).

    python benchmarks/games_screen.py --game flappy --env-steps 250000 --seed 100 --set gamma=0.995 lam=0.9 \
        --log docs/figures/games/screening.jsonl --name gamma995

Prints the mean score of the last 100 episodes every ``--every`` env steps and appends one JSON line per run
(configuration, seed, the curve at those steps, wall time) to ``--log``. No checkpoints are written.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from neuromorph.cli.learn import GAME_DEFAULTS
from neuromorph.tasks.games import run_lifetime


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text in ("true", "false"):
        return text == "true"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", choices=sorted(GAME_DEFAULTS), default="flappy")
    parser.add_argument("--env-steps", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--set", nargs="*", default=[], help="agent config overrides, key=value")
    parser.add_argument("--every", type=int, default=50_000)
    parser.add_argument("--name", default=None)
    parser.add_argument("--log", default=None, help="JSON-lines file to append the run to")
    args = parser.parse_args(argv)
    config = dict(GAME_DEFAULTS[args.game])
    for item in args.set:
        key, _, text = item.partition("=")
        config[key] = _value(text)
    t0 = time.perf_counter()
    result = run_lifetime(args.game, args.env_steps, seed=args.seed, agent_config=config, show_progress=False)
    wall = time.perf_counter() - t0
    ends, scores = np.array(result.episode_end_steps), np.array(result.episode_scores)
    points = []
    for step in range(args.every, args.env_steps + 1, args.every):
        done = scores[ends <= step]
        points.append([step, float(done[-100:].mean()) if done.size else float("nan")])
    row = {"name": args.name, "game": args.game, "seed": args.seed, "config": config, "env_steps": result.env_steps,
           "episodes": len(scores), "curve_last100": points, "best_episode": float(scores.max(initial=0)),
           "wall_s": wall, "load_avg": os.getloadavg()[0]}
    print(json.dumps({k: row[k] for k in ("name", "seed", "episodes", "curve_last100", "best_episode", "wall_s",
                                          "load_avg")}))
    if args.log:
        os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
        with open(args.log, "a") as f:
            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
