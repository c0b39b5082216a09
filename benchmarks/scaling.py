"""How the cost of one training step and one inference pass grows with T, B and H, compiled kernel vs torch ops.

The network is the 784-H-H-10 LIF MLP of ``benchmarks/step_time.py`` (SpikeLinear + LIF, rate-coded input of
rate 0.25). One axis is swept at a time around T25 B32 H128. Per point, four variants are timed in interleaved
rounds (median): training step (fwd+bwd) and inference pass (no grad), each with the compiled CPU kernel and
with ``NEUROMORPH_NATIVE=0`` (the torch-ops fallback). The table gives milliseconds and fallback/compiled
ratios; the PNG plots time against each axis and marks the first point where the two paths part ways
(fallback more than ``--gap`` slower, default 1.2x).

    python benchmarks/scaling.py --png scaling.png --json scaling.json
    python benchmarks/scaling.py --quick
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import event_inference  # noqa: E402
from event_inference import STATS, interleaved  # noqa: E402
from peers import neuromorph_mlp  # noqa: E402
from step_time import make_batch, train_step  # noqa: E402

BASE = {"T": 25, "B": 32, "H": 128}
AXES = {"T": [5, 10, 25, 50, 100], "B": [1, 8, 32, 128, 512], "H": [64, 128, 256, 512, 1024]}


def with_native(enabled: bool, fn):
    def wrapped():
        previous = os.environ.get("NEUROMORPH_NATIVE")
        os.environ["NEUROMORPH_NATIVE"] = "1" if enabled else "0"
        try:
            fn()
        finally:
            if previous is None:
                del os.environ["NEUROMORPH_NATIVE"]
            else:
                os.environ["NEUROMORPH_NATIVE"] = previous
    return wrapped


def measure(T: int, B: int, H: int, rounds: int) -> dict[str, float]:
    x, y = make_batch(T, B)
    torch.manual_seed(0)
    net, run = neuromorph_mlp(H)

    def train():
        train_step(net, run, x, y)

    def infer():
        with torch.no_grad():
            run(x)
    fns = {"train_native": with_native(True, train), "train_torchops": with_native(False, train),
           "infer_native": with_native(True, infer), "infer_torchops": with_native(False, infer)}
    return {k: v * 1e3 for k, v in interleaved(fns, rounds).items()}


def plot(rows: list[dict], path: str, gap: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, axis in zip(axes, AXES):
        pts = [r for r in rows if r["axis"] == axis]
        xs = [r[axis] for r in pts]
        for key, style in (("train_native", "C0-o"), ("train_torchops", "C0--s"), ("infer_native", "C1-o"),
                           ("infer_torchops", "C1--s")):
            ax.plot(xs, [r[key] for r in pts], style, label=key.replace("_", ", ").replace("native", "compiled"))
        for kind, color in (("train", "C0"), ("infer", "C1")):
            split = next((r for r in pts if r[f"{kind}_torchops"] > gap * r[f"{kind}_native"]), None)
            if split is not None:
                ax.axvline(split[axis], color=color, alpha=0.35, linestyle=":")
                ax.annotate(f"{kind}: torch ops > {gap:g}x", (split[axis], split[f"{kind}_torchops"]),
                            fontsize=7, color=color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        others = ", ".join(f"{k}={v}" for k, v in BASE.items() if k != axis)
        ax.set_xlabel(f"{axis} ({others})")
        ax.set_ylabel("ms per step / pass")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)
    fig.suptitle("784-H-H-10 LIF MLP: cost vs T, B, H (compiled kernel vs torch-ops fallback)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--png", help="write the plot here")
    parser.add_argument("--json", help="write the table rows here")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per point (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--stat", choices=STATS, default="median", help="statistic of the interleaved samples")
    parser.add_argument("--gap", type=float, default=1.2, help="fallback/compiled ratio that marks the split")
    parser.add_argument("--quick", action="store_true", help="two points per axis, 2 rounds (smoke test)")
    args = parser.parse_args()
    if args.gap <= 1:
        parser.error(f"--gap must be > 1, got {args.gap}")
    torch.set_num_threads(args.threads)
    event_inference.STAT["name"] = args.stat
    axes = {k: v[:2] for k, v in AXES.items()} if args.quick else AXES
    rounds = 2 if args.quick else args.rounds
    print(f"torch {torch.__version__}, {args.threads} threads, {args.stat} of {rounds} interleaved rounds (ms)")
    print("| axis | T | B | H | train compiled | train torch-ops | ratio | infer compiled | infer torch-ops | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for axis, values in axes.items():
        for value in values:
            cfg = dict(BASE, **{axis: value})
            ms = measure(cfg["T"], cfg["B"], cfg["H"], rounds)
            row = {"axis": axis, **cfg, **ms}
            rows.append(row)
            print(f"| {axis} | {cfg['T']} | {cfg['B']} | {cfg['H']} | {ms['train_native']:.2f} | "
                  f"{ms['train_torchops']:.2f} | {ms['train_torchops'] / ms['train_native']:.2f}x | "
                  f"{ms['infer_native']:.2f} | {ms['infer_torchops']:.2f} | "
                  f"{ms['infer_torchops'] / ms['infer_native']:.2f}x |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if args.png:
        plot(rows, args.png, args.gap)
        print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
