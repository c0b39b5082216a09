"""Firing-rate histograms."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from neuromorph.viz._common import new_figure, save_png, to_numpy


def firing_rates(spikes: torch.Tensor | np.ndarray) -> np.ndarray:
    """Per-neuron rate (spikes per step) of ``[T, ...]`` spikes, averaged over time and batch -> ``[N]``.

    ``[T, N]`` -> mean over T; ``[T, B, ...]`` -> mean over T and B, trailing dims flattened.

    >>> firing_rates(torch.tensor([[[1.0, 0.0]], [[1.0, 1.0]]])).tolist()
    [1.0, 0.5]
    """
    arr = to_numpy("spikes", spikes, ndim=tuple(range(2, 8)))
    if arr.ndim == 2:
        return arr.mean(axis=0)
    return arr.reshape(arr.shape[0] * arr.shape[1], -1).mean(axis=0)


def plot_rate_histogram(
    rates: Mapping[str, object] | torch.Tensor | np.ndarray,
    path: str | Path,
    bins: int = 30,
    title: str = "Firing-rate distribution",
) -> Path:
    """Histogram of per-neuron firing rates, one overlaid histogram per layer.

    ``rates`` is one ``[N]`` array of rates or a mapping ``layer name -> [N] rates``. Returns the PNG path.

    >>> import tempfile
    >>> path = plot_rate_histogram({"lif1": np.array([0.1, 0.2, 0.2])}, Path(tempfile.mkdtemp()) / "rates.png", bins=3)
    >>> path.is_file()
    True
    """
    if not isinstance(rates, Mapping):
        rates = {"rates": rates}
    if not rates:
        raise ValueError("rates must hold at least one layer")
    if bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins}")
    fig = new_figure(6.4, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for name, value in rates.items():
        arr = to_numpy(f"rates[{name!r}]", value, ndim=(1,))
        ax.hist(
            arr, bins=bins, range=(0.0, max(1.0, float(arr.max()))), alpha=0.55, label=f"{name} (mean {arr.mean():.3f})"
        )
    ax.set_xlabel("firing rate (spikes / step)")
    ax.set_ylabel("neurons")
    ax.set_title(title)
    ax.legend()
    return save_png(fig, path)
