"""Unsupervised STDP + winner-take-all features on sklearn digits, evaluated by a logistic-regression readout
(``neuromorph learn stdp``); the layer is :class:`neuromorph.learning.unsupervised.STDPWinnerTakeAll`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from neuromorph.encoding import rate_encode
from neuromorph.learning.unsupervised import STDPWinnerTakeAll


@dataclass
class UnsupervisedResult:
    readout_accuracy: float
    pixel_readout_accuracy: float
    pruned_readout_accuracy: float | None
    active_neurons: int
    seconds: float


def run_stdp_digits(
    n_neurons: int = 100,
    steps: int = 30,
    epochs: int = 2,
    batch_size: int = 32,
    gain: float = 0.5,
    prune_fraction: float = 0.5,
    seed: int = 0,
    verbose: bool = False,
) -> UnsupervisedResult:
    """Train :class:`STDPWinnerTakeAll` on sklearn digits without labels; logistic-regression readout."""
    from sklearn.linear_model import LogisticRegression

    from neuromorph.data import load_dataset

    start = time.perf_counter()
    data = load_dataset("digits")
    gen = torch.Generator().manual_seed(seed)
    layer = STDPWinnerTakeAll(data.num_features, n_neurons, seed=seed)
    n = len(data.x_train)
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            x = data.x_train[perm[i : i + batch_size]]
            layer.run(rate_encode(x, steps, gain=gain, generator=gen), learn=True)
        if verbose:
            print(
                f"epoch {epoch + 1}: thresholds min {float(layer.theta.min()):.3f} max {float(layer.theta.max()):.3f}",
                flush=True,
            )

    def features(x: Tensor) -> Tensor:
        return (
            torch.cat(
                [layer.run(rate_encode(x[i : i + 256], steps, gain=gain, generator=gen)) for i in range(0, len(x), 256)]
            )
            / steps
        )

    def readout(f_train: Tensor, f_test: Tensor) -> float:
        clf = LogisticRegression(max_iter=2000, C=10.0)
        clf.fit(f_train.numpy(), data.y_train.numpy())
        return float(clf.score(f_test.numpy(), data.y_test.numpy()))

    f_train, f_test = features(data.x_train), features(data.x_test)
    acc = readout(f_train, f_test)
    active = int((f_train.sum(0) > 0).sum())
    pixel_acc = readout(data.x_train, data.x_test)
    pruned_acc = None
    if prune_fraction > 0:
        layer.prune(prune_fraction, data.x_train.mean(0) * gain)
        pruned_acc = readout(features(data.x_train), features(data.x_test))
    return UnsupervisedResult(acc, pixel_acc, pruned_acc, active, time.perf_counter() - start)
