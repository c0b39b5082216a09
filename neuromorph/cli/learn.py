"""``neuromorph learn``: online learning demos.

neuromorph learn online --dataset digits --steps 25 --epochs 10          # online vs BPTT accuracy
neuromorph learn online --dataset mnist --train-subset 20000 --epochs 3 --mode online
neuromorph learn cartpole --episodes 600                                  # three-factor SNN agent
neuromorph learn stdp --neurons 100 --epochs 2                            # STDP + WTA + readout
neuromorph learn flappy --env-steps 1000000 --seed 0 --json flappy.json   # single-lifetime Flappy Bird
neuromorph learn pong --env-steps 3000000 --seed 0 --json pong.json --resume
neuromorph learn pong --observation relative  # the six object features plus the ball's height above the paddle
neuromorph learn pong --observation ram       # the 128 RAM bytes instead of the six object features
"""

from __future__ import annotations

import argparse
from neuromorph.cli._args import non_negative_int, positive_int


def _run_online(args: argparse.Namespace) -> int:
    import torch

    from neuromorph.data import load_dataset
    from neuromorph.tasks.online_vs_bptt import compare_online_bptt

    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset).subset(args.train_subset, args.test_subset)
    modes = ("bptt", "online") if args.mode == "both" else (args.mode,)
    compare_online_bptt(
        data,
        args.hidden,
        args.steps,
        args.epochs,
        args.batch_size,
        args.lr,
        args.seed,
        modes,
        report=lambda line: print(line, flush=True),
    )
    return 0


def _run_cartpole(args: argparse.Namespace) -> int:
    import warnings

    import torch

    from neuromorph.tasks.cartpole import train_cartpole

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*CartPole-v0 is out of date.*")
    result = train_cartpole(
        episodes=args.episodes,
        seed=args.seed,
        sim_steps=args.sim_steps,
        hidden=args.hidden,
        target=args.target,
        env_id=args.env,
        verbose=True,
        stop_when_solved=not args.no_stop,
    )
    solved = f"episode {result.solved_at}" if result.solved_at else "not reached"
    print(
        f"{args.env}: target avg(100) >= {args.target}: {solved}; best avg(100) {result.best_avg100:.1f}; "
        f"episodes run {len(result.returns)} (budget {args.episodes}); {result.seconds:.0f}s"
    )
    return 0 if result.solved_at else 1


def _run_stdp(args: argparse.Namespace) -> int:
    import torch

    from neuromorph.tasks.stdp_digits import run_stdp_digits

    torch.set_num_threads(args.threads)
    res = run_stdp_digits(
        n_neurons=args.neurons,
        steps=args.steps,
        epochs=args.epochs,
        seed=args.seed,
        prune_fraction=args.prune,
        verbose=True,
    )
    print(
        f"STDP+WTA ({args.neurons} neurons, no labels) -> logistic readout test accuracy "
        f"{100 * res.readout_accuracy:.2f}% ({res.active_neurons} active neurons)"
    )
    if res.pruned_readout_accuracy is not None:
        print(
            f"after pruning {100 * args.prune:.0f}% of synapses by activity: {100 * res.pruned_readout_accuracy:.2f}%"
        )
    print(f"reference: logistic readout on raw pixels {100 * res.pixel_readout_accuracy:.2f}%  ({res.seconds:.0f}s)")
    return 0


# per-game defaults of the agent (docs/games.md)
GAME_DEFAULTS = {
    "flappy": {
        "hidden": 128,
        "n_pop": 10,
        "sim_steps": 6,
        "gamma": 0.99,
        "lam": 0.8,
        "kappa_actor": 1.5,
        "kappa_critic": 1.0,
        "entropy": 0.01,
        "entropy_half_life": 30_000,
        "action_repeat": 1,
    },
    "pong": {
        "hidden": 64,
        "n_pop": 4,
        "sim_steps": 1,
        "gamma": 0.99,
        "lam": 0.9,
        "kappa_actor": 3.0,
        "kappa_critic": 2.0,
        "entropy": 0.01,
        "entropy_half_life": 0,
        "action_repeat": 1,
    },
    "pong_objects": {
        "hidden": 128,
        "n_pop": 16,
        "sim_steps": 6,
        "gamma": 0.99,
        "lam": 0.9,
        "kappa_actor": 1.0,  # fifth screening round (docs/games.md): 1.0 / 0.75 ahead of 1.5 / 1.0 at 500k
        "kappa_critic": 0.75,
        "entropy": 0.01,
        "entropy_half_life": 0,
        "action_repeat": 1,
    },
}
GAME_DEFAULTS["pong_relative"] = dict(GAME_DEFAULTS["pong_objects"])  # the object view's settings, not retuned
# agent options whose default (AgentConfig's) is the same for every game; the --unit and --critic-features choices
# below repeat the agent's UNITS and CRITIC_FEATURES (importing the agent here would add scipy.linalg to every CLI
# call), and tests/games/test_cli_games.py keeps them equal
AGENT_OPTIONS = ("refresh_value", "critic_features")
# --observation of `neuromorph learn pong` -> the game (view) it plays
PONG_VIEWS = {"objects": "pong_objects", "relative": "pong_relative", "ram": "pong"}


