"""Event-driven vs dense inference of spiking MLPs, per time step, over spike rates and batch sizes.

Two networks: a 784-800-10 SNN trained briefly on MNIST (``neuromorph.training.fit``, BPTT) and a 1024-wide
net with three 1024x1024 synapse layers (random init). For every batch size and target spike rate r the
input is a Bernoulli spike train of mean rate r (MNIST test images, p = clamp(x + c, 0, 1) with c fitted; plain
Bernoulli(r) for the 1024 net) and every hidden layer's synaptic weights are scaled so its firing rate is about
r too (scaling a LIF layer's input by k is the same as dividing its threshold by k). Each case times, in
interleaved rounds (median), one inference pass of T steps with

* ``event``: every SpikeLinear forced onto the event path (index lists + gather-accumulate, compiled kernel),
* ``auto``:  the automatic choice by measured spike rate (what users get),
* ``dense``: the same network with float GEMMs (SpikeLinear ``event="dense"``),
* ``relu``:  the dense ReLU MLP of the same sizes on the B samples (one pass = one "step").

and reports milliseconds per time step (pass / T; ReLU: per pass) and the ratios. ``--crossover`` measures
the layer-level crossover rate (event time = dense time) per row count, the table the automatic choice uses.

    python benchmarks/event_inference.py --json event.json          # full grid (several minutes)
    python benchmarks/event_inference.py --quick --json /tmp/e.json # smoke run
    python benchmarks/event_inference.py --crossover                # layer crossover table
    python benchmarks/event_inference.py --summary event.json       # tables + crossover of a --json run
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from neuromorph.models import FeedForwardMLP, SpikingMLP  # noqa: E402
from neuromorph.synapses import SpikeLinear  # noqa: E402
from neuromorph.synapses.event import MIN_EVENT_OUTPUTS, MIN_EVENT_WORK, try_event_linear  # noqa: E402

RATES = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5]
BATCHES = [1, 16, 256]


STATS = ("median", "min")
STAT = {"name": "median"}  # set by --stat


def interleaved(fns: dict[str, callable], rounds: int, reps: int = 1) -> dict[str, float]:
    """Seconds per call of each function, timed round-robin so load hits all alike.

    ``--stat median`` (default): the median over ``rounds`` samples, each the mean of ``reps`` calls.
    ``--stat min``: every call timed on its own (``rounds * reps`` per function) and the fastest kept, the
    cost of a call that no other process interrupted (on a shared machine the median mostly measures the
    other processes)."""
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    if STAT["name"] == "min":
        rounds, reps = rounds * reps, 1
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(reps):
                fn()
            samples[name].append((time.perf_counter() - start) / reps)
    pick = min if STAT["name"] == "min" else statistics.median
    return {k: pick(v) for k, v in samples.items()}


def train_mnist(steps: int, samples: int, seed: int = 0) -> tuple[SpikingMLP, float, torch.Tensor]:
    """784-800-10 SNN, one BPTT epoch on ``samples`` MNIST training images (rate coded); test accuracy."""
    from neuromorph.data import load_dataset
    from neuromorph.encoding.rate import rate_encode
    from neuromorph.training import fit

    data = load_dataset("mnist")
    torch.manual_seed(seed)
    model = SpikingMLP([784, 800, 10], num_steps=steps)
    gen = torch.Generator().manual_seed(seed)

    def encode(x: torch.Tensor) -> torch.Tensor:
        return rate_encode(x, steps, generator=gen)
    fit(model, (data.x_train[:samples], data.y_train[:samples]), epochs=1, batch_size=128, lr=2e-3,
        encode=encode, show_progress=False, seed=seed)
    x_test, y_test = data.x_test[:2000], data.y_test[:2000]
    with torch.no_grad():
        acc = (model(encode(x_test)).argmax(1) == y_test).float().mean().item()
    return model, acc, data.x_test


def mnist_input(images: torch.Tensor, rate: float, steps: int, gen: torch.Generator) -> torch.Tensor:
    """Spike train ``[T, B, 784]`` with p = clamp(x + c, 0, 1), c bisected so the mean of p is ``rate``."""
    lo, hi = -1.0, 1.0
    for _ in range(40):
        c = (lo + hi) / 2
        if (images + c).clamp(0, 1).mean().item() < rate:
            lo = c
        else:
            hi = c
    p = (images + (lo + hi) / 2).clamp(0, 1)
    return (torch.rand(steps, *p.shape, generator=gen) < p).float()


def calibrate_hidden(model: SpikingMLP, x: torch.Tensor, rate: float) -> list[float]:
    """Scale each hidden layer's weights and bias so its firing rate on ``x`` is about ``rate``; returns the
    measured rates."""
    rates = []
    with torch.no_grad():
        for i, linear in enumerate(model.hidden):
            w0, b0 = linear.weight.clone(), linear.bias.clone()
            lo, hi = 1e-2, 1e2
            for _ in range(14):
                k = (lo * hi) ** 0.5
                linear.weight.copy_(w0 * k)
                linear.bias.copy_(b0 * k)
                model(x)
                if model.spike_rates()[f"lif{i}"] < rate:
                    lo = k
                else:
                    hi = k
            k = (lo * hi) ** 0.5
            linear.weight.copy_(w0 * k)
            linear.bias.copy_(b0 * k)
            model(x)
            rates.append(model.spike_rates()[f"lif{i}"])
    return rates


def set_mode(model: nn.Module, mode: str) -> None:
    for m in model.modules():
        if isinstance(m, SpikeLinear):
            m.event = mode


def paths(model: nn.Module) -> str:
    return "".join("E" if m.last_path == "event" else "D" for m in model.modules() if isinstance(m, SpikeLinear))


def bench_network(name: str, model: SpikingMLP, make_input, steps: int, rates: list[float], batches: list[int],
                  rounds: int, gen: torch.Generator) -> list[dict]:
    rows = []
    relu = FeedForwardMLP(model.sizes)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for rate in rates:
        model.load_state_dict(state)
        hidden_rates = calibrate_hidden(model, make_input(rate, 64), rate)
        for batch in batches:
            x = make_input(rate, batch)
            static = torch.rand(batch, model.sizes[0], generator=gen)

            def run(mode: str):
                def fn():
                    set_mode(model, mode)
                    with torch.no_grad():
                        model(x)
                return fn

            def run_relu():
                with torch.no_grad():
                    relu(static)
            reps = 20 if batch == 1 else 1
            med = interleaved({"event": run("event"), "auto": run("auto"), "dense": run("dense"),
                               "relu": run_relu}, rounds, reps)
            set_mode(model, "auto")
            with torch.no_grad():
                model(x)
            row = {"network": name, "batch": batch, "spike_rate": rate, "steps": steps,
                   "input_rate": x.mean().item(), "hidden_rates": [round(r, 4) for r in hidden_rates],
                   "event_ms": med["event"] * 1e3 / steps, "auto_ms": med["auto"] * 1e3 / steps,
                   "dense_ms": med["dense"] * 1e3 / steps, "relu_ms": med["relu"] * 1e3,
                   "auto_paths": paths(model)}
            row["event_vs_dense"] = row["event_ms"] / row["dense_ms"]
            row["auto_vs_dense"] = row["auto_ms"] / row["dense_ms"]
            row["event_vs_relu"] = row["event_ms"] / row["relu_ms"]
            rows.append(row)
            print(f"| {name} | {batch} | {rate:.2f} | {row['input_rate']:.3f} / "
                  f"{', '.join(f'{r:.3f}' for r in hidden_rates)} | {row['event_ms']:.3f} | {row['dense_ms']:.3f} | "
                  f"{row['relu_ms']:.3f} | {row['event_vs_dense']:.2f}x | {row['auto_vs_dense']:.2f}x "
                  f"({row['auto_paths']}) | {row['event_vs_relu']:.2f}x |", flush=True)
    return rows


def crossover(shapes: list[tuple[int, int]], row_counts: list[int], rates: list[float], rounds: int,
              dtype: torch.dtype) -> dict[int, float]:
    """Per row count, the smallest (over layer shapes that auto may run event-driven) spike rate at which the
    event path stops beating the dense GEMM, interpolated linearly between measured rates."""
    table = {}
    print("| layer | rows | " + " | ".join(f"{r:.2f}" for r in rates) + " | crossover |")
    print("|---|---|" + "---|" * (len(rates) + 1))
    for rows in row_counts:
        cross_min = 1.0
        for fin, fout in shapes:
            layer = nn.Linear(fin, fout).to(dtype)
            cache: dict = {}
            ratios = []
            for rate in rates:
                x = (torch.rand(rows, fin) < rate).to(dtype)
                with torch.no_grad():
                    med = interleaved({"event": lambda: try_event_linear(x, layer.weight, layer.bias, "event", cache),
                                       "dense": lambda: layer(x)}, rounds, reps=max(1, 2000 // rows))
                ratios.append(med["event"] / med["dense"])
            cross = crossing(rates, ratios)
            cross = 1.0 if cross is None else cross
            if rows * fin * fout >= MIN_EVENT_WORK and fout >= MIN_EVENT_OUTPUTS:  # others stay dense anyway
                cross_min = min(cross_min, cross)
            print(f"| {fin}->{fout} | {rows} | " + " | ".join(f"{r:.2f}x" for r in ratios) + f" | {cross:.3f} |",
                  flush=True)
        table[rows] = round(cross_min, 3)
    return table


def crossing(rates: list[float], ratios: list[float]) -> float | None:
    """The spike rate at which ``ratios`` (event / dense, over increasing ``rates``) first reaches 1, linearly
    interpolated between the measured rates; ``None`` when it stays below 1."""
    for j, r in enumerate(ratios):
        if r >= 1.0:
            if j == 0:
                return rates[0]
            return rates[j - 1] + (rates[j] - rates[j - 1]) * (1 - ratios[j - 1]) / (r - ratios[j - 1])
    return None


def summary(rows: list[dict]) -> None:
    """Markdown tables from the rows of a ``--json`` run: event / dense (and auto / dense) per rate and batch,
    the network-level crossover rate, and the goal check at <= 10 % spike rate."""
    nets = list(dict.fromkeys(r["network"] for r in rows))
    batches = sorted({r["batch"] for r in rows})
    rates = sorted({r["spike_rate"] for r in rows})
    cell = {(r["network"], r["batch"], r["spike_rate"]): r for r in rows}
    cols = [(n, b) for n in nets for b in batches if any((n, b, q) in cell for q in rates)]
    for key, title in (("event_vs_dense", "event / dense"), ("auto_vs_dense", "auto / dense")):
        print(f"\n{title} (same SNN, per time step)\n")
        print("| rate | " + " | ".join(f"{n} B{b}" for n, b in cols) + " |")
        print("|---|" + "---|" * len(cols))
        for q in rates:
            print(f"| {q:.2f} | " + " | ".join(f"{cell[(n, b, q)][key]:.2f}x" if (n, b, q) in cell else "-"
                                               for n, b in cols) + " |")
    print("\n| network | batch | crossover rate (event = dense) | worst at <= 0.10: event / dense | goal | "
          "auto / dense | goal |")
    print("|---|---|---|---|---|---|---|")
    for n, b in cols:
        goal = 0.5 if b == 1 else 0.8 if b == 256 else None
        cells = []
        for key in ("event_vs_dense", "auto_vs_dense"):
            pts = [(q, cell[(n, b, q)][key]) for q in rates if (n, b, q) in cell]
            if key == "event_vs_dense":
                cross = crossing([q for q, _ in pts], [r for _, r in pts])
            low = [r for q, r in pts if q <= 0.10]
            worst = max(low) if low else float("nan")
            verdict = "-" if goal is None else ("met" if worst <= goal else "missed") + f" (<= {goal}x)"
            cells.append(f"{worst:.2f}x | {verdict}")
        print(f"| {n} | {b} | {'> %.2f' % rates[-1] if cross is None else '%.2f' % cross} | {' | '.join(cells)} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", help="write one row per case to this file")
    parser.add_argument("--quick", action="store_true", help="tiny grid, untrained nets (smoke test)")
    parser.add_argument("--crossover", action="store_true", help="measure the layer crossover table only")
    parser.add_argument("--steps", type=int, default=20, help="time steps T (default 20)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per case (default 7)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--stat", choices=STATS, default="median", help="statistic of the interleaved samples")
    parser.add_argument("--train-samples", type=int, default=20000, help="MNIST images for the brief training")
    parser.add_argument("--networks", default="mnist,wide1024", help="comma-separated: mnist, wide1024")
    parser.add_argument("--summary", metavar="JSON", help="print the tables of an earlier --json run and exit")
    parser.add_argument("--batches", help=f"comma-separated batch sizes (default {','.join(map(str, BATCHES))})")
    parser.add_argument("--rates", help=f"comma-separated spike rates (default {','.join(map(str, RATES))})")
    args = parser.parse_args()
    if args.summary:
        summary(json.loads(Path(args.summary).read_text()))
        return 0
    torch.set_num_threads(args.threads)
    STAT["name"] = args.stat
    gen = torch.Generator().manual_seed(1)
    if args.crossover:
        rates = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8]
        row_counts = [1, args.steps, args.steps * 16, args.steps * 256]
        print(f"event / dense time per layer call, float32, {args.threads} threads, {args.stat} of {args.rounds}")
        table = crossover([(784, 800), (800, 10), (1024, 1024)], row_counts, rates, args.rounds, torch.float32)
        print(f"crossover table (float32): {table}")
        return 0

    rates = [0.02, 0.1, 0.3] if args.quick else RATES
    batches = [1, 16] if args.quick else BATCHES
    try:
        if args.rates:
            rates = [float(r) for r in args.rates.split(",")]
        if args.batches:
            batches = [int(b) for b in args.batches.split(",")]
    except ValueError as err:
        parser.error(f"--rates / --batches must be comma-separated numbers ({err})")
    if any(not 0 < r <= 1 for r in rates) or any(b < 1 for b in batches):
        parser.error("--rates must lie in (0, 1] and --batches be positive")
    rounds = 2 if args.quick else args.rounds
    T = 5 if args.quick else args.steps
    print(f"torch {torch.__version__}, {args.threads} threads, T={T}, {args.stat} of {rounds} interleaved rounds; "
          "ms per time step (ReLU MLP: per pass on B samples)")
    print("| network | batch | target rate | measured input / hidden rates | event ms | dense ms | ReLU ms | "
          "event/dense | auto/dense (paths) | event/ReLU |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name in [n for n in args.networks.split(",") if n]:
        if name == "mnist":
            if args.quick:
                torch.manual_seed(0)
                model, acc, images = SpikingMLP([784, 800, 10], num_steps=T), float("nan"), torch.rand(500, 784)
            else:
                model, acc, images = train_mnist(T, args.train_samples)
            print(f"(mnist 784-800-10: trained 1 epoch on {args.train_samples} images, test accuracy on 2000 "
                  f"test images at the training encoding: {acc:.3f})", flush=True)

            def make_input(rate, batch, images=images):
                return mnist_input(images[:batch], rate, T, gen)
        elif name == "wide1024":
            torch.manual_seed(0)
            model = SpikingMLP([1024, 1024, 1024, 1024], num_steps=T)

            def make_input(rate, batch):
                return (torch.rand(T, batch, 1024, generator=gen) < rate).float()
        else:
            parser.error(f"unknown network {name!r}; choose from mnist, wide1024")
        rows += bench_network(name, model, make_input, T, rates, batches, rounds, gen)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
        print(f"wrote {len(rows)} rows to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
