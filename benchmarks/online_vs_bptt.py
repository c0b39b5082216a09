"""Online (eligibility traces) vs BPTT training of the same rate-coded SNN on digits / MNIST.

Network and objective: :mod:`neuromorph.learning.classify` (``in -> Linear -> LIF -> Linear ->
LeakyIntegrator``, ``(1/T) sum_t CE``). Both runs start from the same initial weights and see the same
batches and spike samples; the script prints both test accuracies and the gap.

    python benchmarks/online_vs_bptt.py --dataset digits --steps 25 --epochs 10
    python benchmarks/online_vs_bptt.py --dataset mnist --train-subset 20000 --steps 25 --epochs 3 --lr 1e-3
"""
from __future__ import annotations

import argparse
import sys

import torch

from neuromorph.data import load_dataset
from neuromorph.tasks.online_vs_bptt import compare_online_bptt
from neuromorph.utils import seed_everything


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--train-subset", type=int, default=None, help="first N training examples")
    parser.add_argument("--test-subset", type=int, default=None, help="first N test examples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    data = load_dataset(args.dataset).subset(args.train_subset, args.test_subset)
    compare_online_bptt(data, args.hidden, args.steps, args.epochs, args.batch_size, args.lr, args.seed,
                        report=lambda line: print(line, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
