"""NeuroBench 2.3 static and workload metrics for a digits SNN, through two paths, with our own cross-check.

The net is ``64 -> 128 LIF -> 10 LIF`` (``reset="zero"`` so that NIR can carry it, beta 0.9, threshold 1),
trained with BPTT on sklearn digits (direct encoding: the pixel vector is the input current at each of ``T``
steps; loss = cross-entropy of the output spike counts), then measured on the held-out split by

* path "nir->snntorch": :func:`neuromorph.interop.to_nir` (dt = 1e-4, snnTorch's) ->
  ``snntorch.import_nir.import_from_nir`` -> ``neurobench.models.SNNTorchModel`` (NeuroBench's snnTorch path);
* path "torch": the neuromorph net in ``neurobench.models.TorchModel`` with our LIF layers registered as
  activation modules (runs all ``T`` steps in one call).

Metrics: Footprint (bytes), ConnectionSparsity, ActivationSparsity, SynapticOperations (effective MACs, ACs,
dense), ClassificationAccuracy (``ChooseMaxCount`` postprocessor). Cross-check: our own spike count gives the
activation sparsity ``1 - spikes / (neurons * T * samples)`` and effective ACs ``sum(hidden spikes) * 10 / samples``.

Needs the peers extra, installed without dependencies (see docs/interop.md)::

    PYTHONPATH=$PWD python3 benchmarks/neurobench_metrics.py            # ~1 min on 2 cores
    PYTHONPATH=$PWD python3 benchmarks/neurobench_metrics.py --json out.json
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json

import torch
from torch import Tensor, nn

import neuromorph
from neuromorph import LIF
from neuromorph.data import load_digits
from neuromorph.interop import to_nir
from neuromorph.utils import seed_everything


def build(hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(64, hidden), LIF(0.9, reset="zero"), nn.Linear(hidden, 10), LIF(0.9, reset="zero"))


def as_sequence(x: Tensor, steps: int) -> Tensor:
    """Direct encoding: ``[B, F] -> [T, B, F]`` (the same input current at every step)."""
    return x.unsqueeze(0).expand(steps, *x.shape)


def train(net: nn.Sequential, x: Tensor, y: Tensor, steps: int, epochs: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=generator).split(64):
            neuromorph.reset(net)
            counts = net(as_sequence(x[idx], steps)).sum(0)
            loss = nn.functional.cross_entropy(counts, y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


class BatchFirst(nn.Module):
    """NeuroBench feeds ``[B, T, F]`` and expects ``[B, T, classes]``; our layers run ``[T, B, F]``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        neuromorph.reset(self.net)
        return self.net(x.transpose(0, 1)).transpose(0, 1)


def run_neurobench(model, loader) -> dict:
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, ClassificationAccuracy, SynapticOperations
    from neurobench.processors.postprocessors import ChooseMaxCount

    bench = Benchmark(model, loader, [], [ChooseMaxCount()],
                      [[Footprint, ConnectionSparsity], [ClassificationAccuracy, ActivationSparsity, SynapticOperations]])
    with contextlib.redirect_stdout(io.StringIO()):  # snnTorch's importer and NeuroBench print progress
        return bench.run()


def own_counts(net: nn.Sequential, x: Tensor, labels: Tensor, steps: int) -> dict:
    """Spike counts from our own forward pass on the same data."""
    neuromorph.reset(net)
    with torch.no_grad():
        hidden = net[1](net[0](as_sequence(x, steps)))
        out = net[3](net[2](hidden))
    neurons = (hidden.shape[-1] + out.shape[-1]) * steps * len(x)
    spikes = float(hidden.sum() + out.sum())
    accuracy = float((out.sum(0).argmax(1) == labels).float().mean())
    return {"activation_sparsity": 1 - spikes / neurons, "effective_ACs": float(hidden.sum()) * 10 / len(x),
            "accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)

    from neurobench.models import SNNTorchModel, TorchModel
    from snntorch.import_nir import import_from_nir

    data = load_digits()
    net = build(args.hidden)
    train(net, data.x_train, data.y_train, args.steps, args.epochs, args.seed)
    net.eval()
    x_test = data.x_test
    bench_input = x_test.unsqueeze(1).expand(len(x_test), args.steps, x_test.shape[1]).contiguous()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(bench_input, data.y_test), batch_size=64)

    results = {"config": vars(args), "own": own_counts(net, x_test, data.y_test, args.steps)}
    with contextlib.redirect_stdout(io.StringIO()):
        snn_net = import_from_nir(to_nir(net, torch.zeros(1, 64), dt=1e-4))
    results["nir->snntorch"] = run_neurobench(SNNTorchModel(snn_net), loader)
    torch_model = TorchModel(BatchFirst(net))
    torch_model.add_activation_module(LIF)
    results["torch"] = run_neurobench(torch_model, loader)

    print(json.dumps(results, indent=2, default=float))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
