"""Collate single-lifetime game runs (the ``--json`` files of ``neuromorph learn flappy|pong``) into the
baseline table and one learning-curve PNG per game.

    python benchmarks/games_baselines.py runs/flappy_*/result.json --out docs/figures/games
    # plus the mean of the last 100 episodes ended by 250k, 500k, ... env steps, one row per run:
    python benchmarks/games_baselines.py runs/flappy_*/result.json --at 250000 500000 750000 1000000

The runs of ``benchmarks/games_reference.py`` (Stable-Baselines3 PPO/DQN) have the same JSON keys and are
collated the same way; their "agent steps/s" counts everything but the env (acting, training, bookkeeping).
Every run in a table must have the same env-step budget; the table reports the mean score of the last 100
episodes at that budget, wall time, steps/s (overall, agent alone, env alone, all measured in the same run, so
their ratios are robust to machine load), peak RSS and RSS growth from the 100k-step sample on.
An agent's name gives its unit, width and sim steps, and every other setting whose value differs between the
collated runs (for example ``kappa_actor 1.0``), so that no two lifetimes of one seed share a curve.
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
from collections import defaultdict

from neuromorph.learning.agents import AgentConfig
from neuromorph.tasks.games.curves import curve, plot_learning_curve


_IN_EVERY_LABEL = ("unit", "hidden", "sim_steps")


def _is_agent(run: dict) -> bool:
    return run["policy"] != "random" and "library" not in run["config"]


def varying_settings(runs: list[dict]) -> tuple[str, ...]:
    """Agent settings (besides unit, width and sim steps, always shown) whose values differ between ``runs``.

    Runs whose config lacks a setting (result files written before it existed) do not count for it.

    >>> varying_settings([{"policy": "agent", "config": {"unit": "lif", "lam": 0.9, "gamma": 0.99}},
    ...                   {"policy": "agent", "config": {"unit": "lif", "lam": 0.8, "gamma": 0.99}}])
    ('lam',)
    """
    agents = [r for r in runs if _is_agent(r)]
    keys = sorted({key for r in agents for key in r["config"]} - set(_IN_EVERY_LABEL))
    return tuple(key for key in keys if len({json.dumps(r["config"][key]) for r in agents if key in r["config"]}) > 1)


def _label(run: dict, shown: tuple[str, ...] = ()) -> str:
    """The run's name in tables and curve legends; ``shown``: further settings to name (see ``varying_settings``)."""
    if run["policy"] == "random":
        return "random policy"
    if "library" in run["config"]:  # a reference run of benchmarks/games_reference.py
        arch = run["config"].get("net_arch", "?")
        layers = arch.get("pi", "?") if isinstance(arch, dict) else arch
        return f"{run['policy']}, MLP {'x'.join(str(n) for n in layers)} (SB3 defaults)"
    unit = run["config"].get("unit", "?")
    sim = run["config"].get("sim_steps")  # runs with different sim steps must not share a curve's label
    sim_text = "" if sim is None else f", {sim} sim step{'s' if sim != 1 else ''}"
    extra = "".join(f", {key} {run['config'][key]}" for key in shown if key in run["config"])
    populations = "" if run["config"].get("critic_features") == "shared" else "x2"  # actor's alone, or both
    width = f"{run['config']['hidden']}{populations}"
    return f"{'spiking LIF' if unit == 'lif' else unit} agent (H={width}{sim_text}{extra})"


def _mean_last_by(run: dict, step: int, window: int = 100) -> str:
    """Mean score of the last ``window`` episodes that ended by env step ``step`` ("-" past the run's budget)."""
    if step > run["env_steps"]:
        return "-"
    c = curve(run["episode_scores"], run["episode_end_steps"], window)
    ended = bisect.bisect_right(c["env_steps"], step)
    return f"{c['mean_score'][ended - 1]:.2f}" if ended else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", help="result JSON files")
    parser.add_argument("--out", default="docs/figures/games", help="folder for the PNGs and table.md")
    parser.add_argument("--at", type=int, nargs="*", default=[],
                        help="also tabulate the mean of the last 100 episodes ended by these env steps")
    args = parser.parse_args(argv)
    if any(step < 1 for step in args.at):
        parser.error(f"--at takes positive env-step counts, got {args.at}")
    by_game: dict[str, list[dict]] = defaultdict(list)
    for path in args.results:
        with open(path) as f:
            run = json.load(f)
        run["_path"] = path
        if _is_agent(run):  # a result file written before a setting existed ran with its default
            run["config"] = AgentConfig.with_defaults(run["config"])
        by_game[run["game"]].append(run)
    os.makedirs(args.out, exist_ok=True)
    lines = []
    for game, runs in sorted(by_game.items()):
        budgets = {r["env_steps"] for r in runs}
        lines += [f"### {game} (budget {', '.join(str(b) for b in sorted(budgets))} env steps)", "",
                  "| policy | seed | episodes | mean score, last 100 | wall s | steps/s | agent steps/s | "
                  "env steps/s | peak RSS MiB | RSS growth from 100k |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        curves, random_level = {}, None
        shown = varying_settings(runs)
        for r in runs:
            r["_label"] = _label(r, shown)
        for r in sorted(runs, key=lambda r: (r["policy"] != "random", r["_label"])):
            s = r["summary"]
            agent_sps = "-" if r["policy"] == "random" else f"{s['agent_steps_per_s']:.0f}"
            growth = s["rss_growth_from_100k"]
            lines.append(f"| {r['_label']} | {r['seed']} | {s['episodes']} | {s['mean_last_100']:.2f} | "
                         f"{r['wall_s']:.0f} | {s['steps_per_s']:.0f} | {agent_sps} | {s['env_steps_per_s']:.0f} | "
                         f"{s['peak_rss_mb']:.0f} | {'n/a' if growth != growth else f'{100 * growth:.2f} %'} |")
            name = f"{r['_label']}, seed {r['seed']}"
            if name in curves:  # the PNG keys curves by name: a second run would silently replace the first
                raise ValueError(f"two {game} runs share the curve name {name!r} (one is {r['_path']}); "
                                 "collate runs that differ in their settings or seed, or plot them apart")
            curves[name] = curve(r["episode_scores"], r["episode_end_steps"], 100)
            if r.get("random_level", {}).get("mean_score") is not None:
                random_level = r["random_level"]["mean_score"]
        lines.append("")
        if args.at:
            lines += ["| policy | seed | " + " | ".join(f"{step} steps" for step in args.at) + " |",
                      "|---|---|" + "---|" * len(args.at)]
            for r in sorted(runs, key=lambda r: (r["policy"] != "random", r["_label"], r["seed"])):
                cells = [_mean_last_by(r, step) for step in args.at]
                lines.append(f"| {r['_label']} | {r['seed']} | " + " | ".join(cells) + " |")
            lines.append("")
        png = plot_learning_curve(curves, os.path.join(args.out, f"{game}_curves.png"), random_level,
                                  title=f"{game}: one lifetime per curve")
        print(f"wrote {png}")
    table = "\n".join(lines)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
