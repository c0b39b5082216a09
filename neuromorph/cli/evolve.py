"""``neuromorph evolve``: evolve a spiking network genome by mutation, selection and pruning.

Example::

    python -m neuromorph evolve                          # digits 0-3, 100 generations, ~1 minute on 2 CPU cores
    python -m neuromorph evolve --task xor --generations 30

Tasks (see ``neuromorph.tasks.evolution_tasks.make_task``): ``digits`` — sklearn digits of classes 0-3, pooled to
4x4 and rate coded over 20 steps, 400 images for fitness and the remaining 320 for the test accuracy;
``xor`` — temporal XOR of two spike times. Prints the best fitness and accuracies, writes
``evolve_fitness.png`` (best and mean fitness per generation), ``evolve_size.png`` (hidden neurons and
synapses of the best genome), ``best_genome.json`` and ``evolve_results.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from neuromorph.evolution import EvolutionConfig, evolve
from neuromorph.tasks.evolution_tasks import make_task
from neuromorph.evolution import MutationConfig
from neuromorph.utils import seed_everything
from neuromorph.viz import plot_curves
from neuromorph.cli._args import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evolve",
        help="evolve a spiking network (mutation, (mu+lambda) selection, pruning)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", choices=("digits", "xor"), default="digits", help="task (default digits)")
    p.add_argument("--generations", type=positive_int, default=100, help="generations (default 100)")
    p.add_argument("--mu", type=positive_int, default=10, help="parents kept per generation (default 10)")
    p.add_argument("--lam", type=positive_int, default=30, help="children per generation (default 30)")
    p.add_argument(
        "--connect-prob",
        type=float,
        default=None,
        help="initial input->output connection probability (digits 1.0, xor 0.5)",
    )
    p.add_argument("--size-penalty", type=float, default=0.0, help="fitness penalty per enabled synapse")
    p.add_argument("--prune-eps", type=float, default=0.05, help="synapses with |w| below this are pruned")
    p.add_argument("--seed", type=int, default=0, help="random seed (the run is deterministic given it)")
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--out", type=Path, default=Path("runs/evolve"), help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    task = make_task(args.task, seed=args.seed)
    connect = args.connect_prob if args.connect_prob is not None else (1.0 if args.task == "digits" else 0.5)
    cfg = EvolutionConfig(
        mu=args.mu,
        lam=args.lam,
        generations=args.generations,
        size_penalty=args.size_penalty,
        prune_eps=args.prune_eps,
        connect_prob=connect,
        mutation=MutationConfig(),
    )
    t0 = time.perf_counter()
    res = evolve(task, cfg, seed=args.seed, show_progress=None)
    elapsed = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    fit_png = plot_curves(
        {"best": res.history["best"], "population mean": res.history["mean"]},
        args.out / "evolve_fitness.png",
        xlabel="generation",
        ylabel="fitness",
        title=f"Evolution on {args.task} (seed {args.seed})",
    )
    size_png = plot_curves(
        {"hidden neurons": res.history["hidden"], "synapses": res.history["synapses"]},
        args.out / "evolve_size.png",
        xlabel="generation",
        ylabel="count",
        title="Size of the best genome",
    )
    (args.out / "best_genome.json").write_text(json.dumps(res.best.to_dict()))
    hidden, synapses = res.best.size()
    summary = {
        "task": task.description,
        "generations": args.generations,
        "mu": args.mu,
        "lam": args.lam,
        "seed": args.seed,
        "best_fitness": res.best_fitness,
        "train_accuracy": res.train_accuracy,
        "test_accuracy": res.test_accuracy,
        "hidden_neurons": hidden,
        "synapses": synapses,
        "seconds": elapsed,
        "history": res.history,
    }
    (args.out / "evolve_results.json").write_text(json.dumps(summary, indent=1))
    print(f"task: {task.description}")
    print(
        f"best fitness {res.best_fitness:.4f}; train accuracy {res.train_accuracy:.4f}, "
        f"test accuracy {res.test_accuracy:.4f}; best genome: {hidden} hidden neurons, {synapses} synapses; "
        f"{elapsed:.1f} s"
    )
    print(f"saved {fit_png}, {size_png}, {args.out / 'best_genome.json'}")
    return 0
