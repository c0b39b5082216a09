"""Spike raster plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from neuromorph.viz._common import new_figure, save_png, to_numpy


def plot_raster(
    spikes: torch.Tensor | np.ndarray,
    path: str | Path,
    sample: int = 0,
    max_neurons: int | None = 200,
    title: str = "Spike raster",
    dt: float = 1.0,
) -> Path:
    """Dot raster of ``[T, N]`` spikes (or ``[T, B, N]``/``[T, B, ...]``, showing batch item ``sample``).

    Extra trailing dims are flattened into neurons; at most ``max_neurons`` neurons are drawn. Returns the
    PNG path.

    >>> import tempfile
    >>> path = plot_raster((torch.rand(10, 5) < 0.3).float(), Path(tempfile.mkdtemp()) / "raster.png")
    >>> path.is_file()
    True
    """
    arr = to_numpy("spikes", spikes, ndim=tuple(range(2, 8)))
    if arr.ndim >= 3:
        if not 0 <= sample < arr.shape[1]:
            raise ValueError(f"sample must be in [0, {arr.shape[1]}), got {sample}")
        arr = arr[:, sample].reshape(arr.shape[0], -1)
    if max_neurons is not None:
        if max_neurons < 1:
            raise ValueError(f"max_neurons must be a positive int or None, got {max_neurons}")
        arr = arr[:, :max_neurons]
    t_idx, n_idx = np.nonzero(arr > 0)
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    tick = float(np.clip(260.0 / arr.shape[1], 2.0, 12.0)) ** 2  # marker area: about one neuron row tall
    ax.scatter(t_idx * dt, n_idx, s=tick, marker="|", color="black", linewidths=1.0)
    ax.set_xlim(-0.5 * dt, (arr.shape[0] - 0.5) * dt)
    ax.set_ylim(-0.5, arr.shape[1] - 0.5)
    ax.set_xlabel("time step" if dt == 1.0 else "time")
    ax.set_ylabel("neuron")
    rate = float(arr.mean())
    ax.set_title(f"{title} ({arr.shape[1]} neurons, mean rate {rate:.3f}/step)")
    return save_png(fig, path)
