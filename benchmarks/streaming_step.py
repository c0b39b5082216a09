"""One time step of a 128-256-256-4 network at batch 1, 16 and 256: the fused streaming step
(:class:`neuromorph.learning.StreamingChain`) and the layer-by-layer single-step path, against the same-size
dense ReLU MLP.

Inference: ``no_grad`` forward of one step. Learning: the step plus the weight gradients of a loss on its output
(ReLU MLP: autograd ``backward``; SNN: ``StreamingChain.backward``, or the online learner with one-step chunks).
Each configuration is timed in interleaved rounds (every variant once per round), median per variant; ratio =
SNN time / ReLU MLP time of the same kind.

    python benchmarks/streaming_step.py
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Callable

import torch
from torch import nn

import neuromorph as nm
from neuromorph.learning.online import OnlineLearner
from neuromorph.learning.streaming import StreamingChain

SIZES = (128, 256, 256, 4)


def snn() -> nn.Sequential:
    a, b, c, d = SIZES
    return nn.Sequential(nn.Linear(a, b), nm.LIF(), nn.Linear(b, c), nm.LIF(), nn.Linear(c, d), nm.LeakyIntegrator())


def relu_mlp() -> nn.Sequential:
    a, b, c, d = SIZES
    return nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c), nn.ReLU(), nn.Linear(c, d))


def _time(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def measure(batch: int, rounds: int, calls: int) -> dict[str, float]:
    torch.manual_seed(0)
    x = 2 * torch.rand(batch, SIZES[0])
    g = torch.ones(batch, SIZES[-1])
    mlp, net = relu_mlp(), snn()
    layers = snn()
    nm.set_step_mode(layers, "single")
    infer_chain = StreamingChain(net, learn=False)
    learn_chain = StreamingChain(net, learn=True)
    learner = OnlineLearner(snn(), x[None])

    def mlp_infer() -> None:
        with torch.no_grad():
            mlp(x)

    def mlp_learn() -> None:
        mlp(x).backward(g)

    def layers_infer() -> None:
        with torch.no_grad():
            layers(x)

    def chain_learn() -> None:
        learn_chain.step(x)
        learn_chain.backward(g)

    def learner_learn() -> None:
        learner(x[None]).backward(g[None])

    variants = {"mlp infer": mlp_infer, "chain infer": lambda: infer_chain.step(x), "layers infer": layers_infer,
                "mlp learn": mlp_learn, "chain learn": chain_learn, "learner learn": learner_learn}
    samples: dict[str, list[float]] = {k: [] for k in variants}
    with learner:
        for fn in variants.values():  # warm-up
            _time(fn, max(calls // 10, 5))
        for _ in range(rounds):
            for name, fn in variants.items():
                samples[name].append(_time(fn, calls))
    return {k: statistics.median(v) for k, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 256])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), net {'-'.join(map(str, SIZES))}, "
          f"median of {args.rounds} interleaved rounds x {args.calls} calls (us per step)")
    print("| batch | ReLU MLP infer | SNN fused infer (x MLP) | SNN layers infer (x MLP) | ReLU MLP learn | "
          "SNN fused learn (x MLP) | SNN learner K=1 learn (x MLP) |")
    print("|---|---|---|---|---|---|---|")
    for batch in args.batches:
        r = measure(batch, args.rounds, max(args.calls // max(batch // 16, 1), 20))
        mi, ml = r["mlp infer"], r["mlp learn"]
        print(f"| {batch} | {mi:.1f} | {r['chain infer']:.1f} ({r['chain infer'] / mi:.2f}x) | "
              f"{r['layers infer']:.1f} ({r['layers infer'] / mi:.2f}x) | {ml:.1f} | "
              f"{r['chain learn']:.1f} ({r['chain learn'] / ml:.2f}x) | "
              f"{r['learner learn']:.1f} ({r['learner learn'] / ml:.2f}x) |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
