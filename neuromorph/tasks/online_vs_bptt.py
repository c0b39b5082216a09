"""Online learning (eligibility traces) against BPTT on the same rate-coded SNN, batches and spike samples.

Network ``in -> Linear -> LIF(hidden) -> Linear -> LeakyIntegrator(classes)`` with per-step outputs; both modes
minimise ``(1/T) sum_t CE(readout_t, y)`` with Adam at a constant learning rate and predict
``argmax_c mean_t readout_t`` (:func:`neuromorph.training.fit` with the ``Online`` or ``BPTT`` strategy).
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

from neuromorph.data import ImageDataset
from neuromorph.encoding import rate_encode
from neuromorph.neurons import LIF, LeakyIntegrator
from neuromorph.training import BPTT, FitResult, Online, fit

MODES = ("bptt", "online")


def build_classifier(n_in: int, hidden: int, n_out: int = 10, beta: float = 0.9) -> nn.Module:
    """``Linear -> LIF -> Linear -> LeakyIntegrator`` (multi-step, per-step outputs)."""
    return nn.Sequential(
        nn.Linear(n_in, hidden), LIF(beta=beta, threshold=1.0), nn.Linear(hidden, n_out), LeakyIntegrator(beta=beta)
    )


def train_mode(
    mode: str,
    model: nn.Module,
    data: ImageDataset,
    steps: int = 25,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    chunk: int = 32,
    show_progress: bool | None = None,
) -> FitResult:
    """Train ``model`` in ``mode`` ("bptt" or "online"); the rate code is sampled from a generator seeded
    with ``seed``, so both modes see the same spikes."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    gen = torch.Generator().manual_seed(seed)

    def encode(x: torch.Tensor) -> torch.Tensor:
        return rate_encode(x, steps, generator=gen)

    strategy = Online(chunk=chunk) if mode == "online" else BPTT()
    return fit(
        model,
        (data.x_train, data.y_train),
        strategy=strategy,
        test=(data.x_test, data.y_test),
        encode=encode,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        schedule="constant",
        seed=seed,
        eval_batch_size=500,
        show_progress=show_progress,
        desc=mode,
    )


def compare_online_bptt(
    data: ImageDataset,
    hidden: int = 128,
    steps: int = 25,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    modes: tuple[str, ...] = MODES,
    chunk: int = 32,
    report: Callable[[str], None] = print,
) -> dict[str, FitResult]:
    """Train the same initial network once per mode; report each test accuracy and the gap."""
    torch.manual_seed(seed)
    base = build_classifier(data.num_features, hidden, data.num_classes)
    report(
        f"dataset={data.name} train={len(data.x_train)} test={len(data.x_test)} T={steps} "
        f"net={data.num_features}-{hidden}-{data.num_classes} epochs={epochs} batch={batch_size} lr={lr}"
    )
    results = {}
    for mode in modes:
        res = train_mode(mode, copy.deepcopy(base), data, steps, epochs, batch_size, lr, seed, chunk)
        results[mode] = res
        report(f"{mode:6s} test accuracy {100 * res.final_test_accuracy:6.2f}%   train time {res.train_time:7.1f}s")
    if "bptt" in results and "online" in results:
        gap = results["bptt"].final_test_accuracy - results["online"].final_test_accuracy
        report(f"gap (bptt - online) = {100 * gap:+.2f} points")
    return results
