"""``neuromorph demo``: train a spiking MLP and a same-size ReLU MLP, compare them, save plots.

Example::

    python -m neuromorph demo                       # digits, about a minute on 2 CPU cores
    python -m neuromorph demo --dataset mnist --hidden 800 --steps 10 --epochs 12

On digits each model gets its own learning rate, picked from ``--lr-grid`` by accuracy on a validation split
(20 % of the training set, never the test set), and is then trained on the whole training set for ``--epochs``
(cosine schedule to zero). Prints a table (test accuracy, training time, mean spike rate) and which model wins,
and writes ``spike_raster.png``, ``accuracy.png``, ``firing_rates.png`` and ``results.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Optional, cast

import torch

from neuromorph.data import DATASETS, MNISTNotAvailableError, load_dataset
from neuromorph.encoding import rate_encode
from neuromorph.metrics import spike_rates
from neuromorph.models import FeedForwardMLP, SpikingMLP
from neuromorph.neurons import native
from neuromorph.training import fit
from neuromorph.utils import seed_everything
from neuromorph.viz import plot_curves, plot_raster, plot_rate_histogram
from neuromorph.cli._args import positive_int

ENCODINGS = ("direct", "rate")
# per-dataset defaults: epochs, hidden widths, time steps, learning rate, dropout
DEFAULTS = {
    "digits": dict(
        epochs=30, hidden=[128], steps=8, lr=None, lr_grid=[3e-4, 1e-3, 3e-3, 1e-2], dropout=0.0, batch_size=64
    ),
    "mnist": dict(epochs=12, hidden=[800], steps=10, lr=1e-3, lr_grid=None, dropout=0.2, batch_size=128),
}
VAL_FRACTION = 0.2


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="train an SNN and a same-size MLP on digits or MNIST and compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dataset", choices=DATASETS, default="digits", help="data set (default: digits)")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs (digits 30, mnist 12)")
    p.add_argument("--steps", type=positive_int, default=None, help="time steps T (digits 8, mnist 10)")
    p.add_argument(
        "--hidden", type=positive_int, nargs="+", default=None, help="hidden layer widths (digits 128, mnist 800)"
    )
    p.add_argument(
        "--encoding",
        choices=ENCODINGS,
        default="direct",
        help="input coding: constant input current (direct) or Bernoulli rate spikes",
    )
    p.add_argument(
        "--readout",
        choices=("membrane", "rate"),
        default="membrane",
        help="SNN output: time-mean of a leaky integrator membrane, or output spike counts",
    )
    p.add_argument("--beta", type=float, default=0.9, help="LIF membrane decay")
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="Adam learning rate for both models (default: digits picks each model's own from --lr-grid "
        "on a validation split of the training set; mnist 1e-3)",
    )
    p.add_argument(
        "--lr-grid",
        type=float,
        nargs="+",
        default=None,
        help="learning rates to choose from, per model, by validation accuracy",
    )
    p.add_argument("--dropout", type=float, default=None, help="dropout after hidden layers (digits 0, mnist 0.2)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="batch size (digits 64, mnist 128)")
    p.add_argument("--train-limit", type=positive_int, default=None, help="use only the first N training examples")
    p.add_argument("--test-limit", type=positive_int, default=None, help="use only the first N test examples")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="torch CPU threads (default 1: fastest for these small layers on a shared machine)",
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="folder for PNGs (default runs/demo)")
    p.set_defaults(func=run)


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    cfg: dict[str, Any] = dict(DEFAULTS[args.dataset])
    for key in ("epochs", "hidden", "steps", "lr", "dropout", "batch_size"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    if not 0.0 <= cfg["dropout"] < 1.0:
        raise SystemExit(f"--dropout must be in [0, 1), got {cfg['dropout']}")
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    try:
        data = load_dataset(args.dataset).subset(args.train_limit, args.test_limit)
    except MNISTNotAvailableError as err:
        print(f"error: {err}")
        return 1
    steps = cfg["steps"]
    sizes = [data.num_features, *cfg["hidden"], data.num_classes]
    print(
        f"dataset {args.dataset}: {data.x_train.shape[0]} train / {data.x_test.shape[0]} test, "
        f"network {'-'.join(map(str, sizes))}, T={steps}, encoding={args.encoding}, readout={args.readout}, "
        f"epochs={cfg['epochs']}, threads={torch.get_num_threads()}",
        flush=True,
    )

    encode: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    if args.encoding == "rate":
        gen = torch.Generator().manual_seed(args.seed)

        def encode(x: torch.Tensor) -> torch.Tensor:
            return rate_encode(x, steps, generator=gen)

    if args.lr_grid is not None:
        cfg["lr_grid"], cfg["lr"] = list(args.lr_grid), None
    if cfg["lr"] is None and not cfg["lr_grid"]:
        raise SystemExit("give --lr or --lr-grid")
    common = dict(epochs=cfg["epochs"], batch_size=cfg["batch_size"], seed=args.seed)
    builders = {
        "SNN": lambda: SpikingMLP(sizes, beta=args.beta, num_steps=steps, readout=args.readout, dropout=cfg["dropout"]),
        "MLP": lambda: FeedForwardMLP(sizes, dropout=cfg["dropout"]),
    }
    encodes = {"SNN": encode, "MLP": None}
    native.load()  # build the compiled kernel before any timing: a build is never counted as training time

    chosen: dict[str, float] = {}
    val_acc: dict[str, dict[float, float]] = {}
    if cfg["lr"] is not None:
        chosen = {name: cfg["lr"] for name in builders}
    else:  # each model's own learning rate, picked on a validation split of the training set (never the test set)
        perm = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(args.seed + 1))
        n_val = max(1, int(VAL_FRACTION * len(perm)))
        va, tr = perm[:n_val], perm[n_val:]
        for name, build in builders.items():
            val_acc[name] = {}
            for lr in cfg["lr_grid"]:
                torch.manual_seed(args.seed)
                res = fit(
                    build(),
                    (data.x_train[tr], data.y_train[tr]),
                    test=(data.x_train[va], data.y_train[va]),
                    encode=encodes[name],
                    lr=lr,
                    show_progress=False,
                    **common,
                )
                val_acc[name][lr] = res.final_test_accuracy
            chosen[name] = max(val_acc[name], key=lambda lr: (val_acc[name][lr], -lr))
            print(
                f"  {name}: validation accuracy by lr "
                + ", ".join(f"{lr:g}: {acc:.4f}" for lr, acc in val_acc[name].items())
                + f" -> lr {chosen[name]:g}",
                flush=True,
            )

    def report(name: str):
        def on_epoch(epoch: int, result) -> None:
            h = result.history[-1]
            if epoch == 0 or (epoch + 1) % 5 == 0 or epoch + 1 == cfg["epochs"]:
                print(
                    f"  {name} epoch {epoch + 1}/{cfg['epochs']}: loss {h['train_loss']:.4f} "
                    f"train {h['train_acc']:.4f} test {h['test_acc']:.4f} ({h['seconds']:.1f} s)",
                    flush=True,
                )

        return on_epoch

    results = {}
    for name, build in builders.items():
        torch.manual_seed(args.seed)
        model = build()
        results[name] = (
            model,
            fit(
                model,
                (data.x_train, data.y_train),
                test=(data.x_test, data.y_test),
                encode=encodes[name],
                lr=chosen[name],
                desc=name,
                on_epoch=report(name),
                **common,
            ),
        )
    snn_model, snn_hist = results["SNN"]
    snn = cast(SpikingMLP, snn_model)
    mlp, mlp_hist = results["MLP"]
    rates = spike_rates(snn, data.x_test, encode=encode)
    snn_acc = snn_hist.final_test_accuracy
    mlp_acc = mlp_hist.final_test_accuracy
    rows: list[tuple[str, ...]] = [
        ("model", "test accuracy", "train time (s)", "spike rate (spikes/neuron/step)"),
        (f"SNN (LIF, T={steps})", f"{snn_acc:.4f}", f"{snn_hist.train_time:.1f}", f"{rates['all']:.4f}"),
        ("MLP (ReLU)", f"{mlp_acc:.4f}", f"{mlp_hist.train_time:.1f}", "n/a"),
    ]
    gap = 100 * (snn_acc - mlp_acc)
    verdict = (
        "the SNN and the MLP tie"
        if abs(gap) < 0.5 / len(data.y_test) * 100
        else f"the {'SNN' if gap > 0 else 'MLP'} wins by {abs(gap):.2f} points"
    )
    print()
    print(_table(rows))
    print("per-layer spike rates: " + ", ".join(f"{k} {v:.4f}" for k, v in rates.items() if k != "all"))
    print(
        f"learning rates: SNN {chosen['SNN']:g}, MLP {chosen['MLP']:g} "
        f"({'picked on a validation split' if val_acc else 'given'}); on the test set {verdict}"
    )

    out: Path = args.out
    snn.record_spikes(True)
    with torch.no_grad():
        snn.eval()
        sample = data.x_test[:16]
        snn(encode(sample) if encode else sample)
    snn.record_spikes(False)
    raster = plot_raster(
        snn.recorder.spikes["lif0"],
        out / "spike_raster.png",
        sample=0,
        title=f"SNN hidden layer 1, test digit {int(data.y_test[0])}",
    )
    acc_plot = plot_curves(
        {
            "SNN test": snn_hist.series("test_acc"),
            "MLP test": mlp_hist.series("test_acc"),
            "SNN train": snn_hist.series("train_acc"),
            "MLP train": mlp_hist.series("train_acc"),
        },
        out / "accuracy.png",
        title=f"{args.dataset}: SNN vs same-size MLP",
    )
    snn(data.x_test[:512] if encode is None else encode(data.x_test[:512]))
    hist_plot = plot_rate_histogram(snn.neuron_rates(), out / "firing_rates.png")
    summary = {
        "dataset": args.dataset,
        "sizes": sizes,
        "steps": steps,
        "encoding": args.encoding,
        "readout": args.readout,
        "config": cfg,
        "seed": args.seed,
        "threads": torch.get_num_threads(),
        "learning_rates": chosen,
        "validation_accuracy_by_lr": {k: {str(lr): a for lr, a in v.items()} for k, v in val_acc.items()},
        "verdict": verdict,
        "snn": {
            "test_acc": snn_acc,
            "train_time_s": snn_hist.train_time,
            "spike_rates": rates,
            "test_acc_per_epoch": snn_hist.series("test_acc"),
        },
        "mlp": {
            "test_acc": mlp_acc,
            "train_time_s": mlp_hist.train_time,
            "test_acc_per_epoch": mlp_hist.series("test_acc"),
        },
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    print(f"saved {raster}, {acc_plot}, {hist_plot}, {out / 'results.json'}")
    return 0
