"""``neuromorph learn``: online learning demos.

    neuromorph learn online --dataset digits --steps 25 --epochs 10          # online vs BPTT accuracy
    neuromorph learn online --dataset mnist --train-subset 20000 --epochs 3 --mode online
    neuromorph learn cartpole --episodes 600                                  # three-factor SNN agent
    neuromorph learn stdp --neurons 100 --epochs 2                            # STDP + WTA + readout
"""
from __future__ import annotations

import argparse
from neuromorph.cli._args import positive_int


def _run_online(args: argparse.Namespace) -> int:
    import torch

    from neuromorph.data import load_dataset
    from neuromorph.tasks.online_vs_bptt import compare_online_bptt

    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset).subset(args.train_subset, args.test_subset)
    modes = ("bptt", "online") if args.mode == "both" else (args.mode,)
    compare_online_bptt(data, args.hidden, args.steps, args.epochs, args.batch_size, args.lr, args.seed, modes,
                        report=lambda line: print(line, flush=True))
    return 0


def _run_cartpole(args: argparse.Namespace) -> int:
    import warnings

    import torch

    from neuromorph.tasks.cartpole import train_cartpole

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*CartPole-v0 is out of date.*")
    result = train_cartpole(episodes=args.episodes, seed=args.seed, sim_steps=args.sim_steps, hidden=args.hidden,
                            target=args.target, env_id=args.env, verbose=True,
                            stop_when_solved=not args.no_stop)
    solved = f"episode {result.solved_at}" if result.solved_at else "not reached"
    print(f"{args.env}: target avg(100) >= {args.target}: {solved}; best avg(100) {result.best_avg100:.1f}; "
          f"episodes run {len(result.returns)} (budget {args.episodes}); {result.seconds:.0f}s")
    return 0 if result.solved_at else 1


def _run_stdp(args: argparse.Namespace) -> int:
    import torch

    from neuromorph.tasks.stdp_digits import run_stdp_digits

    torch.set_num_threads(args.threads)
    res = run_stdp_digits(n_neurons=args.neurons, steps=args.steps, epochs=args.epochs, seed=args.seed,
                          prune_fraction=args.prune, verbose=True)
    print(f"STDP+WTA ({args.neurons} neurons, no labels) -> logistic readout test accuracy "
          f"{100 * res.readout_accuracy:.2f}% ({res.active_neurons} active neurons)")
    if res.pruned_readout_accuracy is not None:
        print(f"after pruning {100 * args.prune:.0f}% of synapses by activity: "
              f"{100 * res.pruned_readout_accuracy:.2f}%")
    print(f"reference: logistic readout on raw pixels {100 * res.pixel_readout_accuracy:.2f}%  "
          f"({res.seconds:.0f}s)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("learn", help="online learning: e-prop/OTTT, three-factor RL, STDP",
                                   description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="learn_mode", metavar="MODE", required=True)

    online = modes.add_parser("online", help="online (eligibility traces) vs BPTT on digits / MNIST")
    online.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
    online.add_argument("--mode", choices=("both", "online", "bptt"), default="both")
    online.add_argument("--steps", type=positive_int, default=25, help="time steps T of the rate code")
    online.add_argument("--hidden", type=positive_int, default=128)
    online.add_argument("--epochs", type=positive_int, default=10)
    online.add_argument("--batch-size", type=positive_int, default=64)
    online.add_argument("--lr", type=float, default=2e-3)
    online.add_argument("--train-subset", type=positive_int, default=None)
    online.add_argument("--test-subset", type=positive_int, default=None)
    online.set_defaults(func=_run_online)

    cart = modes.add_parser("cartpole", help="spiking actor-critic with three-factor eligibility traces")
    cart.add_argument("--episodes", type=positive_int, default=600, help="episode budget")
    cart.add_argument("--env", default="CartPole-v0")
    cart.add_argument("--target", type=float, default=195.0)
    cart.add_argument("--sim-steps", type=positive_int, default=6)
    cart.add_argument("--hidden", type=positive_int, default=64)
    cart.add_argument("--no-stop", action="store_true", help="keep training after reaching the target")
    cart.set_defaults(func=_run_cartpole)

    stdp = modes.add_parser("stdp", help="unsupervised STDP + winner-take-all on digits, linear readout")
    stdp.add_argument("--neurons", type=positive_int, default=100)
    stdp.add_argument("--steps", type=positive_int, default=30)
    stdp.add_argument("--epochs", type=positive_int, default=2)
    stdp.add_argument("--prune", type=float, default=0.5, help="fraction of synapses pruned by activity")
    stdp.set_defaults(func=_run_stdp)

    for sub in (online, cart, stdp):
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--threads", type=positive_int, default=1)
