"""Training and accuracy curves."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from neuromorph.viz._common import new_figure, save_png


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    path: str | Path,
    xlabel: str = "epoch",
    ylabel: str = "accuracy",
    title: str = "Training curves",
    x_start: int = 1,
) -> Path:
    """Line plot of named series (e.g. ``{"SNN test": [...], "MLP test": [...]}``), x = ``x_start, ...``.

    Returns the PNG path.

    >>> import tempfile
    >>> path = plot_curves({"train": [0.5, 0.8], "test": [0.4, 0.7]}, Path(tempfile.mkdtemp()) / "curves.png")
    >>> path.suffix, path.stat().st_size > 0
    ('.png', True)
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty mapping name -> sequence of numbers")
    fig = new_figure(6.4, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for name, values in curves.items():
        arr = np.asarray(list(values), dtype=np.float64)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"curves[{name!r}] must be a non-empty 1-D sequence of numbers")
        xs = np.arange(x_start, x_start + arr.size)
        ax.plot(xs, arr, marker="o" if arr.size <= 30 else None, ms=3, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_png(fig, path)