def _run_game(args: argparse.Namespace) -> int:
    import os

    import numpy as np

    from neuromorph.tasks.games import random_policy_scores, run_lifetime
    from neuromorph.tasks.games.curves import save_run

    game = args.learn_mode
    if game == "pong":
        game = PONG_VIEWS[args.observation]
    out = args.out or os.path.join("runs", f"{game}_{args.policy}_{args.unit}_seed{args.seed}")
    json_path = args.json or os.path.join(out, "result.json")
    # options given for every game (AgentConfig's defaults otherwise), then the per-game ones
    agent_config = {name: getattr(args, name) for name in AGENT_OPTIONS if getattr(args, name) not in (None, False)}
    given = list(agent_config)
    agent_config["unit"] = args.unit
    for name, default in GAME_DEFAULTS[game].items():  # options not given take the game's (observation's) default
        agent_config[name] = default if getattr(args, name) is None else getattr(args, name)
    if args.policy == "random":
        given = [name for name in GAME_DEFAULTS[game] if getattr(args, name) is not None] + given
        if given:
            raise ValueError(f"--policy random has no agent to configure; drop {', '.join(given)}")
        agent_config = {}
    result = run_lifetime(
        game,
        args.env_steps,
        seed=args.seed,
        policy=args.policy,
        checkpoint=os.path.join(out, "checkpoint.npz"),
        resume=args.resume,
        checkpoint_every=args.checkpoint_every,
        agent_config=agent_config,
        show_progress=None if not args.progress else True,
    )
    random_level = None
    if args.random_episodes:
        random_level = float(np.mean(random_policy_scores(game, args.random_episodes, seed=10_000 + args.seed)))
    label = "random policy" if args.policy == "random" else f"{args.unit} agent"
    save_run(
        result,
        out,
        json_path,
        label,
        random_level,
        args.random_episodes,
        {"game": game, "policy": args.policy, "unit": args.unit},
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "learn",
        help="online learning: e-prop/OTTT, three-factor RL, STDP",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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

    games = []
    for game, title in (
        ("flappy", "Flappy Bird (FlappyBird-v0, 12 features)"),
        ("pong", "Pong (ALE/Pong-v5, object features from the RAM, or the 128 RAM bytes)"),
    ):
        sub = modes.add_parser(game, help=f"single-lifetime streaming actor-critic: {title}")
        sub.add_argument("--env-steps", type=positive_int, default=1_000_000 if game == "flappy" else 3_000_000)
        sub.add_argument("--json", default=None, help="result JSON (default OUT/result.json)")
        sub.add_argument(
            "--out",
            default=None,
            help="folder for checkpoint.npz, curve.png, curve.json (default runs/GAME_POLICY_UNIT_seedS)",
        )
        sub.add_argument("--resume", action="store_true", help="continue the lifetime from OUT/checkpoint.npz")
        sub.add_argument("--policy", choices=("agent", "random"), default="agent")
        sub.add_argument(
            "--unit",
            choices=("lif", "tanh", "relu"),
            default="lif",
            help="hidden units: spiking LIF, or non-spiking baselines with the same rule and size",
        )
        if game == "pong":
            sub.add_argument(
                "--observation",
                choices=tuple(PONG_VIEWS),
                default="objects",
                help="objects: ball and paddle positions and the ball's displacement, read from the RAM "
                "(six features); relative: the same plus ball_y - paddle_y (seven); ram: the 128 RAM bytes",
            )
        views = tuple(PONG_VIEWS.values()) if game == "pong" else (game,)
        for name, value in GAME_DEFAULTS[game].items():
            defaults = " / ".join(str(GAME_DEFAULTS[view][name]) for view in views)
            sub.add_argument(
                "--" + name.replace("_", "-"),
                type=(non_negative_int if name == "entropy_half_life" else positive_int)
                if isinstance(value, int)
                else float,
                default=None,
                help=f"default {defaults}" + (f" ({' / '.join(PONG_VIEWS)})" if game == "pong" else ""),
            )
        sub.add_argument(
            "--refresh-value",
            action="store_true",
            help="after each update, the critic's value of the current state uses the updated readout "
            "(StreamingActorCritic refresh_value; off by default)",
        )
        sub.add_argument(
            "--critic-features",
            choices=("learned", "fixed", "shared"),
            default=None,
            help="fixed: the critic population's input weights keep their random initialisation and only its "
            "value readout learns; shared: no critic population, the value readout reads the actor's units "
            "(StreamingActorCritic critic_features; default learned)",
        )
        sub.add_argument("--checkpoint-every", type=positive_int, default=50_000)
        sub.add_argument(
            "--random-episodes",
            type=int,
            default=100 if game == "flappy" else 10,
            help="episodes of a random policy measured for the curve's reference line (0: none)",
        )
        sub.add_argument("--progress", action="store_true", help="force the progress bar (default: on a terminal)")
        sub.set_defaults(func=_run_game)
        games.append(sub)

    for sub in (online, cart, stdp, *games):
        sub.add_argument("--seed", type=int, default=0)
        sub.add_argument("--threads", type=positive_int, default=1)
