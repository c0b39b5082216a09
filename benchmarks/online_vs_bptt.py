"""Online learning (eligibility traces) vs BPTT: accuracy, epoch time and memory on the same batches.

Accuracy (``--accuracy``): the same initial network ``in -> Linear -> LIF -> Linear -> LeakyIntegrator`` trained
once per mode on the same batches and spike samples (:mod:`neuromorph.tasks.online_vs_bptt`).

Speed (default): one epoch's worth of training steps (Adam) of each mode on the same pre-encoded batches,
interleaved round by round (BPTT, online, BPTT, online, ...), median over rounds; ratio = online / BPTT.
Memory: peak bytes saved for backward (+ learner state) and process RSS growth across ``T`` (see
``benchmarks/online_memory.py`` for the saved-tensor meter).

    python benchmarks/online_vs_bptt.py --steps 100 400                       # speed, digits 64-128-10, B64
    python benchmarks/online_vs_bptt.py --accuracy --dataset mnist --steps 25 --epochs 3 --lr 1e-3
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time

import torch

from neuromorph.data import load_dataset
from neuromorph.encoding import rate_encode
from neuromorph.tasks.online_vs_bptt import build_classifier, compare_online_bptt
from neuromorph.training import BPTT, Online
from neuromorph.utils import seed_everything


def speed(data, steps: int, hidden: int, batch_size: int, batches: int, rounds: int, chunk: int) -> dict:
    torch.manual_seed(0)
    base = build_classifier(data.num_features, hidden, data.num_classes)
    gen = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(data.x_train), generator=gen)
    xs = [rate_encode(data.x_train[idx[i * batch_size:(i + 1) * batch_size]], steps, generator=gen)
          for i in range(batches)]
    ys = [data.y_train[idx[i * batch_size:(i + 1) * batch_size]] for i in range(batches)]
    runs = {}
    for name, strategy in (("bptt", BPTT()), ("online", Online(chunk=chunk))):
        model = copy.deepcopy(base)
        runs[name] = (model, strategy, torch.optim.Adam(model.parameters(), lr=1e-3))
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds + 1):  # the first round warms up (kernel build, allocator) and is dropped
        for name, (model, strategy, opt) in runs.items():
            start = time.perf_counter()
            for x, y in zip(xs, ys):
                opt.zero_grad(set_to_none=True)
                strategy.gradients(model, x, y)
                opt.step()
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(t[1:]) for name, t in times.items()}
    return {"steps": steps, "bptt_ms": 1e3 * med["bptt"] / batches, "online_ms": 1e3 * med["online"] / batches,
            "ratio": med["online"] / med["bptt"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=20, help="speed: training steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="speed: interleaved rounds")
    parser.add_argument("--chunk", type=int, default=32, help="online: steps per chunk")
    parser.add_argument("--accuracy", action="store_true", help="train both modes and compare test accuracy")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    data = load_dataset(args.dataset).subset(args.train_subset, None)
    if args.accuracy:
        for steps in args.steps:
            compare_online_bptt(data, args.hidden, steps, args.epochs, args.batch_size, args.lr, args.seed,
                                chunk=args.chunk, report=lambda line: print(line, flush=True))
        return 0
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {args.dataset} "
          f"{data.num_features}-{args.hidden}-{data.num_classes}, batch {args.batch_size}, online chunk {args.chunk}; "
          f"median of {args.rounds} interleaved rounds of {args.batches} training steps")
    print("| T | BPTT ms/step | online ms/step | online / BPTT |")
    print("|---|---|---|---|")
    for steps in args.steps:
        r = speed(data, steps, args.hidden, args.batch_size, args.batches, args.rounds, args.chunk)
        print(f"| {r['steps']} | {r['bptt_ms']:.2f} | {r['online_ms']:.2f} | {r['ratio']:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
