"""Learning curves of a lifetime: the mean score of the last ``window`` episodes against env steps.

``curve(scores, end_steps, window)`` returns, for every episode ``i >= 1``, the env steps done when it ended
and ``mean(scores[max(0, i - window + 1) : i + 1])``.

>>> curve([0, 2, 4], [10, 20, 30], window=2)
{'env_steps': [10, 20, 30], 'mean_score': [0.0, 1.0, 3.0], 'window': 2}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib import colormaps

from neuromorph.utils import check_positive_int
from neuromorph.viz._common import new_figure, save_png

LEGEND_INSIDE_MAX = 6  # legend entries that fit inside the axes without hiding the curves


def curve(scores: Sequence[float], end_steps: Sequence[int], window: int = 100) -> dict:
    """Moving mean of the episode scores over ``window`` episodes, indexed by env steps (module docstring)."""
    check_positive_int("window", window)
    if len(scores) != len(end_steps):
        raise ValueError(f"scores and end_steps must have the same length, got {len(scores)} and {len(end_steps)}")
    arr = np.asarray(scores, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError("scores must be finite")
    csum = np.concatenate([[0.0], np.cumsum(arr)])
    idx = np.arange(arr.size)
    lo = np.maximum(0, idx - window + 1)
    means = (csum[idx + 1] - csum[lo]) / (idx + 1 - lo)
    return {"env_steps": [int(s) for s in end_steps], "mean_score": [float(m) for m in means], "window": window}


def plot_learning_curve(
    curves: dict[str, dict],
    path: str | Path,
    random_level: float | None,
    title: str,
    ylabel: str = "score (mean of last 100 episodes)",
) -> Path:
    """PNG of one or more :func:`curve` results (name -> curve) with the random-policy level as a dashed line.

    With more than ``LEGEND_INSIDE_MAX`` legend entries the legend goes below the axes (the figure grows to fit), so
    it never hides the curves; with more than 10 curves the colours come from the 20-colour ``tab20`` map.
    """
    if not curves:
        raise ValueError("curves must be a non-empty mapping name -> curve")
    drawn = [(i, name, c) for i, (name, c) in enumerate(curves.items()) if c["env_steps"]]
    entries = len(drawn) + (random_level is not None)  # what the legend lists
    below = entries > LEGEND_INSIDE_MAX
    fig = new_figure(7.0, 4.2 + (0.22 * entries if below else 0.0))
    ax = fig.add_subplot(1, 1, 1)
    palette = colormaps["tab20"] if len(curves) > 10 else None  # a ListedColormap: an int picks one of its 20
    for i, name, c in drawn:
        color = None if palette is None else palette(i % palette.N)
        ax.plot(c["env_steps"], c["mean_score"], label=name, color=color)
    if not drawn:
        ax.text(0.5, 0.5, "no episode finished yet", ha="center", va="center", transform=ax.transAxes)
    if random_level is not None:
        ax.axhline(random_level, color="grey", ls="--", label=f"random policy ({random_level:.2f})")
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if below:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize="small", frameon=False)
    elif entries:
        ax.legend(loc="best")
    return save_png(fig, path)


def save_run(
    result: Any,
    out: str,
    json_path: str,
    label: str,
    random_level: float | None,
    random_episodes: int,
    curve_fields: dict[str, Any],
) -> str:
    """Write what every game run leaves behind, and print its summary line: ``json_path`` (the result's
    ``to_json()`` plus ``random_level``), ``OUT/curve.json`` (the :func:`curve` of the last 100 episodes plus
    ``curve_fields``) and ``OUT/curve.png``; returns the PNG's path.

    >>> import tempfile
    >>> from neuromorph.tasks.games.lifetime import LifetimeResult
    >>> run = LifetimeResult("flappy", 0, "random", env_steps=20, episode_scores=[0.0], episode_end_steps=[20])
    >>> with tempfile.TemporaryDirectory() as out:
    ...     png = save_run(run, out, out + "/r.json", "random policy", 0.0, 1, {"game": "flappy"})
    ...     sorted(os.listdir(out))  # doctest: +ELLIPSIS
    flappy random policy seed 0: 20 env steps, 1 episodes, mean of last 100 0.00 (random 0.0); ...
    ['curve.json', 'curve.png', 'r.json']
    """
    data = result.to_json()
    data["random_level"] = {"mean_score": random_level, "episodes": random_episodes}
    os.makedirs(out, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    with open(json_path, "w") as f:
        json.dump(data, f)
    c = curve(result.episode_scores, result.episode_end_steps, window=100)
    c.update({**curve_fields, "seed": result.seed, "random_level": random_level})
    curve_path = os.path.join(out, "curve.json")
    with open(curve_path, "w") as f:
        json.dump(c, f)
    png = plot_learning_curve(
        {label: c}, os.path.join(out, "curve.png"), random_level, title=f"{result.game}: {label}, seed {result.seed}"
    )
    s = result.summary()
    print(
        f"{result.game} {label} seed {result.seed}: {result.env_steps} env steps, {s['episodes']} episodes, "
        f"mean of last 100 {s['mean_last_100']:.2f} (random {random_level}); {result.wall_s:.0f}s, "
        f"{s['steps_per_s']:.0f} steps/s (agent alone {s['agent_steps_per_s']:.0f}, env alone "
        f"{s['env_steps_per_s']:.0f}); peak RSS {s['peak_rss_mb']:.0f} MiB, growth from 100k "
        f"{100 * s['rss_growth_from_100k']:.2f}%"
    )
    print(f"wrote {json_path}, {png}, {curve_path}")
    return str(png)
