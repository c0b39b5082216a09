"""``neuromorph train``: supervised training of a spiking model, optionally on N processes with PyTorch DDP.

Examples::

    python -m neuromorph train --model spikformer --dataset digits --epochs 20
    python -m neuromorph train --model spikformer --dataset text --epochs 30 --checkpoint-dir ckpt --resume
    python -m neuromorph train --model spikformer --dataset polarity --norm layer --dropout 0.1 --plot curve.png
    python -m neuromorph train --model mlp --dataset digits --nproc 2      # torchrun, gloo on CPU / nccl on GPU

With ``--nproc N`` (N > 1) the command re-launches itself as
``python -m torch.distributed.run --standalone --nnodes 1 --nproc_per_node N -m neuromorph train <same options>``
(``--nproc`` removed); each worker then joins the process group from torchrun's environment variables.

Fault tolerance: ``--max-restarts K`` (needs ``--checkpoint-dir``) is passed to torchrun, which restarts all
workers up to ``K`` times when one of them dies; a restarted worker (``TORCHELASTIC_RESTART_COUNT > 0``)
resumes from the newest good checkpoint as if ``--resume`` had been given, so the run continues where the last
completed epoch left it. ``--max-restarts`` also launches a single process (``--nproc 1``) under torchrun.

    python -m neuromorph train --model mlp --nproc 2 --max-restarts 3 --checkpoint-dir ckpt
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from neuromorph.training.trainer import DATASETS, MODELS
from neuromorph.utils import check_positive_int

# (flag, namespace attribute, argparse kwargs); the table also drives the argv rebuilt for torchrun.
_OPTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("--model", "model", {"default": "spikformer", "choices": MODELS}),
    (
        "--dataset",
        "dataset",
        {
            "default": "digits",
            "choices": DATASETS,
            "help": "newsgroups / polarity: 5 folds of train / validation / test (see --fold)",
        },
    ),
    ("--epochs", "epochs", {"type": int, "default": 10}),
    ("--batch-size", "batch_size", {"type": int, "default": 64, "help": "per process"}),
    ("--lr", "lr", {"type": float, "default": 1e-3}),
    ("--weight-decay", "weight_decay", {"type": float, "default": 0.01}),
    ("--seed", "seed", {"type": int, "default": 0}),
    ("--T", "T", {"type": int, "default": 4, "help": "time steps"}),
    (
        "--strategy",
        "strategy",
        {
            "default": "bptt",
            "choices": ("bptt", "online", "three_factor"),
            "help": "learning strategy (online/three_factor: the mlp model)",
        },
    ),
    ("--dim", "dim", {"type": int, "default": 64, "help": "spikformer width"}),
    ("--depth", "depth", {"type": int, "default": 2, "help": "spikformer blocks"}),
    ("--heads", "heads", {"type": int, "default": 4}),
    ("--mlp-ratio", "mlp_ratio", {"type": float, "default": 4.0}),
    ("--time-shifts", "time_shifts", {"default": None, "help": "comma-separated per-head delays, e.g. 0,1,2,3"}),
    ("--hidden", "hidden", {"type": int, "default": 128, "help": "mlp hidden width"}),
    ("--patch-size", "patch_size", {"type": int, "default": None}),
    (
        "--text-max-len",
        "text_max_len",
        {"type": int, "default": None, "help": "tokens per document (default 128; polarity 40)"},
    ),
    (
        "--norm",
        "norm",
        {"default": "batch", "choices": ("batch", "layer", "none"), "help": "transformer normalisation"},
    ),
    ("--dropout", "dropout", {"type": float, "default": 0.0, "help": "transformer dropout"}),
    (
        "--fold",
        "fold",
        {"type": int, "default": 0, "help": "newsgroups / polarity: test fold (0-4); validation is the next fold"},
    ),
    (
        "--input-noise",
        "input_noise",
        {"type": float, "default": 0.0, "help": "std of Gaussian noise added to float training inputs"},
    ),
    ("--limit-train", "limit_train", {"type": int, "default": None}),
    ("--limit-test", "limit_test", {"type": int, "default": None}),
    ("--checkpoint-dir", "checkpoint_dir", {"default": None}),
    ("--device", "device", {"default": "auto", "choices": ("auto", "cpu", "cuda")}),
    (
        "--stop-after",
        "stop_after",
        {"type": int, "default": None, "help": "stop this invocation after that many epochs (resume later)"},
    ),
    ("--threads", "threads", {"type": int, "default": None, "help": "torch.set_num_threads per process"}),
    ("--plot", "plot", {"default": None, "help": "PNG path for the training curve"}),
    ("--history-json", "history_json", {"default": None, "help": "write the per-epoch metrics as JSON"}),
]
_FLAGS: list[tuple[str, str, str]] = [
    ("--resume", "resume", "continue from the latest checkpoint in --checkpoint-dir"),
    ("--amp", "amp", "mixed precision (bf16 autocast on CPU, fp16 + GradScaler on CUDA)"),
    ("--no-progress", "no_progress", "hide the progress bar"),
]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a spiking model (optionally DDP with --nproc N)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for flag, dest, kwargs in _OPTIONS:
        p.add_argument(flag, dest=dest, **kwargs)
    for flag, dest, help_text in _FLAGS:
        p.add_argument(flag, dest=dest, action="store_true", help=help_text)
    p.add_argument("--nproc", type=int, default=1, help="processes; N > 1 relaunches under torchrun")
    p.add_argument(
        "--max-restarts",
        dest="max_restarts",
        type=int,
        default=0,
        help="torchrun restarts all workers up to this many times when one fails; restarted workers "
        "resume from the last checkpoint (needs --checkpoint-dir)",
    )
    p.set_defaults(func=run)


def parse_time_shifts(text: str | None) -> tuple[int, ...] | None:
    """``"0,1,2,3"`` -> ``(0, 1, 2, 3)``; None/empty -> None."""
    if text is None or text.strip() == "":
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as err:
        raise ValueError(f"--time-shifts must be comma-separated integers, got {text!r}") from err


def worker_argv(args: argparse.Namespace) -> list[str]:
    """The ``train`` arguments of ``args`` without ``--nproc`` (what each torchrun worker receives)."""
    argv = ["train"]
    for flag, dest, _ in _OPTIONS:
        value = getattr(args, dest)
        if value is not None:
            argv += [flag, str(value)]
    for flag, dest, _ in _FLAGS:
        if getattr(args, dest):
            argv.append(flag)
    return argv


def torchrun_command(args: argparse.Namespace) -> list[str]:
    """Command that runs ``args.nproc`` workers with torchrun (standalone rendezvous on a free port)."""
    restarts = getattr(args, "max_restarts", 0) or 0
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes",
        "1",
        "--nproc_per_node",
        str(args.nproc),
        "--max-restarts",
        str(restarts),
        "-m",
        "neuromorph",
        *worker_argv(args),
    ]


def restarted_by_torchrun() -> bool:
    """True inside a worker that torchrun started again after a failure (``TORCHELASTIC_RESTART_COUNT > 0``)."""
    raw = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0").strip() or "0"
    try:
        return int(raw) > 0
    except ValueError as err:
        raise ValueError(f"environment variable TORCHELASTIC_RESTART_COUNT must be an integer, got {raw!r}") from err


def _launch(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    if args.threads is None:
        env.setdefault("OMP_NUM_THREADS", "1")
    return subprocess.run(torchrun_command(args), env=env, check=False).returncode


def run(args: argparse.Namespace) -> int:
    check_positive_int("--nproc", args.nproc)
    max_restarts = getattr(args, "max_restarts", 0)
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
        raise ValueError(f"--max-restarts must be an int >= 0, got {max_restarts!r}")
    if max_restarts > 0 and not args.checkpoint_dir:
        print(
            "neuromorph train: error: --max-restarts needs --checkpoint-dir, so that restarted workers resume "
            "from the last checkpoint instead of starting over",
            file=sys.stderr,
        )
        return 2
    if args.nproc > 1 or max_restarts > 0:
        return _launch(args)
    if args.checkpoint_dir and not args.resume and restarted_by_torchrun():
        print(f"neuromorph train: restarted by torchrun; resuming from {args.checkpoint_dir}", file=sys.stderr)
        args.resume = True
    import torch

    from neuromorph.training import TrainConfig, save_training_curve, train

    try:
        if args.threads is not None:
            if args.threads < 1:
                raise ValueError(f"--threads must be a positive int, got {args.threads}")
            torch.set_num_threads(args.threads)
        cfg = TrainConfig(
            model=args.model,
            dataset=args.dataset,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=args.weight_decay,
            seed=args.seed,
            T=args.T,
            dim=args.dim,
            depth=args.depth,
            heads=args.heads,
            mlp_ratio=args.mlp_ratio,
            time_shifts=parse_time_shifts(args.time_shifts),
            hidden=args.hidden,
            patch_size=args.patch_size,
            text_max_len=args.text_max_len,
            input_noise=args.input_noise,
            norm=args.norm,
            dropout=args.dropout,
            fold=args.fold,
            limit_train=args.limit_train,
            limit_test=args.limit_test,
            checkpoint_dir=args.checkpoint_dir,
            resume=args.resume,
            amp=args.amp,
            device=args.device,
            stop_after=args.stop_after,
            strategy=args.strategy,
            show_progress=False if args.no_progress else None,
        )
        result = train(cfg)
    except ValueError as err:  # bad options or data: report like argparse does, without a traceback
        print(f"neuromorph train: error: {err}", file=sys.stderr)
        return 2
    try:
        if result.rank == 0:
            if result.history:
                print(
                    f"final test accuracy {result.final_test_accuracy:.4f} "
                    f"({args.model} on {args.dataset}, {result.world_size} process(es))"
                )
            if args.plot and result.history:
                save_training_curve(result.history, args.plot, title=f"{args.model} on {args.dataset}")
                print(f"wrote {args.plot}")
            if args.history_json:
                with open(args.history_json, "w", encoding="utf-8") as fh:
                    json.dump(result.history, fh, indent=1)
    finally:  # every rank gets here once train() returned, rank 0 after writing its outputs
        from neuromorph.training.ddp import cleanup

        cleanup(synchronize=True)
    if result.world_size > 1:  # a torchrun worker: skip the teardown that now and then aborts (ddp.exit_worker)
        from neuromorph.training.ddp import exit_worker

        exit_worker(0)
    return 0
