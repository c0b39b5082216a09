"""Peak training memory of one batch vs sequence length ``T``: online (eligibility traces) vs BPTT.

What is measured: the peak over the training step of the bytes held for backward, i.e. every tensor saved
by autograd (counted through ``torch.autograd.graph.saved_tensors_hooks`` when saved, released when its
graph is freed), plus — online — the bytes of the eligibility traces (``OnlineLearner.trace_bytes``).
Layer states, parameters, the input batch and gradients are the same in both modes and not counted.
A tensor saved twice is counted twice. Peak process RSS is printed too (``resource.ru_maxrss``, monotone
over the process, so only its growth between runs is informative).

    python benchmarks/online_memory.py --steps 25 100 400 1600
"""
from __future__ import annotations

import argparse
import copy
import resource
import sys
import time

import torch
from torch import nn

import neuromorph as nm
from neuromorph.training import BPTT, Online


class _Held:
    """A saved tensor plus a callback that runs when autograd releases it."""

    __slots__ = ("tensor", "release")

    def __init__(self, tensor: torch.Tensor, release) -> None:
        self.tensor = tensor
        self.release = release

    def __del__(self) -> None:
        self.release(self.tensor.numel() * self.tensor.element_size())


class SavedTensorMeter:
    """Live and peak bytes of tensors saved for backward (see the module docstring)."""

    def __init__(self) -> None:
        self.live = 0
        self.peak = 0
        self.extra = lambda: 0

    def _release(self, nbytes: int) -> None:
        self.live -= nbytes

    def _pack(self, tensor: torch.Tensor) -> _Held:
        self.live += tensor.numel() * tensor.element_size()
        self.peak = max(self.peak, self.live + self.extra())
        return _Held(tensor, self._release)

    @staticmethod
    def _unpack(held: _Held) -> torch.Tensor:
        return held.tensor

    def hooks(self):
        return torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)


def measure(mode: str, model: nn.Module, x_seq: torch.Tensor, y: torch.Tensor) -> tuple[int, float]:
    strategy = Online() if mode == "online" else BPTT()
    meter = SavedTensorMeter()
    if isinstance(strategy, Online):
        meter.extra = lambda: strategy.learner.trace_bytes() if strategy.learner is not None else 0
    start = time.perf_counter()
    with meter.hooks():
        strategy.gradients(model, x_seq, y)
    return meter.peak, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 100, 400, 1600])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--inputs", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(args.inputs, args.hidden), nm.LIF(learn_beta=True),
                         nn.Linear(args.hidden, 10), nm.LeakyIntegrator())
    print(f"net {args.inputs}-{args.hidden}-10 (LIF learn_beta, LeakyIntegrator readout), batch {args.batch_size}; "
          "peak bytes saved for backward (+ traces online), one training step")
    warm = (torch.rand(5, args.batch_size, args.inputs) < 0.2).float(), torch.randint(0, 10, (args.batch_size,))
    for mode in ("online", "bptt"):  # first-call overheads out of the timings
        measure(mode, copy.deepcopy(base), *warm)
    print(f"{'T':>6} {'online MiB':>11} {'bptt MiB':>10} {'online s':>9} {'bptt s':>8} {'maxrss MiB':>11}")
    for steps in args.steps:
        x = (torch.rand(steps, args.batch_size, args.inputs) < 0.2).float()
        y = torch.randint(0, 10, (args.batch_size,))
        online, t_on = measure("online", copy.deepcopy(base), x, y)
        bptt, t_bp = measure("bptt", copy.deepcopy(base), x, y)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{steps:>6} {online / 2**20:>11.3f} {bptt / 2**20:>10.2f} {t_on:>9.2f} {t_bp:>8.2f} {rss:>11.0f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
