"""Rate-coded SNN classification trained online or with BPTT (shared by the CLI and the benchmark).

Network: ``in -> Linear -> LIF(hidden) -> Linear -> LeakyIntegrator(classes)``. Inputs are Bernoulli
rate-coded for ``T`` steps (:func:`~neuromorph.encoding.rate_encode`); the objective in both modes is
``(1/T) sum_t CE(readout_t, y)`` and the prediction is ``argmax_c mean_t readout_t``.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from neuromorph.encoding import rate_encode
from neuromorph.learning.online import MODES, OnlineTrainer
from neuromorph.neurons import LIF, LeakyIntegrator
from neuromorph.utils import progress


def build_classifier(n_in: int, hidden: int, n_out: int = 10, beta: float = 0.9) -> nn.Module:
    """``Linear -> LIF -> Linear -> LeakyIntegrator`` (multi-step by default)."""
    return nn.Sequential(nn.Linear(n_in, hidden), LIF(beta=beta, threshold=1.0),
                         nn.Linear(hidden, n_out), LeakyIntegrator(beta=beta))


@torch.no_grad()
def evaluate_accuracy(trainer: OnlineTrainer, x: Tensor, y: Tensor, steps: int, batch: int = 500,
                      seed: int = 123) -> float:
    """Test accuracy with fresh (seeded) rate-coded spike trains."""
    gen = torch.Generator().manual_seed(seed)
    correct = 0
    for i in range(0, len(x), batch):
        out = trainer.predict(rate_encode(x[i:i + batch], steps, generator=gen))
        correct += int((out.mean(0).argmax(-1) == y[i:i + batch]).sum())
    return correct / len(x)


@dataclass
class ClassifyResult:
    mode: str
    accuracy: float
    seconds: float


def train_classifier(mode: str, model: nn.Module, data, steps: int = 25, epochs: int = 10,
                     batch_size: int = 64, lr: float = 2e-3, seed: int = 0) -> ClassifyResult:
    """Train ``model`` on ``data`` (an :class:`~neuromorph.data.ImageDataset`) in ``mode``; test accuracy."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    trainer = OnlineTrainer(model, torch.optim.Adam(model.parameters(), lr=lr), mode=mode)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    n = len(data.x_train)
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in progress(range(0, n, batch_size), desc=f"{mode} epoch {epoch + 1}"):
            idx = perm[i:i + batch_size]
            trainer.train_batch(rate_encode(data.x_train[idx], steps, generator=gen), data.y_train[idx])
    seconds = time.perf_counter() - start
    return ClassifyResult(mode, evaluate_accuracy(trainer, data.x_test, data.y_test, steps), seconds)


def compare_online_bptt(data, hidden: int = 128, steps: int = 25, epochs: int = 10, batch_size: int = 64,
                        lr: float = 2e-3, seed: int = 0, modes: tuple[str, ...] = ("bptt", "online"),
                        report=print) -> dict[str, ClassifyResult]:
    """Train the same initial network once per mode (same batches and spike samples); print each result."""
    torch.manual_seed(seed)
    base = build_classifier(data.num_features, hidden, data.num_classes)
    report(f"dataset={data.name} train={len(data.x_train)} test={len(data.x_test)} T={steps} "
           f"net={data.num_features}-{hidden}-{data.num_classes} epochs={epochs} batch={batch_size} lr={lr}")
    results = {}
    for mode in modes:
        res = train_classifier(mode, copy.deepcopy(base), data, steps, epochs, batch_size, lr, seed)
        results[mode] = res
        report(f"{mode:6s} test accuracy {100 * res.accuracy:6.2f}%   train time {res.seconds:7.1f}s")
    if "bptt" in results and "online" in results:
        report(f"gap (bptt - online) = {100 * (results['bptt'].accuracy - results['online'].accuracy):+.2f} points")
    return results
