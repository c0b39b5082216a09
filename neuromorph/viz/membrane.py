"""Membrane potential traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neuromorph.viz._common import new_figure, save_png, to_numpy


def plot_membrane(
    v: torch.Tensor | np.ndarray,
    path: str | Path,
    threshold: float | None = None,
    spikes: torch.Tensor | np.ndarray | None = None,
    neurons: int = 4,
    title: str = "Membrane potential",
) -> Path:
    """Traces of ``v [T, N]`` for the first ``neurons`` neurons, one panel each.

    ``threshold`` draws a dashed line; ``spikes [T, N]`` marks spike times with ticks above the trace.
    Returns the PNG path.

    >>> import tempfile
    >>> path = plot_membrane(torch.rand(10, 2), Path(tempfile.mkdtemp()) / "v.png", threshold=1.0, neurons=2)
    >>> path.is_file()
    True
    """
    arr = to_numpy("v", v, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr[:, None]
    if neurons < 1:
        raise ValueError(f"neurons must be a positive int, got {neurons}")
    spk = None
    if spikes is not None:
        spk = to_numpy("spikes", spikes, ndim=(1, 2)).reshape(arr.shape[0], -1)
        if spk.shape != arr.shape:
            raise ValueError(f"spikes must have the shape of v {arr.shape}, got {spk.shape}")
    n = min(neurons, arr.shape[1])
    fig = new_figure(7.0, 1.6 * n + 0.6)
    steps = np.arange(arr.shape[0])
    for i in range(n):
        ax = fig.add_subplot(n, 1, i + 1)
        ax.plot(steps, arr[:, i], lw=1.0, color="tab:blue")
        if threshold is not None:
            ax.axhline(threshold, ls="--", lw=0.8, color="tab:red")
        if spk is not None:
            top = max(float(arr[:, i].max()), threshold or 0.0)
            t_s = steps[spk[:, i] > 0]
            ax.scatter(t_s, np.full(t_s.shape, top * 1.05 + 0.05), marker="|", color="black", s=30)
        ax.set_ylabel(f"v[{i}]")
        if i == 0:
            ax.set_title(title)
    ax.set_xlabel("time step")
    return save_png(fig, path)
